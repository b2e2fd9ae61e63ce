"""Stability pricing: the best new line to pair with each current pattern, in batches.

A pair column "new line p paired with current pattern q" has reduced value
sum_t (dual(p_t, t) + [p_t == q_t]) + dual(q) + dual(lines). Most q are settled without a
CP-SAT call, by splitting the new lines p by how many terms they share with q:
- all T (p = q) and T - 1 (one term swapped): enumerated exactly, best first, each candidate
  checked against the rule sets once (cached);
- at most T - 2: bounded by min(generic bound + (T - 2) + dual(q), the same sum with the rule
  sets dropped), both vectorised over every q.
Only the q whose "at most T - 2" bound stays positive (and the incomplete current lines) are
priced exactly, best bound first, by the plain one-line model with a match bonus folded into
the row values. A round stops after `batch` improving CP-SAT columns; every q keeps a valid
bound, so the Lagrangian bound stays valid whatever the batch size or budget.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from constraints.colgen.control import Control
from constraints.colgen.kinds import KindLabels, KindModel
from constraints.colgen.master import Column, Duals, Master
from constraints.colgen.pricing import SCALE
from constraints.colgen.tolerance import TOL
from constraints.patterns import Pattern

LARGE = 1e9  # stands in for -inf so that sums stay finite
# A labelling call's share of one CP-SAT pricing call in the deterministic pricing budget
# (measured on 120 lines: 0.26 ms against 12 ms a call; counted, so the budget still ends).
LABEL_WORK = 0.05


@dataclass
class PairRound:
    added: int = 0
    priced: float = 0.0  # pricing work: CP-SAT calls, plus LABEL_WORK per labelling call
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
        # code[j, t]: index of q_t among term t's open units; -1 if missing or closed
        self.code = np.full((len(ctx.current), ctx.T), -1, dtype=np.int64)
        for j, (q, _) in enumerate(ctx.current):
            for t, units in enumerate(self.open):
                u = q[t]
                if u is not None and u in units:
                    self.match[j, t, units.index(u)] = 1.0
                    self.code[j, t] = units.index(u)
        self.full = (self.code >= 0).all(axis=1)  # q names an open unit in every term
        self._valid: dict[tuple, bool] = {}

    def _dual_grid(self, duals: Duals) -> np.ndarray:
        d = np.full((self.ctx.T, self.match.shape[2]), -np.inf)
        for t, units in enumerate(self.open, 1):
            for k, u in enumerate(units):
                d[t - 1, k] = duals.rows[(u, t)]
        return d

    def relaxed(self, duals: Duals, constant: float) -> np.ndarray:
        """Upper bound of each q's best pair value, ignoring every rule set."""
        d = self._dual_grid(duals)
        best = (d[None, :, :] + self.match).max(axis=2).sum(axis=1)
        return best + np.array(duals.pairs) + constant

    def valid(self, p: Pattern) -> bool:
        cap = self.master.stage.cap
        key = (p, cap)
        if key not in self._valid:
            ctx = self.ctx
            self._valid[key] = ctx.usable(p) and (cap is None or ctx.load(p) <= cap)
        return self._valid[key]

    def far(self, d: np.ndarray, duals: Duals, constant: float, generic: float, most: int):
        """Bound on pairs sharing at most `most` terms with q (full q only; others +inf)."""
        T = self.ctx.T
        code = np.where(self.code >= 0, self.code, 0)
        a = d[np.arange(T)[None, :], code] + 1.0  # match value per (q, term)
        masked = np.repeat(d[None, :, :], len(code), axis=0)
        np.put_along_axis(masked, code[:, :, None], -np.inf, axis=2)
        b = masked.max(axis=2)  # best other unit per (q, term); a lone open unit must match
        b = np.where(np.isfinite(b), b, -LARGE)
        gain = np.sort(np.maximum(a - b, 0.0), axis=1)[:, ::-1][:, : max(most, 0)]
        pairs = np.array(duals.pairs)
        relaxed = b.sum(axis=1) + gain.sum(axis=1) + pairs + constant
        out = np.minimum(relaxed, generic + most + pairs)
        return np.where(self.full, out, np.inf)

    def _swaps(self, j: int, d: np.ndarray, duals: Duals, constant: float, size: int):
        """Values of the patterns that differ from full q in exactly `size` (1 or 2) terms."""
        T, code = self.ctx.T, self.code[j]
        a = d[np.arange(T), code] + 1.0
        base = a.sum() + duals.pairs[j] + constant  # p = q
        one = base - a[:, None] + d
        one[np.arange(T), code] = -np.inf
        if size == 1:
            return base, [((t,), one[t]) for t in range(T)]
        out = []
        for t1 in range(T):
            for t2 in range(t1 + 1, T):
                grid = one[t1][:, None] - a[t2] + d[t2][None, :]
                grid[:, code[t2]] = -np.inf
                out.append(((t1, t2), grid))
        return base, out

    def near(self, j, d, duals, constant, size: int, tries: int):
        """Best of the pairs sharing at least T - size terms with full q.

        Returns (bound on them, improving columns, bound on the ones left unchecked): the
        candidates are checked best first against the rule sets (cached), so the first valid
        one is the best; after `tries` invalid ones the rest is only bounded.
        """
        q = self.ctx.current[j][0]
        found: list[Pattern] = []
        top = TOL  # below TOL counts as nothing to gain
        for k in range(size + 1):
            if k == 0:
                base, _ = self._swaps(j, d, duals, constant, 1)
                if base > TOL and self.valid(q):  # type: ignore[arg-type]
                    found.append(q)  # type: ignore[arg-type]
                    top = base
                continue
            groups = self._swaps(j, d, duals, constant, k)[1]
            hits = [np.flatnonzero(grid > TOL) for _, grid in groups]
            vals = np.concatenate([g.flat[h] for (_, g), h in zip(groups, hits, strict=True)])
            which = np.concatenate([np.full(len(h), i) for i, h in enumerate(hits)])
            where = np.concatenate(hits)
            mine = 0
            best = tries + 4  # the loop below ends within tries + 3 candidates
            if len(vals) > best:
                part = np.argpartition(-vals, best)[:best]
                pick = part[np.argsort(-vals[part], kind="stable")]
            else:
                pick = np.argsort(-vals, kind="stable")
            for n in pick:
                if mine >= 3:
                    break
                if tries <= 0:  # the next candidate bounds the rest: CP-SAT's turn
                    return top, found, float(vals[n])
                terms, grid = groups[int(which[n])]
                p = list(q)
                for t, i in zip(terms, np.unravel_index(int(where[n]), grid.shape), strict=True):
                    p[t] = self.open[t][int(i)]
                pt = tuple(p)
                tries -= 1
                if self.valid(pt):  # type: ignore[arg-type]
                    top = max(top, float(vals[n]))
                    found.append(pt)  # type: ignore[arg-type]
                    mine += 1
        return top, found, -np.inf

    def price(
        self,
        search: KindModel,
        control: Control,
        duals: Duals,
        constant: float,
        phase: str,
        *,
        batch: int,
        max_calls: float | None,
        generic: float = np.inf,
        tries: int = 30,
        labels: KindLabels | None = None,
        keep_s: float | None = None,
    ) -> PairRound:
        """`generic`: a proven bound on the best generic column's reduced value this round.
        `labels`: the exact labelling for generic lines; each q it settles needs no CP-SAT
        call (it takes LABEL_WORK of the budget `max_calls`). `keep_s`: stop while this much
        of the time limit is left (the stages after this one need it)."""
        ctx, master = self.ctx, self.master
        out = PairRound(bounds=list(self.relaxed(duals, constant)))
        error = (ctx.T + 2) / SCALE
        d = self._dual_grid(duals)
        tol = error + TOL  # the pricing models' own rounding tolerance
        far1 = self.far(d, duals, constant, generic, ctx.T - 2)
        far2 = self.far(d, duals, constant, generic, ctx.T - 3)
        exact: list[float] = list(out.bounds)  # what is left for CP-SAT per q
        for j in np.flatnonzero(self.full & (np.array(out.bounds) > TOL)):
            size, rest = (1, far1[j]) if far1[j] <= tol else (2, far2[j])
            top, found, left = self.near(int(j), d, duals, constant, size, tries)
            rest = max(rest, left)
            out.bounds[j] = min(out.bounds[j], max(top, rest))
            exact[j] = rest if rest > tol else 0.0
            for p in found:
                out.added += master.add(Column(p, pair=int(j)))
        cp_added = 0
        order = sorted((-float(b), int(q_index)) for q_index, b in enumerate(exact) if b > TOL)
        for _, q_index in order:
            if cp_added >= batch or (max_calls is not None and out.priced >= max_calls):
                out.complete = False
                break
            if control.stopped or (keep_s is not None and control.remaining < keep_s):
                out.complete = False  # out of time, or into what later stages need
                break
            q = ctx.current[q_index][0]
            values = dict(duals.rows)
            for t, u in enumerate(q, 1):
                if u is not None and (u, t) in values:
                    values[(u, t)] += 1.0
            const = constant + duals.pairs[q_index]
            if labels is not None:
                quick = labels.price(values, const, TOL)
                out.priced += LABEL_WORK
                if quick.optimal:
                    out.bounds[q_index] = min(out.bounds[q_index], quick.bound)
                    for p, _ in quick.found:
                        cp_added += master.add(Column(p, pair=q_index))
                    continue
            hint = tuple(u for u in q if u is not None) if None not in q else None
            res = search.price(control, values, const, hint=hint, phase=phase)
            out.priced += 1
            out.complete &= res.optimal  # an unproven search still bounds q (best bound)
            out.bounds[q_index] = min(out.bounds[q_index], res.bound + error)
            for priced in res.found:
                p = priced.pattern
                v = sum(values[(u, t)] for t, u in enumerate(p, 1)) + const
                if v > TOL and master.add(Column(p, pair=q_index)):
                    cp_added += 1
        out.added += cp_added
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
