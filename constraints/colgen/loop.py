"""Column generation: grow the LP master's pattern pool until no column can improve it.

Each round solves the LP, then prices one line per kind (generic lines, each partial-line
class) with the duals; every improving pattern CP-SAT meets on its way is added. The
returned bound is the Lagrangian bound LP - sum(multiplicity * best possible reduced
value), valid even when the loop stops early (time, cancel); after convergence it equals
the LP value, the usual proof for the integer master.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from constraints.colgen.beam import BeamSearch
from constraints.colgen.control import Control
from constraints.colgen.master import Column, Duals, Master
from constraints.colgen.pairprice import PairPricer, knapsack_penalty
from constraints.colgen.pricing import SCALE, LineSearch
from constraints.colgen.tolerance import TOL
from constraints.patterns import Context, Lock, Pattern


@dataclass
class CgOutcome:
    value: float | None  # LP optimum on the final pool (None if the LP failed)
    bound: float  # valid lower bound of the full (all patterns) LP
    converged: bool
    rounds: int
    seconds: float


class Pricers:
    """One-line models cached by (lock, cap): building posts every clause once."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._cache: dict[tuple, LineSearch] = {}
        self._beams: dict[tuple, BeamSearch] = {}
        self._pairs: PairPricer | None = None

    def get(self, lock=(), cap=None) -> LineSearch:
        key = (lock, cap)
        if key not in self._cache:
            self._cache[key] = LineSearch(self.ctx, lock=lock, max_load=cap)
        return self._cache[key]

    def beam(self, lock=(), cap=None) -> BeamSearch:
        key = (lock, cap)
        if key not in self._beams:
            self._beams[key] = BeamSearch(self.ctx, lock=lock, max_load=cap)
        return self._beams[key]

    def pairs(self, master: Master) -> PairPricer:
        if self._pairs is None:
            self._pairs = PairPricer(master)
        return self._pairs


def _value(ctx: Context, duals: Duals, p: Pattern, constant: float) -> float:
    return sum(duals.rows[(u, t)] for t, u in enumerate(p, 1)) + constant


def generate(
    master: Master,
    pricers: Pricers,
    control: Control,
    phase: str,
    *,
    max_rounds: int = 10_000,
    budget_s: float | None = None,
    max_prices: int | None = None,
    batch: int = 40,
    pairs: bool = True,
    target: float | None = None,
    stop_above: float | None = None,
    close_enough: Callable[[float, float], bool] | None = None,
    reserve_s: float | None = None,
    beam: bool = True,
) -> CgOutcome:
    """`max_prices` caps the CP-SAT pricing calls (a deterministic budget); `budget_s` is a
    wall-clock budget, ignored in deterministic mode. With a `target`, the loop stops without
    pricing as soon as the LP value is at most `target` (diving: nothing left to gain); with
    `stop_above`, as soon as the proven bound exceeds it (phase 1: infeasibility proven); with
    `close_enough(value, bound)`, as soon as it says the proven bound is close enough.
    `reserve_s` is a wall-clock safety net kept in both modes: stop while that much of the
    time limit is left for the stages after this one (only a slow machine reaches it)."""
    ctx, stage = master.ctx, master.stage
    started = time.monotonic()
    error = (ctx.T + 2) / SCALE  # rounding of the scaled pricing objective
    generic_mult = (stage.lines or (0, ctx.max_generic))[1]
    value: float | None = None
    bound = -math.inf
    rounds = prices = 0
    wall_budget = None if control.deterministic else budget_s
    while True:
        value = master.solve()
        if value is None:
            return CgOutcome(None, -math.inf, False, rounds, time.monotonic() - started)
        over = wall_budget is not None and time.monotonic() - started > wall_budget
        spent = max_prices is not None and prices >= max_prices
        reached = target is not None and value <= target + TOL
        close = close_enough is not None and close_enough(value, bound)
        late = reserve_s is not None and control.remaining < reserve_s
        if rounds >= max_rounds or control.stopped or over or spent or reached or close or late:
            break
        rounds += 1
        duals = master.duals()
        added, exact = 0, True
        generic_gain: list[tuple[float, int]] = []
        penalty = 0.0
        jobs: list[tuple[Lock, int | None, int]] = [((), None, generic_mult)]
        jobs += [(c.lock, i, c.count) for i, c in enumerate(ctx.classes)]
        full = master.full_kinds()  # diving: kinds whose lines are all committed
        if full:
            exact = False  # a skipped kind leaves no bound (the dive reads only the value)
            jobs = [job for job in jobs if job[1] not in full]
        for lock, cls, mult in jobs:
            const = duals.lines - stage.line_cost if cls is None else duals.classes[cls]
            if beam:
                quick = pricers.beam(lock, stage.cap).price(duals.rows, const, TOL)
                fresh = [p for p, _ in quick if master.add(Column(p, cls=cls))]
                if fresh:  # improving lines without a proof: CP-SAT waits for a dry round
                    added += len(fresh)
                    exact = False
                    continue
            out = pricers.get(lock=lock, cap=stage.cap).price(
                control, duals.rows, const, phase=phase
            )
            prices += 1
            exact &= out.optimal
            if cls is None:
                generic_gain.append((out.bound + error, mult))
            else:
                penalty += mult * max(0.0, out.bound + error)
            for priced in out.found:
                p = priced.pattern
                if _value(ctx, duals, p, const) > TOL and master.add(Column(p, cls=cls)):
                    added += 1
        if pairs and stage.pairing and ctx.current:
            left = None if max_prices is None else max(1, max_prices - prices)
            pr = pricers.pairs(master).price(
                pricers.get(cap=stage.cap),
                control,
                duals,
                duals.lines - stage.line_cost,
                phase,
                batch=batch,
                max_calls=left,
                generic=generic_gain[0][0] if generic_gain else math.inf,
            )
            prices += pr.priced
            added += pr.added
            mults = [m for _, m in ctx.current]
            generic_gain += [(b + error, m) for b, m in zip(pr.bounds, mults, strict=True)]
            if not pr.complete and not added:
                added = 1  # more current patterns to price: the loop is not done
        penalty += knapsack_penalty(generic_gain, generic_mult)
        if exact:
            bound = max(bound, value - penalty)
        control.report(phase, value, bound if bound > -math.inf else None)
        integral_gap_closed = exact and math.ceil(value - TOL) <= math.ceil(bound - TOL)
        proven = stop_above is not None and bound > stop_above
        if not added or integral_gap_closed or proven:  # integer objectives: ceil(bound) is final
            return CgOutcome(
                value,
                max(bound, value) if exact else bound,
                exact,
                rounds,
                time.monotonic() - started,
            )
    return CgOutcome(value, bound, False, rounds, time.monotonic() - started)


def dive(
    master: Master,
    pricers: Pricers,
    control: Control,
    phase: str,
    *,
    rounds_per_step: int = 30,
    max_backtracks: int = 100,
    target: float | None = None,
) -> dict[Column, int] | None:
    """Price-and-fix: commit the integer part of the LP, round one fraction up, re-price.

    The residual problem shrinks every step, so this reaches an integer plan in a few dozen
    LPs; it usually lands on ceil(LP bound) and then the integer master has nothing to prove.
    A round-up that leaves the residual infeasible is undone (with the bounds fixed after it)
    and forbidden, depth first, up to `max_backtracks` times. Returns column -> count, or
    None when no rounding was found. With a `target` (the stage's integer lower bound, in LP
    objective units) a step re-prices only while the LP value is above it.
    """
    stack: list[tuple[tuple, int, int]] = []  # (bounds before, column, its floor) per round-up
    backtracks = 0
    try:
        while not control.stopped:
            cg = generate(
                master,
                pricers,
                control,
                phase,
                max_rounds=rounds_per_step,
                pairs=False,
                target=target,
            )
            if cg.value is None:
                if not stack or backtracks >= max_backtracks:
                    return None
                saved, i, before = stack.pop()
                backtracks += 1
                master.restore(saved)
                master.forbid_above(i, before)  # branch the other way and go on
                continue
            x = master.values()
            moved = False
            for i, xi in enumerate(x):
                f = math.floor(xi + TOL)
                if f > master.lower.get(i, 0):
                    master.fix(i, f)
                    moved = True
            fractional = [
                (xi - math.floor(xi), i)
                for i, xi in enumerate(x)
                if xi - math.floor(xi + TOL) > TOL
            ]
            if not fractional:
                return {master.columns[i]: round(xi) for i, xi in enumerate(x) if round(xi)}
            if not moved:
                _, i = max(fractional)
                stack.append((master.bounds(), i, math.floor(x[i])))
                master.fix(i, math.floor(x[i]) + 1)
        return None
    finally:
        master.unfix()


def seed_pairs(master: Master, per_current: int = 3) -> int:
    """Stability warm start: pair each current pattern with its closest pooled patterns.

    Cheap (vectorised Hamming distances) and it saves most pricing rounds: the LP starts
    with every "keep this line as it is / nearly as it is" option it can already see.
    """
    ctx = master.ctx
    pool = sorted({c.pattern for c in master.columns if c.cls is None and master.allowed(c)})
    if not pool or not ctx.current:
        return 0
    codes = {u.code: i + 1 for i, u in enumerate(ctx.plan.units)}
    a = np.array([[codes[u] for u in p] for p in pool], dtype=np.int32)
    added = 0
    for j, (q, _) in enumerate(ctx.current):
        b = np.array([codes.get(u, -1) if u is not None else -1 for u in q], dtype=np.int32)
        score = (a == b).sum(axis=1)
        for i in np.argsort(-score, kind="stable")[:per_current]:
            if score[i] > 0:
                added += master.add(Column(pool[i], pair=j))
    return added
