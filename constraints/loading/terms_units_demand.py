"""The core sections: terms, units and the demand for each unit-term, plus references to them."""

from __future__ import annotations

from typing import cast

from constraints.limits import LIMITS
from constraints.loading.problems import MISSING, Problems, given
from constraints.plan import EXPERIENCES, KINDS, Demand, Kind, Term, Unit


def load_terms(raw: object, p: Problems) -> list[Term] | None:
    items = _nonempty_section(raw, "terms", "term", p)
    if items is None:
        return None
    terms = p.each(items, "terms", _load_term)
    if terms is None:
        return None
    ordinals = sorted(t.ordinal for t in terms)
    if ordinals != list(range(1, len(terms) + 1)):
        p.add("terms", ordinals, f"ordinals must be 1..{len(terms)}, each exactly once")
        return None
    return sorted(terms, key=lambda t: t.ordinal)


def _nonempty_section(raw: object, key: str, noun: str, p: Problems) -> list | None:
    """A list section a plan cannot do without (its limit is named like the section)."""
    items = p.sequence(raw, key, key)
    if items is not None and not items:
        p.add(key, items, f"must list at least one {noun}")
        return None
    return items


def _load_term(obj: dict, f: str, p: Problems) -> Term | None:
    ordinal = p.integer(given(obj, "ordinal"), f"{f}.ordinal", minimum=1)
    weeks = p.integer(given(obj, "weeks"), f"{f}.weeks", minimum=1, maximum=LIMITS["term_weeks"])
    name = p.text(given(obj, "name"), f"{f}.name", default=f"Term {ordinal}")
    if ordinal is None or weeks is None or name is None:
        return None
    return Term(ordinal, name, weeks)


def load_units(raw: object, p: Problems, max_term_weeks: int | None) -> list[Unit] | None:
    items = _nonempty_section(raw, "units", "unit", p)
    if items is None:
        return None
    first_with_code: dict[str, str] = {}

    def load_unique_unit(obj: dict, f: str, p: Problems) -> Unit | None:
        unit = _load_unit(obj, f, p, max_term_weeks)
        code = obj.get("code")
        if isinstance(code, str):
            if code in first_with_code:
                p.add(f"{f}.code", code, f"duplicate unit code (also {first_with_code[code]})")
                return None
            first_with_code[code] = f
        return unit

    return p.each(items, "units", load_unique_unit)


def _load_unit(obj: dict, f: str, p: Problems, max_term_weeks: int | None) -> Unit | None:
    before = len(p.items)
    code = p.text(given(obj, "code"), f"{f}.code")
    name = p.text(given(obj, "name"), f"{f}.name", default=code or "")
    specialty = p.text(given(obj, "specialty"), f"{f}.specialty")
    subspecialty = p.text(given(obj, "subspecialty"), f"{f}.subspecialty", default=specialty or "")
    experiences = _load_experiences(given(obj, "experiences"), f"{f}.experiences", p)
    kind = given(obj, "kind")
    if kind is MISSING:
        kind = "clinical"
    elif kind not in KINDS:
        p.add(f"{f}.kind", kind, f"unknown kind; use one of {', '.join(KINDS)}")
    nights = p.boolean(given(obj, "nights"), f"{f}.nights", default=False)
    span = given(obj, "span_terms")
    span_terms = 1 if span is MISSING else p.integer(span, f"{f}.span_terms", minimum=1)
    if span_terms is not None and span_terms not in (1, 2):
        p.add(f"{f}.span_terms", span_terms, "must be 1 or 2 (a six-month rotation)")
    leave = given(obj, "leave_weeks")
    leave_weeks = 0 if leave is MISSING else p.integer(leave, f"{f}.leave_weeks", minimum=0)
    if leave_weeks and span_terms in (1, 2) and max_term_weeks is not None:
        longest = max_term_weeks * span_terms
        if leave_weeks > longest:
            p.add(
                f"{f}.leave_weeks", leave_weeks, f"exceeds the {longest} weeks the rotation lasts"
            )
    if len(p.items) > before:
        return None
    # no problem was added, so every reader returned a value (None only with a problem)
    if code is None or name is None or specialty is None or subspecialty is None:
        return None
    if nights is None or span_terms is None or leave_weeks is None:
        return None
    return Unit(
        code=code,
        name=name,
        specialty=specialty,
        subspecialty=subspecialty,
        experiences=experiences,
        kind=cast(Kind, kind),  # checked against KINDS above
        nights=nights,
        span_terms=span_terms,
        leave_weeks=leave_weeks,
    )


def _load_experiences(raw: object, f: str, p: Problems) -> frozenset[str]:
    if raw is MISSING:
        return frozenset()
    if not isinstance(raw, list):
        p.add(f, raw, "must be a list of categories A-D")
        return frozenset()
    for j, e in enumerate(raw):
        if e not in EXPERIENCES:
            p.add(f"{f}[{j}]", e, "unknown AMC experience category; use A, B, C or D")
    return frozenset(e for e in raw if e in EXPERIENCES)


def load_demand(
    raw: object, p: Problems, unit_by_code: dict[str, Unit] | None, term_count: int | None
) -> list[Demand] | None:
    items = p.sequence(raw, "demand", "demand_rows")
    if items is None:
        return None
    first_row: dict[tuple[str, int], str] = {}

    def load_row(obj: dict, f: str, p: Problems) -> Demand | None:
        unit = unit_ref(given(obj, "unit"), f"{f}.unit", p, unit_by_code)
        term = term_ref(given(obj, "term"), f"{f}.term", p, term_count)
        low = p.integer(given(obj, "min"), f"{f}.min", minimum=0, maximum=LIMITS["lines"])
        high = p.integer(given(obj, "max"), f"{f}.max", minimum=0, maximum=LIMITS["lines"])
        if low is not None and high is not None and low > high:
            p.add(f"{f}.min", low, f"must not exceed max ({high})")
        if unit is not None and term is not None:
            if (unit, term) in first_row:
                p.add(
                    f,
                    f"{unit} term {term}",
                    f"duplicate demand row (also {first_row[unit, term]})",
                )
            first_row.setdefault((unit, term), f)
        if unit is None or term is None or low is None or high is None:
            return None  # a problem was added for it
        return Demand(unit, term, low, high)  # dropped by `each` if any problem was added

    return p.each(items, "demand", load_row)


def unit_ref(
    value: object, f: str, p: Problems, unit_by_code: dict[str, Unit] | None
) -> str | None:
    code = p.text(value, f)
    if code is None or unit_by_code is None:
        return None
    if code not in unit_by_code:
        p.add(f, code, "unknown unit (not in units)")
        return None
    return code


def term_ref(value: object, f: str, p: Problems, term_count: int | None) -> int | None:
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
