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
from constraints.colgen.kinds import KindBeam, KindLabels, KindModel
from constraints.colgen.labels import LabelSearch
from constraints.colgen.master import Column, Duals, Master
from constraints.colgen.pairprice import PairPricer, knapsack_penalty
from constraints.colgen.pricing import SCALE, LineSearch
from constraints.colgen.space import Space
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
    """The searches of one solve, built once per service-or-nights cap over the shared
    rotation space and handed out per line kind (a lock, a cap)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.space = Space.of(ctx)
        self._models: dict[int | None, LineSearch] = {}
        self._beams: dict[int | None, BeamSearch] = {}
        self._labels: dict[int | None, LabelSearch | None] = {}
        self._pairs: PairPricer | None = None

    def get(self, lock: Lock = (), cap: int | None = None) -> KindModel:
        if cap not in self._models:
            self._models[cap] = LineSearch(self.space, max_load=cap)
        return KindModel(self.space, self.space.allowed(lock), self._models[cap])

    def beam(self, lock: Lock = (), cap: int | None = None) -> KindBeam:
        if cap not in self._beams:
            self._beams[cap] = BeamSearch(self.space, max_load=cap)
        return KindBeam(self.space, self.space.allowed(lock), self._beams[cap])

    def labels(
        self, lock: Lock = (), cap: int | None = None, *, proving: bool = True
    ) -> KindLabels | None:
        """The exact labelling for this kind, or None where the plan has too many states
        or (for a proof: `proving`) its searches give up too often to be worth a call."""
        if cap not in self._labels:
            search = LabelSearch(self.space, max_load=cap)
            self._labels[cap] = search if search.available else None
        kept = self._labels[cap]
        if kept is None or (proving and not kept.worth_it):
            return None
        return KindLabels(self.space, self.space.allowed(lock), kept)

    def pairs(self, master: Master) -> PairPricer:
        if self._pairs is None:
            self._pairs = PairPricer(master)
        return self._pairs


def _value(ctx: Context, duals: Duals, p: Pattern, constant: float) -> float:
    return sum(duals.rows[(u, t)] for t, u in enumerate(p, 1)) + constant


# Dual smoothing (Wentges): outside dives, lines are priced at this share of the duals that
# gave the best Lagrangian bound so far plus the rest of the LP's own; a round whose smoothed
# duals find no line the LP can use prices again at the LP's duals (mispricing).
SMOOTHING = 0.5


@dataclass
class _Priced:
    """One pricing pass over the line kinds at one dual vector."""

    columns: list[tuple[Column, float]]  # found, with the constant of their kind
    penalty: float  # Lagrangian penalty of the partial-line classes
    generic: list[tuple[float, int]]  # generic kind: (bound on its best value, lines)
    proven: bool  # and each was found by an exact search (nothing better left)
    prices: int  # CP-SAT calls


def _jobs(master: Master, generic_mult: int) -> tuple[list[tuple[Lock, int | None, int]], bool]:
    """Line kinds to price: (lock, class or None, most lines); False when a kind whose lines
    are all committed (diving) is skipped, which leaves no bound."""
    ctx = master.ctx
    jobs: list[tuple[Lock, int | None, int]] = [((), None, generic_mult)]
    jobs += [(c.lock, i, c.count) for i, c in enumerate(ctx.classes)]
    full = master.full_kinds()
    return [job for job in jobs if job[1] not in full], not full


def _constant(master: Master, duals: Duals, cls: int | None) -> float:
    return duals.lines - master.stage.line_cost if cls is None else duals.classes[cls]


def _improves(master: Master, duals: Duals, col: Column) -> bool:
    return _value(master.ctx, duals, col.pattern, _constant(master, duals, col.cls)) > TOL


# Columns the labelling returns per partially locked class and round (a class holds a few
# lines; the generic kind gets the beam's many columns)
CLASS_COLUMNS = 3


def _price_kinds(
    master: Master,
    pricers: Pricers,
    control: Control,
    duals: Duals,
    jobs: list[tuple[Lock, int | None, int]],
    phase: str,
    beam: bool,
    prove: bool = True,
) -> _Priced:
    """Beam first for generic lines (many columns), then the exact labelling (the bound, and
    whatever better line the beam missed); CP-SAT only where the labelling is unavailable or
    gave up with nothing found. Classes go to the labelling alone when it is there. Without
    `prove` (dives: columns, not bounds) a kind the beam found lines for stops there."""
    ctx, stage = master.ctx, master.stage
    error = (ctx.T + 2) / SCALE  # rounding of CP-SAT's scaled pricing objective
    out = _Priced([], 0.0, [], True, 0)
    gains = pricers.space.member_gains(duals.rows)  # one dual vector: every kind shares it
    for lock, cls, mult in jobs:
        const = _constant(master, duals, cls)
        best = None  # the best value a column of this kind is known to reach
        found: list[Pattern] = []
        labels = pricers.labels(lock, stage.cap)
        if beam and (cls is None or labels is None):
            quick = pricers.beam(lock, stage.cap).price(duals.rows, const, TOL, gains=gains)
            found += [p for p, _ in quick]
            best = quick[0][1] if quick else None
        proven = False
        if found and not prove:
            out.proven = False
            out.columns += [(Column(p, cls=cls), const) for p in found]
            continue
        if labels is not None:
            k = 1 if cls is None else CLASS_COLUMNS
            exact = labels.price(duals.rows, const, TOL, k=k, floor=best, gains=gains)
            found += [p for p, _ in exact.found]
            bound, proven = exact.bound, exact.optimal
        if labels is None or (not proven and not found):
            cp = pricers.get(lock=lock, cap=stage.cap).price(
                control, duals.rows, const, phase=phase, gains=gains
            )
            out.prices += 1
            found += [f.pattern for f in cp.found if _value(ctx, duals, f.pattern, const) > TOL]
            bound, proven = cp.bound + error, cp.optimal
        out.proven &= proven
        if cls is None:
            out.generic.append((bound, mult))
        else:
            out.penalty += mult * max(0.0, bound)
        out.columns += [(Column(p, cls=cls), const) for p in found]
    return out


def gap_closed(value: float, bound: float) -> bool:
    """Integer objectives: once ceil(value) <= ceil(bound), the LP cannot lead to a better
    integer value. No bound yet (-inf: every pricing call of a kind timed out with nothing,
    as under load near the time limit) closes nothing; math.ceil(-inf) would raise."""
    return math.isfinite(bound) and math.ceil(value - TOL) <= math.ceil(bound - TOL)


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
    smoothing: float = SMOOTHING,
    known_bound: float = -math.inf,
    prove: bool = True,
) -> CgOutcome:
    """`max_prices` caps the CP-SAT pricing calls (a deterministic budget); `budget_s` is a
    wall-clock budget, ignored in deterministic mode. With a `target`, the loop stops without
    pricing as soon as the LP value is at most `target` (diving: nothing left to gain); with
    `stop_above`, as soon as the proven bound exceeds it (phase 1: infeasibility proven); with
    `close_enough(value, bound)`, as soon as it says the proven bound is close enough.
    `reserve_s` is a wall-clock safety net kept in both modes: stop while that much of the
    time limit is left for the stages after this one (only a slow machine reaches it).
    `known_bound`: a lower bound proven otherwise (counting), which the returned bound never
    falls below and which closes the gap as soon as the LP reaches it. `prove=False` (dives)
    prices a kind exactly only when the beam finds nothing for it: no bound comes back."""
    ctx, stage = master.ctx, master.stage
    started = time.monotonic()
    error = (ctx.T + 2) / SCALE  # rounding of CP-SAT's scaled pricing objective
    generic_mult = (stage.lines or (0, ctx.max_generic))[1]
    value: float | None = None
    bound = known_bound
    center: Duals | None = None  # the duals of the best bound so far (smoothing)
    rounds, prices = 0, 0.0
    wall_budget = None if control.deterministic else budget_s
    # Smoothing needs the dual objective of mixed duals: no fixed column bounds, no pairs.
    smooth = smoothing if not (master.lower or master.upper or stage.pairing) else 0.0
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
        jobs, bounded = _jobs(master, generic_mult)
        weight = smooth if center is not None else 0.0
        while True:
            at = center.mix(duals, weight) if center is not None and weight else duals
            pr = _price_kinds(master, pricers, control, at, jobs, phase, beam, prove)
            prices += pr.prices
            useful = [c for c, _ in pr.columns if _improves(master, duals, c)]
            if at is duals:
                break
            if bounded and prove:  # any duals give a bound: keep the best as the next center
                lagrangian = master.dual_objective(at) - pr.penalty
                lagrangian -= knapsack_penalty(pr.generic, generic_mult)
                if lagrangian > bound:
                    bound, center = lagrangian, at
            if useful:
                break
            weight = 0.0  # mispricing: the smoothed duals found nothing the LP can use
        added = sum(master.add(c) for c in useful)
        generic_gain = list(pr.generic)
        exact = bounded and prove  # every kind priced exactly: the Lagrangian bound holds
        if pairs and stage.pairing and ctx.current:
            left = None if max_prices is None else max(1, max_prices - prices)
            pp = pricers.pairs(master).price(
                pricers.get(cap=stage.cap),
                control,
                duals,
                duals.lines - stage.line_cost,
                phase,
                batch=batch,
                max_calls=left,
                generic=generic_gain[0][0] if generic_gain else math.inf,
                labels=pricers.labels(cap=stage.cap),
                keep_s=reserve_s,
            )
            prices += pp.priced
            added += pp.added
            mults = [m for _, m in ctx.current]
            generic_gain += [(b + error, m) for b, m in zip(pp.bounds, mults, strict=True)]
            if not pp.complete and not added:
                added = 1  # more current patterns to price: the loop is not done
        penalty = pr.penalty + knapsack_penalty(generic_gain, generic_mult)
        if exact and at is duals and value - penalty > bound:
            bound, center = value - penalty, duals
        best = max(bound, known_bound)
        control.report(phase, value, best if best > -math.inf else None)
        integral_gap_closed = gap_closed(value, known_bound) or (exact and gap_closed(value, bound))
        proven = stop_above is not None and best > stop_above
        if not added or integral_gap_closed or proven:  # integer objectives: ceil(bound) is final
            converged = exact and pr.proven and not added
            return CgOutcome(
                value,
                max(best, value) if converged or integral_gap_closed else best,
                converged,
                rounds,
                time.monotonic() - started,
            )
    return CgOutcome(value, max(bound, known_bound), False, rounds, time.monotonic() - started)


# A dive step rounds up this share of the LP's fractional columns at once (largest
# fractions first): 1000-line plans have ~600 fractional columns, and one round-up per LP
# solve took ~240 solves. A batch that fails is retried with half the share.
DIVE_ROUND_SHARE = 0.1
DIVE_PAIR_SHARE = 0.05  # the same for stability pair columns (see `dive`)


def dive(
    master: Master,
    pricers: Pricers,
    control: Control,
    phase: str,
    *,
    rounds_per_step: int = 30,
    max_backtracks: int = 100,
    target: float | None = None,
    round_share: float = DIVE_ROUND_SHARE,
) -> dict[Column, int] | None:
    """Price-and-fix: commit the integer part of the LP, round fractions up, re-price.

    The residual problem shrinks every step, so this reaches an integer plan in a few dozen
    LPs; it usually lands on ceil(LP bound) and then the integer master has nothing to prove.
    Each step rounds up the `round_share` largest fractions together; a batch that leaves
    the residual infeasible, or above the target after re-pricing, is undone and the share
    halved (so the dive ends with one round-up per step where batches fail). A single
    round-up that leaves it infeasible is undone (with the bounds fixed after it) and
    forbidden, depth first, up to `max_backtracks` times. Returns column -> count, or None
    when no rounding was found. With a `target` (the stage's integer lower bound, in LP
    objective units) a step re-prices only while the LP value is above it.
    """
    stack: list[tuple[tuple, list[int], int]] = []  # (bounds before, columns, first's floor)
    backtracks = 0
    # Stability dives round fewer pair columns at once: a pair column's round-up fills its
    # current pattern's row, so large batches crowd each other out (a 112-line plan ended one
    # change above its proven optimum); one at a time took hundreds of LP solves at 1000
    # lines and never finished (xl_pgy2_current_locked), 5% reaches 537 there.
    share = DIVE_PAIR_SHARE if master.stage.pairing else round_share
    try:
        while not control.stopped:
            cg = generate(
                master,
                pricers,
                control,
                phase,
                max_rounds=rounds_per_step,
                pairs=False,
                prove=False,
                target=target,
            )
            over = target is not None and cg.value is not None and cg.value > target + TOL
            if stack and len(stack[-1][1]) > 1 and (cg.value is None or over):
                # The batch cost feasibility or the target: undo it, round up half as many.
                saved, batch, _ = stack.pop()
                master.restore(saved)
                share /= 2
                continue
            if cg.value is None:
                if not stack or backtracks >= max_backtracks:
                    return None
                saved, batch, before = stack.pop()
                backtracks += 1
                master.restore(saved)
                master.forbid_above(batch[0], before)  # branch the other way and go on
                continue
            x = master.values()
            for i, xi in enumerate(x):  # the LP optimum stays optimal: no re-solve needed
                f = math.floor(xi + TOL)
                if f > master.lower.get(i, 0):
                    master.fix(i, f)
            fractional = sorted(
                (
                    (xi - math.floor(xi), i)
                    for i, xi in enumerate(x)
                    if xi - math.floor(xi + TOL) > TOL
                ),
                reverse=True,
            )
            if not fractional:
                return {master.columns[i]: round(xi) for i, xi in enumerate(x) if round(xi)}
            k = max(1, math.floor(share * len(fractional)))
            batch = [i for _, i in fractional[:k]]
            stack.append((master.bounds(), batch, math.floor(x[batch[0]])))
            for i in batch:
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
