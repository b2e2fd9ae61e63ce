"""Pricing: a one-line CP-SAT model that finds the most valuable valid line pattern.

Booleans choose candidate rotations; each term is covered exactly once (a six-month rotation
covers two); every selected rule set posts its own clauses, so the rules are written once.
The objective is the column's reduced value given the LP duals. Optional extras: a lock
(partial line) and a cap on service-or-nights rotations (fairness). Stability prices pairs
with this same model: the match bonus is folded into the row values (see pairprice.py).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from ortools.sat.python import cp_model

from constraints.colgen.control import Control
from constraints.patterns import Context, Lock, Pattern

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


class LineSearch:
    def __init__(
        self,
        ctx: Context,
        *,
        lock: Lock = (),
        max_load: int | None = None,
    ) -> None:
        self.ctx = ctx
        locked = dict(lock)
        m = cp_model.CpModel()
        self.model = m
        cands = []
        for r in ctx.candidates:
            if any(t in locked and locked[t] != r.unit.code for t in r.terms):
                continue
            # Generic lines never use a unit-term whose maximum locked lines already fill.
            if not locked and any(ctx.hi[(r.unit.code, t)] <= 0 for t in r.terms):
                continue
            cands.append(r)
        self.cands = cands
        self.x = [m.new_bool_var(f"x[{r.unit.code}@{r.start}]") for r in cands]
        choices = list(zip(cands, self.x, strict=True))
        self.empty = False
        by_term_unit: dict[tuple[int, str], list] = defaultdict(list)
        for r, v in choices:
            for t in r.terms:
                by_term_unit[(t, r.unit.code)].append(v)
        for t in ctx.plan.ordinals:
            covering = [v for r, v in choices if t in r.terms]
            if not covering:
                self.empty = True
            m.add_exactly_one(covering)
            if t in locked:
                m.add(sum(by_term_unit[(t, locked[t])]) == 1)
        for clause in ctx.clauses:
            clause.post(m, choices)
        if max_load is not None:
            m.add(sum(v for r, v in choices if r.unit.is_service_or_nights) <= max_load)

    def price(
        self,
        control: Control,
        values: Mapping[tuple[str, int], float],
        constant: float,
        hint: Pattern | None = None,
        phase: str = "pricing",
        time_cap: float = PRICING_TIME_CAP,
    ) -> PricingOutcome:
        """Maximise the sum of row values over the line's unit-terms, plus a constant."""
        if self.empty:
            return PricingOutcome([], float("-inf"), True)
        m = self.model
        terms = []
        for r, v in zip(self.cands, self.x, strict=True):
            c = round(SCALE * sum(values.get((r.unit.code, t), 0.0) for t in r.terms))
            if c:
                terms.append(c * v)
        m.maximize(sum(terms) + round(SCALE * constant))
        m.clear_hints()
        if hint is not None:
            for r, v in zip(self.cands, self.x, strict=True):
                m.add_hint(v, all(hint[t - 1] == r.unit.code for t in r.terms))
        found: list[Priced] = []

        def collect(cb: cp_model.CpSolverSolutionCallback) -> None:
            units: dict[int, str] = {}
            for r, v in zip(self.cands, self.x, strict=True):
                if cb.boolean_value(v):
                    for t in r.terms:
                        units[t] = r.unit.code
            pattern = tuple(units[t] for t in self.ctx.plan.ordinals)
            found.append(Priced(pattern, cb.objective_value / SCALE))

        out = control.run(m, phase, time_cap=time_cap, collect=collect)
        if not out.found:
            infeasible = out.status == cp_model.INFEASIBLE
            return PricingOutcome([], float("-inf") if infeasible else float("inf"), infeasible)
        return PricingOutcome(found, out.solver.best_objective_bound / SCALE, out.optimal)
