"""The plan: what one allocation round holds (terms, units, demand, locks), as typed values.

Built by `constraints.loading.load_plan` from the plan-file document of DOMAIN.md; everything
else in the engine reads these immutable objects and never the raw JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

Kind = Literal["clinical", "non_clinical", "service", "leave"]
KINDS: tuple[str, ...] = ("clinical", "non_clinical", "service", "leave")
EXPERIENCES: tuple[str, ...] = ("A", "B", "C", "D")
EXPERIENCE_NAMES = {
    "A": "undifferentiated illness",
    "B": "chronic illness",
    "C": "acute and critical illness",
    "D": "peri-operative/procedural",
}


@dataclass(frozen=True)
class Term:
    ordinal: int  # 1..T
    name: str
    weeks: int


@dataclass(frozen=True)
class Unit:
    code: str
    name: str
    specialty: str
    subspecialty: str
    experiences: frozenset[str]
    kind: Kind
    nights: bool = False
    span_terms: int = 1  # 2 = a six-month rotation over two consecutive terms
    leave_weeks: int = 0

    @property
    def is_service_or_nights(self) -> bool:
        """Counts toward the fairness objective (a rotation that is both counts once)."""
        return self.kind == "service" or self.nights


@dataclass(frozen=True)
class Demand:
    unit: str
    term: int
    min: int
    max: int


@dataclass(frozen=True)
class FixedLine:
    """A locked line (possibly partial: only some terms fixed) or a current line."""

    label: str
    rotations: dict[int, str]  # term ordinal -> unit code


@dataclass(frozen=True)
class Params:
    min_lines: int | None = None
    max_lines: int | None = None
    time_limit_s: float = 30.0
    seed: int = 0
    allow_shortfall: bool = False
    deterministic: bool = True


@dataclass(frozen=True)
class Plan:
    name: str
    terms: tuple[Term, ...]
    units: tuple[Unit, ...]
    demand: tuple[Demand, ...]
    locked_lines: tuple[FixedLine, ...] = ()
    current_lines: tuple[FixedLine, ...] = ()
    constraints: tuple[str, ...] = ()
    params: Params = field(default_factory=Params)

    @property
    def term_count(self) -> int:
        return len(self.terms)

    @property
    def ordinals(self) -> range:
        return range(1, len(self.terms) + 1)

    @cached_property
    def total_weeks(self) -> int:
        return sum(t.weeks for t in self.terms)

    @cached_property
    def unit_by_code(self) -> dict[str, Unit]:
        return {u.code: u for u in self.units}

    @cached_property
    def demand_by_key(self) -> dict[tuple[str, int], Demand]:
        return {(d.unit, d.term): d for d in self.demand}

    def is_open(self, unit_code: str, term: int) -> bool:
        """A unit with no demand row for a term is closed in that term."""
        return (unit_code, term) in self.demand_by_key

    def weeks_of(self, terms: tuple[int, ...]) -> int:
        return sum(self.terms[t - 1].weeks for t in terms)
