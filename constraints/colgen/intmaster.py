"""The integer master: CP-SAT over integer counts of the pooled patterns, one stage at a time.

Variables are counts per pattern (never per line slot), so identical lines cannot be
permuted. Each stage fixes the values proven by the stages before it (lexicographic order)
and gets the LP bound as a constraint, which lets CP-SAT stop as soon as it reaches it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np
from ortools.sat.python import cp_model

from constraints.colgen.control import Control
from constraints.colgen.master import Column
from constraints.patterns import Context, Pattern, matches
from constraints.stability import group_pairing

PAIR_BUDGET = 60_000


@dataclass
class Assignment:
    generic: dict[Pattern, int]  # pattern -> number of new lines
    classes: list[dict[Pattern, int]]  # per partial class: pattern -> lines
    shortfall: dict[tuple[str, int], int]
    pairs: dict[tuple[Pattern, int], int] = field(default_factory=dict)

    @property
    def lines(self) -> int:
        return sum(self.generic.values())

    def max_load(self, ctx: Context) -> int:
        used = list(self.generic) + [p for c in self.classes for p in c]
        return max((ctx.load(p) for p in used), default=0)


def from_counts(ctx: Context, counts: dict[Column, int]) -> Assignment:
    """An integer LP solution (column -> lines) as an assignment; shortfall from coverage."""
    generic: dict[Pattern, int] = defaultdict(int)
    classes: list[dict[Pattern, int]] = [defaultdict(int) for _ in ctx.classes]
    pairs: dict[tuple[Pattern, int], int] = {}
    cover: dict[tuple[str, int], int] = defaultdict(int)
    for col, k in counts.items():
        if col.cls is None:
            generic[col.pattern] += k
        else:
            classes[col.cls][col.pattern] += k
        if col.pair is not None:
            pairs[(col.pattern, col.pair)] = k
        for t, u in enumerate(col.pattern, 1):
            cover[(u, t)] += k
    short = {k: ctx.lo[k] - cover[k] for k in ctx.rows if cover[k] < ctx.lo[k]}
    return Assignment(dict(generic), [dict(c) for c in classes], short, pairs)


def evaluate(ctx: Context, a: Assignment, goal: Goal) -> int | None:
    """The goal's objective for an assignment, or None if it breaks the goal's fixed values."""
    short = sum(a.shortfall.values())
    if short and not goal.allow_shortfall:
        return None
    if goal.shortfall_cap is not None and short > goal.shortfall_cap:
        return None
    if goal.lines is not None and a.lines != goal.lines:
        return None
    if any(sum(c.values()) != k.count for c, k in zip(a.classes, ctx.classes, strict=True)):
        return None
    load = max(a.max_load(ctx), goal.fixed_load)
    if goal.cap is not None and load > goal.cap:
        return None
    if goal.kind == "shortfall":
        return short
    if goal.kind == "lines":
        return a.lines
    if goal.kind == "fairness":
        return load
    # the lines as they will be reported: paired with the current ones optimally, whatever
    # pairs the LP chose (the dive's plan on l_pgy2_current scored 187 by its pairs, 182 by
    # the best pairing, and a 26 s integer master was run to close a gap that was not there)
    new: Counter[tuple[str | None, ...]] = Counter(a.generic)
    gain, _ = group_pairing(ctx.T, new, Counter(dict(ctx.current)))
    return ctx.T * max(a.lines, ctx.current_count) - gain


@dataclass
class StageResult:
    assignment: Assignment | None
    value: int | None
    bound: int
    optimal: bool


@dataclass(frozen=True)
class Goal:
    kind: str  # "shortfall" | "lines" | "fairness" | "stability"
    lower_bound: int = 0  # proven (LP) bound on this stage's objective
    shortfall_cap: int | None = None
    lines: int | None = None
    cap: int | None = None  # fairness cap fixed by the fairness stage
    allow_shortfall: bool = False
    fixed_load: int = 0  # service-or-nights of fully locked lines (fairness floor)
    pair_candidates: int = 6  # closest current patterns offered to each new pattern


def solve_stage(
    ctx: Context,
    columns: list[Column],
    goal: Goal,
    control: Control,
    hint: Assignment | None,
    phase: str,
    work_cap: float | None = None,
) -> StageResult:
    m = cp_model.CpModel()
    cap = goal.cap
    generic = sorted({c.pattern for c in columns if c.cls is None})
    classes = [sorted({c.pattern for c in columns if c.cls == i}) for i in range(len(ctx.classes))]
    if cap is not None:
        generic = [p for p in generic if ctx.load(p) <= cap]
        classes = [[p for p in ps if ctx.load(p) <= cap] for ps in classes]
    n = {}
    for p in generic:
        ub = min([ctx.max_generic] + [ctx.hi[(u, t)] for t, u in enumerate(p, 1)])
        if ub > 0:
            n[p] = m.new_int_var(0, ub, "n")
    y = [
        {p: m.new_int_var(0, ctx.classes[i].count, "y") for p in ps} for i, ps in enumerate(classes)
    ]
    cover: dict[tuple[str, int], list] = defaultdict(list)
    for p, v in n.items():
        for t, u in enumerate(p, 1):
            cover[(u, t)].append(v)
    for i, ys in enumerate(y):
        m.add(sum(ys.values()) == ctx.classes[i].count)
        for p, v in ys.items():
            for t, u in enumerate(p, 1):
                cover[(u, t)].append(v)
    slack = {}
    for k in ctx.rows:
        lo = ctx.lo[k]
        if goal.allow_shortfall and lo > 0:
            slack[k] = m.new_int_var(0, lo, "s")
            m.add(sum(cover[k]) + slack[k] >= lo)
        elif lo > 0:
            m.add(sum(cover[k]) >= lo)
        m.add(sum(cover[k]) <= ctx.hi[k])
    total_short = sum(slack.values())
    lines = sum(n.values())
    if goal.lines is not None:
        m.add(lines == goal.lines)
    else:
        m.add(lines >= ctx.min_generic)
        m.add(lines <= ctx.max_generic)
    if goal.shortfall_cap is not None:
        m.add(total_short <= goal.shortfall_cap)

    z: dict[tuple[Pattern, int], cp_model.IntVar] = {}
    objective: cp_model.LinearExprT
    if goal.kind == "shortfall":
        objective = total_short
    elif goal.kind == "lines":
        objective = lines
    elif goal.kind == "fairness":
        f = m.new_int_var(max(goal.lower_bound, goal.fixed_load), ctx.T, "F")
        loads = sorted({ctx.load(p) for p in n} | {ctx.load(p) for ys in y for p in ys})
        for level in loads:
            if level <= goal.lower_bound:
                continue
            use = m.new_bool_var(f"use{level}")  # some line carries `level` service/nights
            m.add(f >= level).only_enforce_if(use)
            for v in [v for p, v in n.items() if ctx.load(p) == level] + [
                v for ys in y for p, v in ys.items() if ctx.load(p) == level
            ]:
                m.add(v == 0).only_enforce_if(~use)
        objective = f
    else:  # stability: pair new lines with current ones, maximise matching terms
        pairs = {(c.pattern, c.pair) for c in columns if c.pair is not None}
        # About PAIR_BUDGET candidate pairs in all: a big pool gets fewer per pattern.
        per = max(1, min(goal.pair_candidates, PAIR_BUDGET // max(len(n), 1)))
        pairs |= _closest(ctx, list(n), per)
        by_p, by_q = defaultdict(list), defaultdict(list)
        for p, j in sorted(pairs):
            if p not in n:
                continue
            v = m.new_int_var(0, ctx.current[j][1], "z")
            z[(p, j)] = v
            by_p[p].append(v)
            by_q[j].append(v)
        for p, vs in by_p.items():
            m.add(sum(vs) <= n[p])
        for j, vs in by_q.items():
            m.add(sum(vs) <= ctx.current[j][1])
        gain = sum(matches(p, ctx.current[j][0]) * v for (p, j), v in z.items())
        # changed = T * max(new, current) - matching terms of paired lines; bound is on changed
        base = ctx.T * max(goal.lines or 0, ctx.current_count)
        objective = base - gain
    m.add(objective >= goal.lower_bound)
    m.minimize(objective)
    if hint is not None:
        for p, v in n.items():
            m.add_hint(v, hint.generic.get(p, 0))
        for i, ys in enumerate(y):
            for p, v in ys.items():
                m.add_hint(v, hint.classes[i].get(p, 0))
        for k, v in slack.items():
            m.add_hint(v, hint.shortfall.get(k, 0))
        for key, v in z.items():
            m.add_hint(v, hint.pairs.get(key, 0))
    # One worker: with two, CP-SAT's second copy of this model doubled the solve's peak memory
    # (g_xl_t4_churn_closed 1551 -> 632 MiB, g_m_t4_norule_loose 756 -> 259 MiB) and reached the
    # same objective, in less time (36.8 -> 30.9 s, 11.9 -> 7.7 s), measured 2026-12-02.
    out = control.run(m, phase, workers=1, work_cap=work_cap)
    # CP-SAT's own bound holds for this pool only, never for every pattern: keep the LP's.
    bound = goal.lower_bound
    if not out.found:
        return StageResult(None, None, bound, False)
    s = out.solver
    assignment = Assignment(
        generic={p: s.value(v) for p, v in n.items() if s.value(v)},
        classes=[{p: s.value(v) for p, v in ys.items() if s.value(v)} for ys in y],
        shortfall={k: s.value(v) for k, v in slack.items() if s.value(v)},
        pairs={k: s.value(v) for k, v in z.items() if s.value(v)},
    )
    value = round(s.objective_value)
    return StageResult(assignment, value, bound, value <= goal.lower_bound)


def _closest(ctx: Context, patterns: list[Pattern], k: int) -> set[tuple[Pattern, int]]:
    """Each pattern with its `k` closest current patterns (most shared terms, then lowest
    index; never one sharing no term), vectorised: pools reach tens of thousands."""
    if not patterns or not ctx.current or k <= 0:
        return set()
    codes: dict[str | None, int] = {}
    a = np.array([[codes.setdefault(u, len(codes)) for u in p] for p in patterns], dtype=np.int32)
    b = np.array([[codes.get(u, -1) if u is not None else -2 for u in q] for q, _ in ctx.current])
    J = len(b)
    out: set[tuple[Pattern, int]] = set()
    for lo in range(0, len(a), 2048):
        same = (a[lo : lo + 2048, None, :] == b[None, :, :]).sum(axis=2)
        score = same * (J + 1) - np.arange(J)[None, :]  # most shared terms, then lowest j
        top = np.argsort(-score, axis=1, kind="stable")[:, :k]
        for row, js in enumerate(top):
            for j in js:
                if same[row, j] > 0:
                    out.add((patterns[lo + row], int(j)))
    return out
