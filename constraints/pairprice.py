"""Stability pricing: the best new line to pair with each current pattern, in batches.

A pair column "new line p paired with current pattern q" has reduced value
sum_t (dual(p_t, t) + [p_t == q_t]) + dual(q) + dual(lines). Dropping the rule sets gives
an upper bound per q in one vectorised pass (each term picks its best open unit); only the
current patterns whose bound is positive are priced exactly, best bound first, by the plain
one-line model with a match bonus folded into the row values (no pairing variables). A round
stops after `batch` improving columns; every q not priced keeps its relaxed bound, so the
Lagrangian bound stays valid whatever the batch size or budget.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from constraints.control import Control
from constraints.master import Column, Duals, Master
from constraints.pricing import SCALE, LineSearch

EPS = 1e-6


@dataclass
class PairRound:
    added: int = 0
    priced: int = 0  # exact CP-SAT pricing calls
    complete: bool = True  # every q with a positive relaxed bound was priced to optimality
    bounds: list[float] = field(default_factory=list)  # per current pattern


class PairPricer:
    def __init__(self, master: Master) -> None:
        ctx = self.ctx = master.ctx
        self.master = master
        self.open = [sorted({u for (u, tt) in ctx.rows if tt == t and ctx.hi[(u, t)] > 0})
                     for t in ctx.plan.ordinals]  # fmt: skip
        width = max((len(us) for us in self.open), default=0)
        # match[j, t, k]: current pattern j has open unit k of term t
        self.match = np.zeros((len(ctx.current), ctx.T, width), dtype=np.float64)
        for j, (q, _) in enumerate(ctx.current):
            for t, units in enumerate(self.open):
                if q[t] in units:
                    self.match[j, t, units.index(q[t])] = 1.0

    def relaxed(self, duals: Duals, constant: float) -> np.ndarray:
        """Upper bound of each q's best pair value, ignoring every rule set."""
        width = self.match.shape[2]
        d = np.full((self.ctx.T, width), -np.inf)
        for t, units in enumerate(self.open, 1):
            for k, u in enumerate(units):
                d[t - 1, k] = duals.rows[(u, t)]
        best = (d[None, :, :] + self.match).max(axis=2).sum(axis=1)
        return best + np.array(duals.pairs) + constant

    def price(
        self,
        search: LineSearch,
        control: Control,
        duals: Duals,
        constant: float,
        phase: str,
        *,
        batch: int,
        max_calls: int | None,
    ) -> PairRound:
        ctx, master = self.ctx, self.master
        out = PairRound(bounds=list(self.relaxed(duals, constant)))
        error = (ctx.T + 2) / SCALE
        order = sorted((-b, j) for j, b in enumerate(out.bounds) if b > EPS)
        for _, j in order:
            if out.added >= batch or (max_calls is not None and out.priced >= max_calls):
                out.complete = False
                break
            if control.stopped:
                out.complete = False
                break
            q = ctx.current[j][0]
            values = dict(duals.rows)
            for t, u in enumerate(q, 1):
                if u is not None and (u, t) in values:
                    values[(u, t)] += 1.0
            hint = q if all(u is not None for u in q) else None
            res = search.price(control, values, constant + duals.pairs[j], hint=hint, phase=phase)
            out.priced += 1
            out.complete &= res.optimal  # an unproven search still bounds q (best bound)
            out.bounds[j] = min(out.bounds[j], res.bound + error)
            for priced in res.found:
                p = priced.pattern
                v = sum(values[(u, t)] for t, u in enumerate(p, 1)) + constant + duals.pairs[j]
                if v > EPS and master.add(Column(p, pair=j)):
                    out.added += 1
        return out


def knapsack_penalty(values: list[tuple[float, int]], total: int) -> float:
    """Most any `total` lines can gain: items (value, at most this many lines), greedily."""
    gain, left = 0.0, total
    for v, cap in sorted(values, reverse=True):
        if v <= 0 or left <= 0:
            break
        take = min(cap, left)
        gain += v * take
        left -= take
    return gain
