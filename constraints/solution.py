"""Lines as the engine hands them out, and the objective components of DOMAIN.md."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

LineSource = Literal["locked", "partial", "new"]


@dataclass(frozen=True)
class SolutionLine:
    label: str
    rotations: dict[int, str]  # term ordinal -> unit code, every term of the plan
    locked_terms: frozenset[int] = frozenset()
    source: LineSource = "new"

    def to_json(self) -> dict:
        return {
            "label": self.label,
            "rotations": {str(t): self.rotations[t] for t in sorted(self.rotations)},
            "locked_terms": sorted(self.locked_terms),
            "source": self.source,
        }

    @classmethod
    def from_json(cls, doc: dict) -> SolutionLine:
        return cls(
            label=str(doc["label"]),
            rotations={int(t): str(u) for t, u in doc["rotations"].items()},
            locked_terms=frozenset(int(t) for t in doc.get("locked_terms", ())),
            source=doc.get("source", "new"),
        )


@dataclass(frozen=True)
class Shortfall:
    unit: str
    term: int
    missing: int


@dataclass(frozen=True)
class Objective:
    """DOMAIN.md's priorities 1-4, in order; lower is better for each."""

    shortfall: int = 0  # total missing minimum demand (only with allow_shortfall)
    lines: int = 0
    max_service_nights: int = 0  # largest count of service-or-nights rotations on one line
    changed_rotations: int = 0  # against the current lines, optimally paired
    shortfall_detail: tuple[Shortfall, ...] = field(default=())

    def to_json(self) -> dict:
        return {
            "shortfall": self.shortfall,
            "lines": self.lines,
            "max_service_nights": self.max_service_nights,
            "changed_rotations": self.changed_rotations,
        }
