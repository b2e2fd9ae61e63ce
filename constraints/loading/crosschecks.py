"""Checks across sections, once each section loaded: six-month units that cannot be placed,
and locks on closed unit-terms."""

from __future__ import annotations

from constraints.loading.problems import Problems
from constraints.plan import Demand, FixedLine, Unit


def check_six_month_units(
    plan_units: list[Unit], demand: list[Demand], term_count: int, p: Problems
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


def check_locks(
    locked: list[FixedLine],
    plan_units: dict[str, Unit],
    demand: list[Demand],
    term_count: int,
    p: Problems,
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
