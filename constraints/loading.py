"""Load and validate a plan-file document (DOMAIN.md) into a typed `Plan`.

Every problem is collected with the field path and the offending value, and all of them are
raised together as one `PlanError`, so a workforce manager fixes a file in one pass. The loader
never lets a Python exception escape for JSON-ish input: wrong types are problems too.

Unknown keys inside terms, units, demand rows and lines are ignored; unknown top-level and
`params` keys are reported, because a misspelt `locked_lines` or `max_lines` would otherwise
be silently dropped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from constraints.limits import LIMITS
from constraints.plan import EXPERIENCES, KINDS, Demand, FixedLine, Params, Plan, Term, Unit
from constraints.rules import known_rule_sets

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
PARAM_KEYS = ("min_lines", "max_lines", "time_limit_s", "seed", "allow_shortfall", "deterministic")
MAX_SEED = 2**31 - 1  # CP-SAT's random_seed is a 32-bit int


class _Missing:
    def __repr__(self) -> str:
        return "(missing)"


MISSING: Any = _Missing()


@dataclass(frozen=True)
class Problem:
    field: str  # e.g. "demand[3].min"
    value: object  # the offending value (MISSING when the key is absent)
    message: str  # e.g. "must be >= 0"

    def __str__(self) -> str:
        shown = repr(self.value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        return _printable(f"{self.field}: {shown}: {self.message}")


def _printable(text: str) -> str:
    """One problem, one line: control characters from user data are shown escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class PlanError(Exception):
    """The plan cannot be solved as written; `.problems` lists every reason."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)


class _Problems:
    """Collects problems; the typed readers return None when the value is unusable."""

    def __init__(self) -> None:
        self.items: list[Problem] = []

    def add(self, field: str, value: object, message: str) -> None:
        self.items.append(Problem(field, value, message))

    def mapping(self, value: object, field: str) -> dict | None:
        if isinstance(value, dict):
            return value
        self.add(field, value, "must be an object" if value is not MISSING else "is required")
        return None

    def sequence(self, value: object, field: str, limit_name: str) -> list | None:
        if not isinstance(value, list):
            self.add(field, value, "must be a list" if value is not MISSING else "is required")
            return None
        limit = LIMITS[limit_name]
        if len(value) > limit:
            self.add(
                field,
                f"{len(value)} items",
                f"too many: the limit is {limit} {limit_name.replace('_', ' ')}",
            )
            return value[:limit]  # still validate the first `limit` items
        return value

    def integer(
        self, value: object, field: str, *, minimum: int | None = None, maximum: int | None = None
    ) -> int | None:
        if value is MISSING:
            self.add(field, value, "is required")
            return None
        # bool is an int subclass in Python but never a sensible count in a plan
        if isinstance(value, bool) or not isinstance(value, int):
            self.add(field, value, f"must be a whole number, not {_json_type(value)}")
            return None
        if minimum is not None and value < minimum:
            self.add(field, value, f"must be >= {minimum}")
            return None
        if maximum is not None and value > maximum:
            self.add(field, value, f"must be <= {maximum}")
            return None
        return value

    def text(self, value: object, field: str, *, default: str | None = None) -> str | None:
        if value is MISSING and default is not None:
            return default
        if value is MISSING:
            self.add(field, value, "is required")
            return None
        if not isinstance(value, str):
            self.add(field, value, f"must be a string, not {_json_type(value)}")
            return None
        if not value.strip():
            self.add(field, value, "must not be empty")
            return None
        if len(value) > LIMITS["text_length"]:
            self.add(field, value, f"too long: the limit is {LIMITS['text_length']} characters")
            return None
        return value

    def boolean(self, value: object, field: str, *, default: bool) -> bool | None:
        if value is MISSING:
            return default
        if not isinstance(value, bool):
            self.add(field, value, f"must be true or false, not {_json_type(value)}")
            return None
        return value


def _json_type(value: object) -> str:
    names = {bool: "a boolean", int: "a number", float: "a decimal number", str: "a string"}
    names |= {list: "a list", dict: "an object", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _key(key: object) -> str:
    """A user-supplied key as part of a field path: plain when it reads plainly, else quoted."""
    return key if isinstance(key, str) and (key.isidentifier() or key.isdigit()) else repr(key)


def _get(obj: dict, key: str) -> object:
    return obj.get(key, MISSING)


# --- sections ---------------------------------------------------------------------------


def _load_terms(raw: object, p: _Problems) -> list[Term] | None:
    items = p.sequence(raw, "terms", "terms")
    if items is None:
        return None
    if not items:
        p.add("terms", items, "must list at least one term")
        return None
    terms: list[Term] = []
    ok = True
    for i, item in enumerate(items):
        f = f"terms[{i}]"
        obj = p.mapping(item, f)
        if obj is None:
            ok = False
            continue
        ordinal = p.integer(_get(obj, "ordinal"), f"{f}.ordinal", minimum=1)
        weeks = p.integer(_get(obj, "weeks"), f"{f}.weeks", minimum=1, maximum=LIMITS["term_weeks"])
        name = p.text(_get(obj, "name"), f"{f}.name", default=f"Term {ordinal}")
        if ordinal is None or weeks is None or name is None:
            ok = False
            continue
        terms.append(Term(ordinal, name, weeks))
    if not ok:
        return None
    ordinals = sorted(t.ordinal for t in terms)
    if ordinals != list(range(1, len(terms) + 1)):
        p.add("terms", ordinals, f"ordinals must be 1..{len(terms)}, each exactly once")
        return None
    return sorted(terms, key=lambda t: t.ordinal)


def _load_units(raw: object, p: _Problems, max_term_weeks: int | None) -> list[Unit] | None:
    items = p.sequence(raw, "units", "units")
    if items is None:
        return None
    if not items:
        p.add("units", items, "must list at least one unit")
        return None
    units: list[Unit] = []
    seen: dict[str, int] = {}
    ok = True
    for i, item in enumerate(items):
        unit = _load_unit(item, f"units[{i}]", p, max_term_weeks)
        code = item.get("code") if isinstance(item, dict) else None
        if isinstance(code, str) and code in seen:
            p.add(
                f"units[{i}].code",
                code,
                f"duplicate unit code (also units[{seen[code]}])",
            )
            ok = False
            continue
        if isinstance(code, str):
            seen[code] = i
        if unit is None:
            ok = False
            continue
        units.append(unit)
    return units if ok else None


def _load_unit(item: object, f: str, p: _Problems, max_term_weeks: int | None) -> Unit | None:
    obj = p.mapping(item, f)
    if obj is None:
        return None
    before = len(p.items)
    code = p.text(_get(obj, "code"), f"{f}.code")
    name = p.text(_get(obj, "name"), f"{f}.name", default=code or "")
    specialty = p.text(_get(obj, "specialty"), f"{f}.specialty")
    subspecialty = p.text(_get(obj, "subspecialty"), f"{f}.subspecialty", default=specialty or "")
    experiences = _load_experiences(_get(obj, "experiences"), f"{f}.experiences", p)
    kind = _get(obj, "kind")
    if kind is MISSING:
        kind = "clinical"
    elif kind not in KINDS:
        p.add(f"{f}.kind", kind, f"unknown kind; use one of {', '.join(KINDS)}")
    nights = p.boolean(_get(obj, "nights"), f"{f}.nights", default=False)
    span = _get(obj, "span_terms")
    span_terms = 1 if span is MISSING else p.integer(span, f"{f}.span_terms", minimum=1)
    if span_terms is not None and span_terms not in (1, 2):
        p.add(f"{f}.span_terms", span_terms, "must be 1 or 2 (a six-month rotation)")
    leave = _get(obj, "leave_weeks")
    leave_weeks = 0 if leave is MISSING else p.integer(leave, f"{f}.leave_weeks", minimum=0)
    if leave_weeks and span_terms in (1, 2) and max_term_weeks is not None:
        longest = max_term_weeks * span_terms
        if leave_weeks > longest:
            p.add(
                f"{f}.leave_weeks", leave_weeks, f"exceeds the {longest} weeks the rotation lasts"
            )
    if len(p.items) > before:
        return None
    return Unit(
        code=code,
        name=name,
        specialty=specialty,
        subspecialty=subspecialty,
        experiences=experiences,
        kind=kind,
        nights=nights,
        span_terms=span_terms,
        leave_weeks=leave_weeks,
    )


def _load_experiences(raw: object, f: str, p: _Problems) -> frozenset[str]:
    if raw is MISSING:
        return frozenset()
    if not isinstance(raw, list):
        p.add(f, raw, "must be a list of categories A-D")
        return frozenset()
    for j, e in enumerate(raw):
        if e not in EXPERIENCES:
            p.add(f"{f}[{j}]", e, "unknown AMC experience category; use A, B, C or D")
    return frozenset(e for e in raw if e in EXPERIENCES)


def _load_demand(
    raw: object, p: _Problems, unit_by_code: dict[str, Unit] | None, term_count: int | None
) -> list[Demand] | None:
    items = p.sequence(raw, "demand", "demand_rows")
    if items is None:
        return None
    rows: list[Demand] = []
    seen: dict[tuple[str, int], int] = {}
    ok = True
    for i, item in enumerate(items):
        f = f"demand[{i}]"
        obj = p.mapping(item, f)
        if obj is None:
            ok = False
            continue
        before = len(p.items)
        unit = _unit_ref(_get(obj, "unit"), f"{f}.unit", p, unit_by_code)
        term = _term_ref(_get(obj, "term"), f"{f}.term", p, term_count)
        low = p.integer(_get(obj, "min"), f"{f}.min", minimum=0, maximum=LIMITS["lines"])
        high = p.integer(_get(obj, "max"), f"{f}.max", minimum=0, maximum=LIMITS["lines"])
        if low is not None and high is not None and low > high:
            p.add(f"{f}.min", low, f"must not exceed max ({high})")
        if unit is not None and term is not None:
            if (unit, term) in seen:
                p.add(
                    f,
                    f"{unit} term {term}",
                    f"duplicate demand row (also demand[{seen[unit, term]}])",
                )
            seen.setdefault((unit, term), i)
        if len(p.items) > before:
            ok = False
            continue
        rows.append(Demand(unit, term, low, high))
    return rows if ok else None


def _unit_ref(
    value: object, f: str, p: _Problems, unit_by_code: dict[str, Unit] | None
) -> str | None:
    code = p.text(value, f)
    if code is None or unit_by_code is None:
        return None
    if code not in unit_by_code:
        p.add(f, code, "unknown unit (not in units)")
        return None
    return code


def _term_ref(value: object, f: str, p: _Problems, term_count: int | None) -> int | None:
    """A term ordinal; plan files write them as JSON object keys, so "3" is accepted too."""
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    term = p.integer(value, f, minimum=1)
    if term is None or term_count is None:
        return None
    if term > term_count:
        p.add(f, term, f"no such term; terms are 1..{term_count}")
        return None
    return term


def _check_six_month_units(
    plan_units: list[Unit], demand: list[Demand], term_count: int, p: _Problems
) -> None:
    """A two-term unit must have two consecutive open terms; minimum demand needs a placement."""
    open_terms: dict[str, set[int]] = {}
    for d in demand:
        open_terms.setdefault(d.unit, set()).add(d.term)
    for i, unit in enumerate(plan_units):
        if unit.span_terms != 2 or unit.code not in open_terms:
            continue
        terms = open_terms[unit.code]
        starts = [t for t in terms if t + 1 in terms]
        if not starts:
            where = (
                "only in the last term" if terms == {term_count} else f"in terms {sorted(terms)}"
            )
            p.add(
                f"units[{i}].span_terms",
                2,
                f"{unit.code} is a six-month unit but is open {where}: "
                "it needs two consecutive open terms",
            )
    by_code = {u.code: u for u in plan_units}
    for i, d in enumerate(demand):
        unit = by_code[d.unit]
        terms = open_terms[d.unit]
        if (
            unit.span_terms == 2
            and d.min > 0
            and d.term - 1 not in terms
            and d.term + 1 not in terms
        ):
            p.add(
                f"demand[{i}].min",
                d.min,
                f"{d.unit} is a six-month unit and term {d.term} has no open neighbouring term, "
                "so this minimum can never be met",
            )


def _load_lines(
    raw: object,
    key: str,
    p: _Problems,
    unit_by_code: dict[str, Unit] | None,
    term_count: int | None,
    labels: dict[str, str],
) -> list[FixedLine] | None:
    if raw is MISSING:
        return []
    items = p.sequence(raw, key, "lines")
    if items is None:
        return None
    lines: list[FixedLine] = []
    ok = True
    for i, item in enumerate(items):
        f = f"{key}[{i}]"
        obj = p.mapping(item, f)
        if obj is None:
            ok = False
            continue
        before = len(p.items)
        label = p.text(_get(obj, "label"), f"{f}.label")
        if label is not None:
            if label in labels:
                p.add(f"{f}.label", label, f"duplicate label (also {labels[label]})")
            labels.setdefault(label, f)
        rotations = _load_rotations(
            _get(obj, "rotations"), f"{f}.rotations", p, unit_by_code, term_count
        )
        if len(p.items) > before or label is None or rotations is None:
            ok = False
            continue
        lines.append(FixedLine(label, rotations))
    return lines if ok else None


def _load_rotations(
    raw: object, f: str, p: _Problems, unit_by_code: dict[str, Unit] | None, term_count: int | None
) -> dict[int, str] | None:
    obj = p.mapping(raw, f)
    if obj is None:
        return None
    if not obj:
        p.add(f, obj, "must give at least one term's unit")
        return None
    rotations: dict[int, str] = {}
    for key, value in obj.items():
        where = f"{f}.{_key(key)}"
        term = _term_ref(key, where, p, term_count)
        code = _unit_ref(value, where, p, unit_by_code)
        if term is not None and code is not None:
            if term in rotations:
                p.add(where, value, f"term {term} is given twice")
            rotations[term] = code
    return rotations


def _check_locks(
    locked: list[FixedLine],
    plan_units: dict[str, Unit],
    demand: list[Demand],
    term_count: int,
    p: _Problems,
) -> None:
    """Locked rotations must sit on open unit-terms, and six-month units must be placeable."""
    is_open = {(d.unit, d.term) for d in demand}
    for i, line in enumerate(locked):
        f = f"locked_lines[{i}].rotations"
        for term, code in sorted(line.rotations.items()):
            if (code, term) not in is_open:
                p.add(f"{f}.{term}", code, f"{code} is closed in term {term} (no demand row)")
        for start, end, code in _runs(line.rotations):
            if plan_units[code].span_terms != 2 or (end - start + 1) % 2 == 0:
                continue
            # an odd run of a six-month unit must borrow one unlocked, open neighbouring term
            fits = any(
                1 <= t <= term_count and t not in line.rotations and (code, t) in is_open
                for t in (start - 1, end + 1)
            )
            if not fits:
                where = f"term {start}" if start == end else f"terms {start}-{end}"
                p.add(
                    f"{f}.{start}",
                    code,
                    f"{code} is a six-month unit locked in {where} but cannot fit: "
                    "no neighbouring term is free and open for its other half",
                )


def _runs(rotations: dict[int, str]) -> list[tuple[int, int, str]]:
    """Maximal runs of consecutive terms holding the same unit: (first, last, code)."""
    runs: list[tuple[int, int, str]] = []
    for term in sorted(rotations):
        code = rotations[term]
        if runs and runs[-1][1] == term - 1 and runs[-1][2] == code:
            runs[-1] = (runs[-1][0], term, code)
        else:
            runs.append((term, term, code))
    return runs


def _load_constraints(raw: object, p: _Problems) -> tuple[str, ...]:
    if raw is MISSING:
        return ()
    items = p.sequence(raw, "constraints", "constraints")
    if items is None:
        return ()
    known = known_rule_sets()
    names: list[str] = []
    for i, name in enumerate(items):
        f = f"constraints[{i}]"
        if not isinstance(name, str):
            p.add(f, name, f"must be a rule-set name (a string), not {_json_type(name)}")
        elif name not in known:
            p.add(f, name, f"unknown rule set; known rule sets are: {', '.join(known)}")
        elif name in names:
            p.add(f, name, "rule set listed twice")
        else:
            names.append(name)
    return tuple(names)


def _load_params(raw: object, p: _Problems) -> Params:
    if raw is MISSING or raw is None:
        return Params()
    obj = p.mapping(raw, "params")
    if obj is None:
        return Params()
    for key in obj:
        if key not in PARAM_KEYS:
            p.add(
                f"params.{_key(key)}",
                obj[key],
                f"unknown parameter; known: {', '.join(PARAM_KEYS)}",
            )
    lines_max = LIMITS["lines"]
    min_lines = _optional_int(obj, "min_lines", p, lines_max)
    max_lines = _optional_int(obj, "max_lines", p, lines_max)
    if min_lines is not None and max_lines is not None and min_lines > max_lines:
        p.add("params.min_lines", min_lines, f"must not exceed params.max_lines ({max_lines})")
    time_limit = _get(obj, "time_limit_s")
    time_limit_s = Params.time_limit_s
    if time_limit is not MISSING and time_limit is not None:
        limit = LIMITS["time_limit_s"]
        if isinstance(time_limit, bool) or not isinstance(time_limit, int | float):
            p.add(
                "params.time_limit_s",
                time_limit,
                f"must be a number of seconds, not {_json_type(time_limit)}",
            )
        elif not math.isfinite(time_limit) or time_limit <= 0:
            p.add("params.time_limit_s", time_limit, "must be a positive number of seconds")
        elif time_limit > limit:
            p.add("params.time_limit_s", time_limit, f"must be <= {limit} (the time limit's limit)")
        else:
            time_limit_s = float(time_limit)
    seed = _optional_int(obj, "seed", p, MAX_SEED)
    return Params(
        min_lines=min_lines,
        max_lines=max_lines,
        time_limit_s=time_limit_s,
        seed=seed if seed is not None else Params.seed,
        allow_shortfall=bool(
            p.boolean(_get(obj, "allow_shortfall"), "params.allow_shortfall", default=False)
        ),
        deterministic=bool(
            p.boolean(_get(obj, "deterministic"), "params.deterministic", default=True)
        ),
    )


def _optional_int(obj: dict, key: str, p: _Problems, maximum: int) -> int | None:
    value = _get(obj, key)
    if value is MISSING or value is None:
        return None
    return p.integer(value, f"params.{key}", minimum=0, maximum=maximum)


# --- entry points -------------------------------------------------------------------------


def load_plan(doc: dict) -> Plan:
    """The typed plan, or `PlanError` listing every problem of the document at once."""
    p = _Problems()
    if not isinstance(doc, dict):
        p.add("plan", doc, f"must be a JSON object, not {_json_type(doc)}")
        raise PlanError(p.items)
    for key in doc:
        if key not in TOP_LEVEL_KEYS:
            p.add(_key(key), doc[key], f"unknown key; a plan has {', '.join(TOP_LEVEL_KEYS)}")
    name = p.text(_get(doc, "name"), "name", default="Plan")
    terms = _load_terms(_get(doc, "terms"), p)
    max_weeks = max((t.weeks for t in terms), default=None) if terms else None
    units = _load_units(_get(doc, "units"), p, max_weeks)
    # Units and terms known so far let the rest be checked even when some units were bad.
    unit_by_code = {u.code: u for u in units} if units is not None else _codes_only(doc)
    term_count = len(terms) if terms is not None else None
    demand = _load_demand(_get(doc, "demand"), p, unit_by_code, term_count)
    labels: dict[str, str] = {}
    locked = _load_lines(
        _get(doc, "locked_lines"), "locked_lines", p, unit_by_code, term_count, labels
    )
    current = _load_lines(
        _get(doc, "current_lines"), "current_lines", p, unit_by_code, term_count, labels
    )
    constraints = _load_constraints(_get(doc, "constraints"), p)
    params = _load_params(_get(doc, "params"), p)
    if units is not None and demand is not None and terms is not None:
        _check_six_month_units(units, demand, len(terms), p)
        if locked is not None:
            _check_locks(locked, unit_by_code, demand, len(terms), p)
    if p.items:
        raise PlanError(p.items)
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
    codes = {u.get("code") for u in units if isinstance(u, dict) and isinstance(u.get("code"), str)}
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
