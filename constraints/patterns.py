"""Line patterns and the plan facts the pattern-based solver needs.

Lines are interchangeable, so the solver never models line slots: it counts how many lines
follow each PATTERN (one unit code per term). `Context` precomputes, once per solve, what
every stage reads: the selected clauses, candidate rotations, demand rows net of fully
locked lines, the partially locked line classes and the current lines grouped by pattern.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import cached_property

from constraints.plan import FixedLine, Plan
from constraints.rotations import LineShapeError, Rotation, candidate_rotations, read_line
from constraints.rules import Clause, get_rule_set

Pattern = tuple[str, ...]  # unit code per term, index t-1; a six-month unit appears twice
Lock = tuple[tuple[int, str], ...]  # sorted (term, unit code) pairs of a partial line


def matches(p: Pattern, q: tuple[str | None, ...]) -> int:
    """Terms where two lines take the same unit (T - Hamming distance)."""
    return sum(a == b for a, b in zip(p, q, strict=True))


@dataclass(frozen=True)
class PartialClass:
    """Partially locked lines with identical locks: interchangeable, so counted together."""

    lock: Lock
    labels: tuple[str, ...]

    @property
    def count(self) -> int:
        return len(self.labels)


class Context:
    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.T = plan.term_count
        self.clauses: list[Clause] = [
            c for name in plan.constraints for c in get_rule_set(name).clauses_for(plan)
        ]
        full = [ln for ln in plan.locked_lines if len(ln.rotations) == self.T]
        partial = [ln for ln in plan.locked_lines if len(ln.rotations) < self.T]
        self.full_locked: list[FixedLine] = sorted(full, key=lambda ln: ln.label)
        groups: dict[Lock, list[str]] = {}
        for ln in partial:
            groups.setdefault(tuple(sorted(ln.rotations.items())), []).append(ln.label)
        self.classes = [PartialClass(k, tuple(sorted(v))) for k, v in sorted(groups.items())]
        # Demand net of fully locked lines (constants).
        self.locked_usage: Counter[tuple[str, int]] = Counter(
            (u, t) for ln in full for t, u in ln.rotations.items()
        )
        self.rows = sorted(plan.demand_by_key)  # (unit, term)
        self.lo = {k: plan.demand_by_key[k].min - self.locked_usage[k] for k in self.rows}
        self.hi = {k: plan.demand_by_key[k].max - self.locked_usage[k] for k in self.rows}
        fixed = len(full) + sum(c.count for c in self.classes)
        self.fixed_lines = fixed
        p = plan.params
        self.min_generic = max((p.min_lines or 0) - fixed, 0)
        self.max_generic = (
            p.max_lines - fixed
            if p.max_lines is not None
            else max(sum(self.hi[k] for k in self.rows if k[1] == t) for t in plan.ordinals)
        )
        current = Counter(
            tuple(ln.rotations.get(t) for t in plan.ordinals) for ln in plan.current_lines
        )
        self.current: list[tuple[tuple[str | None, ...], int]] = sorted(
            current.items(), key=lambda kv: tuple(u or "" for u in kv[0])
        )
        self.current_count = len(plan.current_lines)
        self.six_month = frozenset(u.code for u in plan.units if u.span_terms == 2)
        self._loads: dict[Pattern, int] = {}

    def least_generic_lines(self, shortfall: int = 0) -> int:
        """Generic lines any plan needs, by counting: a line takes one unit per term, so each
        term's minimum demand (net of fully locked lines) needs that many lines, less the
        partially locked lines and what `shortfall` may leave missing; and min_lines."""
        partial = sum(c.count for c in self.classes)
        need: dict[int, int] = {}
        for (_, t), lo in self.lo.items():
            need[t] = need.get(t, 0) + max(lo, 0)
        return max(self.min_generic, max(need.values(), default=0) - partial - shortfall, 0)

    @cached_property
    def candidates(self) -> list[Rotation]:
        return list(candidate_rotations(self.plan))

    def rotations(self, p: Pattern) -> list[Rotation]:
        return read_line(self.plan, dict(zip(self.plan.ordinals, p, strict=True)))

    def load(self, p: Pattern) -> int:
        """Service-or-nights rotations on the line (the fairness measure)."""
        load = self._loads.get(p)
        if load is None:
            load = self._loads[p] = sum(r.unit.is_service_or_nights for r in self.rotations(p))
        return load

    def fixed_load(self, rotations: dict[int, str]) -> int:
        try:
            return sum(r.unit.is_service_or_nights for r in read_line(self.plan, rotations))
        except LineShapeError:
            return 0

    def usable(self, p: Pattern) -> bool:
        """Valid shape, open unit-terms and every selected rule."""
        if not all(self.plan.is_open(u, t) for t, u in enumerate(p, 1)):
            return False
        try:
            rotations = self.rotations(p)
        except LineShapeError:
            return False
        return bool(rotations) and not any(c.violations(rotations) for c in self.clauses)
