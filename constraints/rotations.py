"""Rotations: a line is one unit per term; a rotation is one placement of a unit on a line.

A six-month unit (`span_terms = 2`) is ONE rotation occupying two consecutive terms, so rule
sets count rotations, not terms. A line is read left to right: a two-term unit in term t
occupies t and t+1, which makes the reading unique.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from constraints.plan import Plan, Unit


@dataclass(frozen=True)
class Rotation:
    unit: Unit
    start: int  # first term ordinal
    terms: tuple[int, ...]  # every term it occupies
    weeks: int  # weeks of those terms

    @property
    def worked_weeks(self) -> int:
        """Weeks of its terms less leave taken inside it; a `leave` unit works none."""
        if self.unit.kind == "leave":
            return 0
        return max(self.weeks - self.unit.leave_weeks, 0)

    @property
    def service_weeks(self) -> int:
        return self.weeks if self.unit.kind == "service" else 0

    def describe(self) -> str:
        if len(self.terms) == 1:
            return f"{self.unit.code} (term {self.start})"
        return f"{self.unit.code} (terms {self.start}-{self.terms[-1]})"


def make_rotation(plan: Plan, unit: Unit, start: int) -> Rotation:
    terms = tuple(range(start, start + unit.span_terms))
    return Rotation(unit=unit, start=start, terms=terms, weeks=plan.weeks_of(terms))


def candidate_rotations(plan: Plan) -> Iterator[Rotation]:
    """Every placement the plan allows: the unit is open in each term it would occupy."""
    for unit in plan.units:
        for start in plan.ordinals:
            terms = range(start, start + unit.span_terms)
            if terms[-1] <= plan.term_count and all(plan.is_open(unit.code, t) for t in terms):
                yield make_rotation(plan, unit, start)


class LineShapeError(ValueError):
    """The line is not one known unit per term with six-month units on consecutive terms."""


def read_line(plan: Plan, units_by_term: Mapping[int, str]) -> list[Rotation]:
    """Split a full line (term -> unit code) into rotations; raise LineShapeError if malformed."""
    rotations: list[Rotation] = []
    term = 1
    while term <= plan.term_count:
        code = units_by_term.get(term)
        if code is None:
            raise LineShapeError(f"term {term} has no unit")
        unit = plan.unit_by_code.get(code)
        if unit is None:
            raise LineShapeError(f"term {term} names unknown unit {code!r}")
        if unit.span_terms == 2 and units_by_term.get(term + 1) != code:
            raise LineShapeError(
                f"{code} is a six-month unit but occupies term {term} without term {term + 1}"
            )
        rotation = make_rotation(plan, unit, term)
        rotations.append(rotation)
        term += len(rotation.terms)
    extra = sorted(t for t in units_by_term if not 1 <= t <= plan.term_count)
    if extra:
        raise LineShapeError(f"terms {extra} are outside 1..{plan.term_count}")
    return rotations
