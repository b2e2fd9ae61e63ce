"""Stability by local search: move a plan's lines closer to the current lines they pair with.

The plan's generic lines are paired with the current lines optimally (`stability.py`). Then,
one term at a time, every line may keep its unit, take its partner's unit in that term, or
take the unit of a line that wants its own (a swap), and the choice for all lines at once is
a min-cost flow: lines to units, each unit within its
demand (what the other lines and the partially locked ones leave of its minimum and
maximum), a match with the partner worth one, a line only offered a unit it stays valid with
(every rule, the fairness cap). Swaps and chains of moves between many lines fall out of the
flow, the demand, the line count and every rule hold throughout, and the matching terms never
drop. Lines are paired again after each sweep over the terms (a better pairing only adds
matches), until a sweep gains nothing.

It works on the integer plan directly, in a fraction of a second at 1000 lines, so a
stability stage cut short by the time limit (at 1000 lines its LP alone takes most of a
minute) still returns a plan close to today's lines, and the plan from the dive or the
integer master is polished before it is kept.
"""

from __future__ import annotations

import time
from collections import Counter

import numpy as np
from ortools.graph.python import min_cost_flow

from constraints.colgen.intmaster import Assignment
from constraints.patterns import Context, Pattern
from constraints.stability import pair_lines

SWEEPS = 6  # sweeps over the terms (with a new pairing before each), at most
MUST = 10**6  # cost that makes the flow meet every unit's minimum before any match
SWAP_UNITS = 8  # units a line may take from lines that want its own, per term, at most

Cells = tuple[str | None, ...]


def bring_closer(ctx: Context, plan: Assignment, cap: int | None, deadline: float) -> Assignment:
    """The plan with its generic lines moved closer to the current lines (never further)."""
    lines = [list(p) for p, k in sorted(plan.generic.items()) for _ in range(k)]
    if not lines or not ctx.current:
        return plan
    fixed: Counter[tuple[str, int]] = Counter()  # partially locked lines: never moved here
    for counts in plan.classes:
        for p, k in counts.items():
            for t, u in enumerate(p, 1):
                fixed[(u, t)] += k
    sweep = _Sweep(ctx, fixed, cap)
    took = 0.0  # the last sweep's time: a sweep is begun only if one that long still fits
    for _ in range(SWEEPS):
        began = time.monotonic()
        if began + took > deadline:
            break
        partners = _partners(ctx, lines)
        gained = sweep.whole(lines, partners)
        for t in ctx.plan.ordinals:
            if time.monotonic() > deadline:
                break
            gained += sweep.term(lines, partners, t)
        took = time.monotonic() - began
        if not gained:
            break
    generic = Counter(tuple(p) for p in lines)
    cover = Counter(
        (u, t)
        for counts in [generic, *plan.classes]
        for p, k in counts.items()
        for t, u in enumerate(p, 1)
        for _ in range(k)
    )
    short = {r: ctx.lo[r] - cover[r] for r in ctx.rows if cover[r] < ctx.lo[r]}
    return Assignment(dict(generic), plan.classes, short)


def _partners(ctx: Context, lines: list[list[str]]) -> list[Cells | None]:
    """Each line's current partner under an optimal pairing (None: unpaired)."""
    new = {str(i): dict(enumerate(p, 1)) for i, p in enumerate(lines)}
    current: dict[str, dict[int, str]] = {}
    cells: dict[str, Cells] = {}
    for j, (q, k) in enumerate(ctx.current):
        for n in range(k):
            label = f"{j}.{n}"
            current[label] = {t: u for t, u in enumerate(q, 1) if u is not None}
            cells[label] = q
    pairing = pair_lines(ctx.T, new, current)
    out: list[Cells | None] = []
    for i in range(len(lines)):
        paired = pairing.get(str(i))
        out.append(cells[paired] if paired is not None else None)
    return out


def _full(q: Cells | None) -> Pattern | None:
    """A current line as a pattern, if it has a unit in every term."""
    if q is None or any(u is None for u in q):
        return None
    return tuple(u for u in q if u is not None)


class _Sweep:
    def __init__(self, ctx: Context, fixed: Counter[tuple[str, int]], cap: int | None) -> None:
        self.ctx, self.fixed, self.cap = ctx, fixed, cap
        self._valid: dict[Pattern, bool] = {}

    def valid(self, p: Pattern) -> bool:
        ok = self._valid.get(p)
        if ok is None:
            ok = self._valid[p] = self.ctx.usable(p) and (
                self.cap is None or self.ctx.load(p) <= self.cap
            )
        return ok

    def whole(self, lines: list[list[str]], partners: list[Cells | None]) -> int:
        """Lines that become their partner outright (several terms at once, where a rule
        ties them: one term alone would break it), while every unit they leave keeps its
        minimum and every unit they take has room; returns the matches gained."""
        ctx = self.ctx
        cover: Counter[tuple[str, int]] = Counter(self.fixed)
        for p in lines:
            for t, u in enumerate(p, 1):
                cover[(u, t)] += 1
        gained = 0
        for i, p in enumerate(lines):
            q = _full(partners[i])
            if q is None or list(q) == p or not self.valid(q):
                continue
            moved = [(t, a, b) for t, (a, b) in enumerate(zip(p, q, strict=True), 1) if a != b]
            if any(cover[(a, t)] <= ctx.lo.get((a, t), 0) for t, a, _ in moved):
                continue
            if any(cover[(b, t)] >= ctx.hi.get((b, t), 0) for t, _, b in moved):
                continue
            for t, a, b in moved:
                cover[(a, t)] -= 1
                cover[(b, t)] += 1
            lines[i] = list(q)
            gained += len(moved)
        return gained

    def term(self, lines: list[list[str]], partners: list[Cells | None], t: int) -> int:
        """Reassign term t's units over the lines (see the module); returns the matches
        gained."""
        ctx, six = self.ctx, self.ctx.six_month
        wants: dict[int, str] = {}  # line -> its partner's unit in term t, where it differs
        for i, p in enumerate(lines):
            q = partners[i]
            want = q[t - 1] if q is not None else None
            if want is not None and want != p[t - 1] and want not in six and p[t - 1] not in six:
                wants[i] = want
        # a line may also take the unit of a line that wants its own (a swap), a few of them
        freed: dict[str, set[str]] = {}
        for j, want in wants.items():
            units = freed.setdefault(want, set())
            if len(units) < SWAP_UNITS:
                units.add(lines[j][t - 1])
        movable, options = [], []
        held: Counter[str] = Counter()  # units lines keep whatever happens (six-month)
        for i, p in enumerate(lines):
            have = p[t - 1]
            if have in six:
                held[have] += 1
                continue
            offered = {wants[i]} if i in wants else set()
            offered |= freed.get(have, set())
            choice = [have] + [
                u for u in sorted(offered - {have}) if self.valid((*p[: t - 1], u, *p[t:]))
            ]
            movable.append(i)
            options.append(choice)
        if not any(len(c) > 1 for c in options):
            return 0
        used = sorted({u for c in options for u in c})
        index = {u: k for k, u in enumerate(used)}
        n, source, sink = len(movable), 0, 1 + len(movable) + len(used)
        flow = min_cost_flow.SimpleMinCostFlow()
        tails, heads, costs, arcs = [], [], [], []
        for row, (i, choice) in enumerate(zip(movable, options, strict=True)):
            flow.add_arc_with_capacity_and_unit_cost(source, 1 + row, 1, 0)
            q = partners[i]
            for u in choice:
                tails.append(1 + row)
                heads.append(1 + n + index[u])
                costs.append(-1 if q is not None and q[t - 1] == u else 0)
                arcs.append((row, u))
        chosen_arcs = flow.add_arcs_with_capacity_and_unit_cost(
            np.array(tails, dtype=np.int32),
            np.array(heads, dtype=np.int32),
            np.ones(len(tails), dtype=np.int64),
            np.array(costs, dtype=np.int64),
        )
        for u in used:
            taken = self.fixed[(u, t)] + held[u]
            lo = max(ctx.lo.get((u, t), 0) - taken, 0)
            hi = max(ctx.hi.get((u, t), 0) - taken, 0)
            node = 1 + n + index[u]
            flow.add_arc_with_capacity_and_unit_cost(node, sink, lo, -MUST)
            flow.add_arc_with_capacity_and_unit_cost(node, sink, max(hi - lo, 0), 0)
        flow.set_node_supply(source, n)
        flow.set_node_supply(sink, -n)
        if flow.solve() != flow.OPTIMAL:
            return 0  # the lines as they are always fit; only a full unit can refuse
        before = sum(
            cost
            for cost, (row, u) in zip(costs, arcs, strict=True)
            if lines[movable[row]][t - 1] == u
        )
        after = 0
        picked: dict[int, str] = {}
        for k in np.flatnonzero(flow.flows(chosen_arcs)):
            row, u = arcs[int(k)]
            picked[row] = u
            after += costs[int(k)]
        if after >= before or len(picked) < n or not self._meets(picked, lines, movable, t, held):
            return 0
        for row, u in picked.items():
            lines[movable[row]][t - 1] = u
        return before - after

    def _meets(
        self,
        picked: dict[int, str],
        lines: list[list[str]],
        movable: list[int],
        t: int,
        held: Counter[str],
    ) -> bool:
        """Every unit's minimum and maximum in term t hold after the reassignment (the flow
        meets them whenever the lines as they are do; this guards against a unit whose
        minimum no line could reach)."""
        ctx = self.ctx
        count = Counter(picked.values())
        units = set(count) | {lines[i][t - 1] for i in movable}
        for u in units:
            total = count[u] + self.fixed[(u, t)] + held[u]
            before = sum(1 for i in movable if lines[i][t - 1] == u) + self.fixed[(u, t)] + held[u]
            if total > ctx.hi.get((u, t), 0) and total > before:
                return False
            if total < ctx.lo.get((u, t), 0) and total < before:
                return False
        return True
