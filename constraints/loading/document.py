"""The whole plan-file document: `load_plan` reads every section, `plan_to_doc` writes one."""

from __future__ import annotations

from constraints.loading.lines import load_lines
from constraints.loading.params import load_constraints, load_params
from constraints.loading.problems import PlanError, Problems, field_key, given, json_type
from constraints.loading.terms_units_demand import load_demand, load_terms, load_units
from constraints.plan import FixedLine, Plan, Unit

TOP_LEVEL_KEYS = (
    "name",
    "terms",
    "units",
    "demand",
    "locked_lines",
    "current_lines",
    "constraints",
    "params",
)


def load_plan(doc: dict) -> Plan:
    """The typed plan, or `PlanError` listing every problem of the document at once."""
    p = Problems()
    if not isinstance(doc, dict):
        p.add("plan", doc, f"must be a JSON object, not {json_type(doc)}")
        raise PlanError(p.items)
    for key in doc:
        if key not in TOP_LEVEL_KEYS:
            p.add(field_key(key), doc[key], f"unknown key; a plan has {', '.join(TOP_LEVEL_KEYS)}")
    name = p.text(given(doc, "name"), "name", default="Plan")
    terms = load_terms(given(doc, "terms"), p)
    max_weeks = max((t.weeks for t in terms), default=None) if terms else None
    units = load_units(given(doc, "units"), p, max_weeks)
    # Units and terms known so far let the rest be checked even when some units were bad.
    unit_by_code = {u.code: u for u in units} if units is not None else _codes_only(doc)
    term_count = len(terms) if terms is not None else None
    demand = load_demand(given(doc, "demand"), p, unit_by_code, term_count)
    labels: dict[str, str] = {}
    locked = load_lines(
        given(doc, "locked_lines"), "locked_lines", p, unit_by_code, term_count, labels
    )
    current = load_lines(
        given(doc, "current_lines"), "current_lines", p, unit_by_code, term_count, labels
    )
    constraints = load_constraints(given(doc, "constraints"), p)
    params = load_params(given(doc, "params"), p)
    if p.items:
        raise PlanError(p.items)
    # without problems every section loaded (a section is None only with a problem)
    assert name is not None and terms is not None and units is not None
    assert demand is not None and locked is not None and current is not None
    return Plan(
        name=name,
        terms=tuple(terms),
        units=tuple(units),
        demand=tuple(demand),
        locked_lines=tuple(locked),
        current_lines=tuple(current),
        constraints=constraints,
        params=params,
    )


def _codes_only(doc: dict) -> dict[str, Unit] | None:
    """When some units are malformed, still recognise the codes that are there.

    Returns None (skip unknown-unit checks) when even the list is unreadable, so one broken
    `units` does not drown the report in "unknown unit" lines.
    """
    units = doc.get("units")
    if not isinstance(units, list):
        return None
    codes = {u["code"] for u in units if isinstance(u, dict) and isinstance(u.get("code"), str)}
    placeholder = Unit("?", "?", "?", "?", frozenset(), "clinical")
    return {c: placeholder for c in codes}


def plan_to_doc(plan: Plan) -> dict:
    """The plan-file document of a plan (the inverse of `load_plan`)."""
    params = plan.params
    return {
        "name": plan.name,
        "terms": [{"ordinal": t.ordinal, "name": t.name, "weeks": t.weeks} for t in plan.terms],
        "units": [
            {
                "code": u.code,
                "name": u.name,
                "specialty": u.specialty,
                "subspecialty": u.subspecialty,
                "experiences": sorted(u.experiences),
                "kind": u.kind,
                "nights": u.nights,
                "span_terms": u.span_terms,
                "leave_weeks": u.leave_weeks,
            }
            for u in plan.units
        ],
        "demand": [
            {"unit": d.unit, "term": d.term, "min": d.min, "max": d.max} for d in plan.demand
        ],
        "locked_lines": [_line_doc(line) for line in plan.locked_lines],
        "current_lines": [_line_doc(line) for line in plan.current_lines],
        "constraints": list(plan.constraints),
        "params": {
            "min_lines": params.min_lines,
            "max_lines": params.max_lines,
            "time_limit_s": params.time_limit_s,
            "seed": params.seed,
            "allow_shortfall": params.allow_shortfall,
            "deterministic": params.deterministic,
        },
    }


def _line_doc(line: FixedLine) -> dict:
    return {
        "label": line.label,
        "rotations": {str(t): line.rotations[t] for t in sorted(line.rotations)},
    }
