"""Pricing: a one-line CP-SAT model that finds the most valuable valid line pattern.

Booleans choose rotations (representatives of interchangeable ones, `space.py`); each term
is covered exactly once (a six-month rotation covers two); every selected rule set posts its
own clauses, so the rules are written once. The objective is the column's reduced value
given the LP duals. A line kind's lock and open rows fix the representatives it may not use
to 0 for the call; a cap on service-or-nights rotations (fairness) is part of the model.
Stability prices pairs with this same model: the match bonus is folded into the row values
(see pairprice.py). `line_choices` is the same line over concrete rotations, for models that
join several lines through the demand rows (neighbourhood search, the generator).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from ortools.sat.python import cp_model

from constraints.colgen.control import Control
from constraints.colgen.space import Choice, Space
from constraints.patterns import Context, Lock, Pattern
from constraints.rotations import Rotation
from constraints.rules import Clause

PRICING_TIME_CAP = 5.0  # seconds (deterministic units in deterministic mode) per pricing call
SCALE = 10_000  # CP-SAT wants integer objective coefficients; duals are scaled and rounded


@dataclass(frozen=True)
class Priced:
    pattern: Pattern
    value: float  # reduced value as the model saw it (scaled back)


@dataclass(frozen=True)
class PricingOutcome:
    found: list[Priced]
    bound: float  # proven upper bound on the reduced value of any column of this kind
    optimal: bool


Choices = list[tuple[Rotation, cp_model.IntVar]]


def line_choices(ctx: Context, m: cp_model.CpModel, lock: Lock = ()) -> Choices | None:
    """One line in model m: a Boolean per rotation it may take, each term covered exactly
    once, and every selected rule set's clauses. A rotation may be taken when it agrees
    with the lock; a generic line also never uses a unit-term whose maximum the locked lines
    already fill (a partial line is left every open rotation, so the prechecks can tell a
    rule it cannot meet from demand it cannot fit). None when some term has no rotation
    left: no line of this kind exists."""
    locked = dict(lock)
    rotations = [
        r
        for r in ctx.candidates
        if all(locked.get(t, r.unit.code) == r.unit.code for t in r.terms)
        and (locked or all(ctx.hi.get((r.unit.code, t), 0) > 0 for t in r.terms))
    ]
    return post_line(m, rotations, ctx.plan.ordinals, ctx.clauses)


def post_line(
    m: cp_model.CpModel,
    rotations: Sequence[Rotation],
    terms: Iterable[int],
    clauses: Iterable[Clause],
) -> Choices | None:
    """A line over `rotations` in model m: a Boolean per rotation, each term covered by
    exactly one, `clauses` posted. None when some term has no rotation."""
    choices = [(r, m.new_bool_var(f"x[{r.unit.code}@{r.start}]")) for r in rotations]
    for t in terms:
        covering = [x for r, x in choices if t in r.terms]
        if not covering:
            return None
        m.add_exactly_one(covering)
    for clause in clauses:
        clause.post(m, choices)
    return choices


class LineSearch:
    """The one-line CP-SAT model over a space's representatives for one service-or-nights
    cap: every line kind prices with it, the representatives its kind may not use being
    fixed to 0 for the call."""

    def __init__(self, space: Space, *, max_load: int | None = None) -> None:
        self.space = space
        m = self.model = cp_model.CpModel()
        self.x = [m.new_bool_var(f"x[{r.unit.code}@{r.start}]") for r in space.reps]
        choices = list(zip(space.reps, self.x, strict=True))
        for t in space.ctx.plan.ordinals:
            m.add_exactly_one([x for r, x in choices if t in r.terms])
        for clause in space.clauses:
            clause.post(m, choices)
        if max_load is not None:
            m.add(sum(x for r, x in choices if r.unit.is_service_or_nights) <= max_load)

    def price(
        self,
        control: Control,
        choice: Choice,
        constant: float,
        hint: Pattern | None = None,
        phase: str = "pricing",
        time_cap: float = PRICING_TIME_CAP,
    ) -> PricingOutcome:
        """Maximise the gains of the line's representatives, plus a constant."""
        usable = np.isfinite(choice.gain)
        if not self._covers(usable):
            return PricingOutcome([], float("-inf"), True)
        m = self.model
        scaled = np.round(SCALE * np.where(usable, choice.gain, 0.0)).astype(np.int64)
        terms = [int(c) * x for c, x in zip(scaled, self.x, strict=True) if c]
        m.maximize(sum(terms) + round(SCALE * constant))
        m.clear_hints()
        if hint is not None:
            starts = self._starts(hint)
            for i, x in enumerate(self.x):
                m.add_hint(x, i in starts)
        found: list[Priced] = []

        def collect(cb: cp_model.CpSolverSolutionCallback) -> None:
            path = [i for i, x in enumerate(self.x) if cb.boolean_value(x)]
            pattern = self.space.pattern(path, choice)
            found.append(Priced(pattern, cb.objective_value / SCALE))

        with self._only(usable):
            out = control.run(m, phase, time_cap=time_cap, collect=collect)
        if not out.found:
            infeasible = out.status == cp_model.INFEASIBLE
            return PricingOutcome([], float("-inf") if infeasible else float("inf"), infeasible)
        return PricingOutcome(found, out.solver.best_objective_bound / SCALE, out.optimal)

    def exists(self, choice: Choice, seconds: float) -> bool | None:
        """Whether some line uses only the representatives `choice` allows (None: CP-SAT
        could not tell within `seconds`)."""
        usable = np.isfinite(choice.gain)
        if not self._covers(usable):
            return False
        self.model.clear_objective()
        solver = cp_model.CpSolver()
        solver.parameters.max_time_in_seconds = seconds
        solver.parameters.num_workers = 1
        with self._only(usable):
            status = solver.solve(self.model)
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return True
        return False if status == cp_model.INFEASIBLE else None

    @contextlib.contextmanager
    def _only(self, usable: np.ndarray) -> Iterator[None]:
        """The representatives not `usable` fixed to 0 for one solve (the model is shared by
        every line kind)."""
        domains = [self.model.proto.variables[x.index].domain for x in self.x]
        banned = np.flatnonzero(~usable)
        for i in banned:
            domains[i][1] = 0
        try:
            yield
        finally:
            for i in banned:
                domains[i][1] = 1

    def _covers(self, usable: np.ndarray) -> bool:
        covered = {t for i in np.flatnonzero(usable) for t in self.space.reps[i].terms}
        return len(covered) == self.space.ctx.T

    def _starts(self, hint: Pattern) -> set[int]:
        """The representatives of the hinted line's rotations."""
        out, t = set(), 1
        at = self.space.rep_at
        while t <= len(hint):
            rep = at.get((hint[t - 1], t))
            if rep is None:
                return set()
            out.add(rep)
            t += len(self.space.reps[rep].terms)
        return out
