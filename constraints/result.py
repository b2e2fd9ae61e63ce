"""What a solve returns, and its solution-file JSON (design.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from constraints.solution import Objective, Shortfall, SolutionLine

Status = Literal["OPTIMAL", "FEASIBLE", "INFEASIBLE", "TIMEOUT", "CANCELLED"]


@dataclass
class SolveResult:
    status: Status
    lines: list[SolutionLine] = field(default_factory=list)
    objective: Objective = field(default_factory=Objective)
    bound: dict[str, int] = field(default_factory=dict)  # proven lower bound per stage
    explanation: list[str] = field(default_factory=list)
    statistics: dict = field(default_factory=dict)  # "timing" holds every wall-clock figure
    # stability's line pairing, new line label -> current line label (unpaired: absent)
    pairing: dict[str, str] = field(default_factory=dict)

    @property
    def shortfall(self) -> list[Shortfall]:
        return list(self.objective.shortfall_detail)

    def to_json(self) -> dict:
        return {
            "status": self.status,
            "lines": [ln.to_json() for ln in self.lines],
            "objective": self.objective.to_json(),
            "bound": dict(self.bound),
            "explanation": list(self.explanation),
            "shortfall": [
                {"unit": s.unit, "term": s.term, "missing": s.missing} for s in self.shortfall
            ],
            "statistics": self.statistics,
            "pairing": dict(self.pairing),
        }

    def deterministic_json(self) -> dict:
        """to_json() without wall-clock figures: what determinism promises to repeat."""
        doc = self.to_json()
        doc["statistics"] = {k: v for k, v in self.statistics.items() if k != "timing"}
        return doc
