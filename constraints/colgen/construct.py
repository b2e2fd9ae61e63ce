"""A constructive plan: greedy lines that cover the minimum demand, before any LP.

Each step asks the beam (`beam.py`) for the valid line that covers the most unit-terms still
short of their minimum (rows already at their maximum are closed to it), and takes as many
copies of it as the shortest of those rows still needs. Partially locked classes are built
first (their lines exist whatever happens), then generic lines until every minimum is met,
then filler lines up to `min_lines`. In milliseconds to a few seconds it gives:

- an early valid plan, kept as the lines stage's interim answer (a time limit never ends a
  feasible plan with nothing when this succeeds);
- a proof of feasibility, so phase 1 is skipped;
- a warm start for the LP master (its patterns).

It is greedy and can strand a few minimums at the end; `repair.py` then moves surplus
lines onto them. If some are still short, its lines warm-start phase 1.
A step asks the beam first and the exact CP-SAT pricing model only when the beam finds no
line (a narrow beam can miss the few lines a lock and the rules leave).
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass

from ortools.sat.python import cp_model

from constraints.colgen.greedy_values import CLOSED, SCARCE, Price, Values
from constraints.colgen.intmaster import Assignment
from constraints.colgen.repair import repair
from constraints.patterns import Context, Lock, Pattern
from constraints.rotations import make_rotation
from constraints.rules import Total

NEED_BONUS = 0.5  # extra value for rows with more need (breaks ties toward big rows)
# A six-month unit's minimum is met by a start plan fixed up front (`_six_month_starts`):
# left to the greedy, its rotations tile the terms badly and strand a term whose neighbour
# is already full (the dead end on 1000-line plans). Planned starts are worth this much.
START_VALUE = 3.0
RATIONED_BONUS = 1.0  # extra value for a needy row of a rationed unit (`_rationed`)
COVERS_SOMETHING = 0.5  # a covering line must reach at least one row (or start) still short
# One beam call prices up to 100 lines: after its best line is taken, each next one is
# taken too while it keeps this share of its value under what is then left (a beam call
# per line made 300-line plans take 10 s).
BATCH_KEEP = 0.8
REPAIR_MIN_S = 1.0  # the repair's time, at least (else as long as the greedy took)


@dataclass
class Constructed:
    plan: Assignment | None  # every line valid and every limit kept, or None
    patterns: list[tuple[Pattern, int | None]]  # (pattern, class or None) met on the way
    short: Assignment | None = None  # repaired lines that still leave a minimum short


@dataclass
class _Left:
    """What the greedy still has to cover, and the room it has left."""

    need: dict[tuple[str, int], int]  # single-term rows: minimum still short
    starts: dict[tuple[str, int], int]  # six-month (unit, first term): planned, not placed
    room: dict[tuple[str, int], int]
    rationed: frozenset[str]  # units a rule's "at most" limits per line (service, nights)

    def short(self) -> bool:
        return any(v > 0 for v in self.need.values()) or any(self.starts.values())


def construct(
    ctx: Context, price: Price, budget_s: float, *, allow_shortfall: bool = False
) -> Constructed:
    """Greedy lines, repaired where they leave a minimum short; `plan` is None when they
    still do (and shortfall is not allowed) or the budget ran out (checked between lines)."""
    deadline = time.monotonic() + budget_s
    left = _Left(
        {k: max(ctx.lo[k], 0) for k in ctx.rows if k[0] not in ctx.six_month},
        _six_month_starts(ctx, deadline),
        {k: ctx.hi[k] for k in ctx.rows},
        _rationed(ctx),
    )
    out = Constructed(None, [])
    classes: list[dict[Pattern, int]] = []
    for i, cls in enumerate(ctx.classes):
        got = _fill(ctx, price, cls.lock, left, cls.count, deadline)
        out.patterns += [(p, i) for p in got]
        if sum(got.values()) < cls.count:
            return out
        classes.append(got)
    generic: dict[Pattern, int] = defaultdict(int)
    lines = 0
    while left.short() and lines < ctx.max_generic:
        if time.monotonic() > deadline:
            return out
        least = _least_load(ctx, left, ctx.max_generic - lines)
        took = 0
        top = _top_need(left)
        for p, value in price((), *_values(ctx, left), COVERS_SOMETHING, least):
            if took and _worth(ctx, p, left, top) < BATCH_KEEP * value:
                continue  # the lines taken before it in this batch covered its need
            k = _take(ctx, p, left, ctx.max_generic - lines, covering=True)
            if k <= 0:
                continue
            generic[p] += k
            lines += k
            took += k
            out.patterns.append((p, None))
            if lines >= ctx.max_generic or not left.short():
                break
        if not took:
            break
    short = _shortfall(ctx, generic, classes)
    if short:
        # the repair gets at most as long as the greedy took; with shortfall allowed what is
        # short is mostly short by nature (the LP finds the least), so only cheap moves
        spent = time.monotonic() - (deadline - budget_s)
        until = min(deadline, time.monotonic() + max(spent, REPAIR_MIN_S))
        fixed = repair(ctx, price, generic, classes, until, recreate=not allow_shortfall)
        generic, classes = defaultdict(int, fixed.generic), fixed.classes
        out.patterns += [(p, None) for p in fixed.generic]
        out.patterns += [(p, i) for i, c in enumerate(fixed.classes) for p in c]
        left = _left_after(ctx, generic, classes, left.rationed)
        lines = sum(generic.values())
        short = _shortfall(ctx, generic, classes)
    if short and not allow_shortfall:
        out.short = Assignment(dict(generic), classes, short)
        return out
    if lines < ctx.min_generic:
        extra = _fill(ctx, price, (), left, ctx.min_generic - lines, deadline)
        out.patterns += [(p, None) for p in extra]
        if sum(extra.values()) < ctx.min_generic - lines:
            return out
        for p, k in extra.items():
            generic[p] += k
    out.plan = Assignment(dict(generic), classes, short)
    return out


def _left_after(
    ctx: Context,
    generic: dict[Pattern, int],
    classes: list[dict[Pattern, int]],
    rationed: frozenset[str],
) -> _Left:
    """What is left (need and room) once these lines are placed."""
    cover: dict[tuple[str, int], int] = defaultdict(int)
    for counts in [generic, *classes]:
        for p, k in counts.items():
            for t, u in enumerate(p, 1):
                cover[(u, t)] += k
    need = {k: max(ctx.lo[k] - cover[k], 0) for k in ctx.rows if k[0] not in ctx.six_month}
    return _Left(need, {}, {k: ctx.hi[k] - cover[k] for k in ctx.rows}, rationed)


def _rationed(ctx: Context) -> frozenset[str]:
    """Units an "at most" rule counts (service weeks, nights, non-clinical), and service or
    nights units (the greedy itself caps them per line, for fairness): a line takes few of
    them, so their minimum must be met early, while lines are left to carry it."""
    plan = ctx.plan
    limits = [c for c in ctx.clauses if isinstance(c, Total) and c.at_most is not None]
    return frozenset(
        u.code
        for u in plan.units
        if u.is_service_or_nights or any(c.measure(make_rotation(plan, u, 1)) > 0 for c in limits)
    )


def _six_month_starts(ctx: Context, deadline: float) -> dict[tuple[str, int], int]:
    """Per six-month unit, how many rotations start in each term: the fewest that meet its
    minimum within its maximum (empty for a unit that cannot; the LP then takes over)."""
    plan = ctx.plan
    out: dict[tuple[str, int], int] = {}
    for code in sorted(ctx.six_month):
        m = cp_model.CpModel()
        s = {}
        for t in plan.ordinals:
            ok = t < ctx.T and (code, t) in ctx.hi and (code, t + 1) in ctx.hi
            top = min(ctx.hi[(code, t)], ctx.hi[(code, t + 1)]) if ok else 0
            s[t] = m.new_int_var(0, max(top, 0), f"s{t}")
        for t in plan.ordinals:
            if (code, t) not in ctx.hi:
                continue
            count = s[t] + (s[t - 1] if t > 1 else 0)
            m.add(count >= max(ctx.lo[(code, t)], 0))
            m.add(count <= max(ctx.hi[(code, t)], 0))
        m.minimize(sum(s.values()))
        solver = cp_model.CpSolver()
        solver.parameters.num_workers = 1
        solver.parameters.max_time_in_seconds = max(min(1.0, deadline - time.monotonic()), 0.01)
        if solver.solve(m) in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            out.update({(code, t): solver.value(v) for t, v in s.items() if solver.value(v)})
    return out


def _least_load(ctx: Context, left: _Left, lines_left: int) -> int:
    """The fewest service-or-nights rotations per line that lets `lines_left` lines cover
    the service-or-nights minimum still short (lines capped lower would strand it)."""
    units = {u.code: u for u in ctx.plan.units}
    need = sum(v for k, v in left.need.items() if v > 0 and units[k[0]].is_service_or_nights)
    need += sum(v for k, v in left.starts.items() if v > 0 and units[k[0]].is_service_or_nights)
    return -(-need // max(lines_left, 1))


def _values(ctx: Context, left: _Left) -> tuple[Values, Values]:
    """Row values and six-month start bonuses for the beam, from what is left."""
    top = _top_need(left)
    rows = {k: _row_value(left, k, top) for k in left.room}
    starts = {k: START_VALUE for k, v in left.starts.items() if v > 0}
    return rows, starts


def _top_need(left: _Left) -> int:
    return max(left.need.values(), default=0) or 1


def _row_value(left: _Left, k: tuple[str, int], top: int) -> float:
    room = left.room[k]
    need = left.need.get(k, 0)
    if room <= 0:
        return CLOSED
    if need > 0:
        return 1.0 + NEED_BONUS * need / top + RATIONED_BONUS * (k[0] in left.rationed)
    return -SCARCE / room


def _worth(ctx: Context, p: Pattern, left: _Left, top: int) -> float:
    """Line p's value for what is left now (the beam's value, recomputed on its own rows;
    `top`: the largest need when the batch was priced)."""
    value = sum(_row_value(left, (u, t), top) for t, u in enumerate(p, 1))
    return value + sum(START_VALUE for k in _rotations(ctx, p) if left.starts.get(k, 0) > 0)


def _rotations(ctx: Context, p: Pattern) -> list[tuple[str, int]]:
    """(unit, first term) of each six-month rotation of line p, read left to right."""
    out, t = [], 1
    while t <= ctx.T:
        u = p[t - 1]
        if u in ctx.six_month:
            out.append((u, t))
            t += 2
        else:
            t += 1
    return out


def _take(ctx: Context, p: Pattern, left: _Left, most: int, *, covering: bool) -> int:
    """Copies of line p to take (as many as its most nearly met need allows); take them."""
    rows = [(u, t) for t, u in enumerate(p, 1)]
    six = [k for k in _rotations(ctx, p) if left.starts.get(k, 0) > 0]
    short = [left.need[r] for r in rows if left.need.get(r, 0) > 0]
    short += [left.starts[k] for k in six]
    if covering and not short:
        return 0
    k = min([most] + [left.room[r] for r in rows] + ([min(short)] if short else []))
    if k <= 0:
        return k
    for r in rows:
        if r in left.need:
            left.need[r] = max(left.need[r] - k, 0)
        left.room[r] -= k
    for key in six:
        left.starts[key] = max(left.starts[key] - k, 0)
    return k


def _shortfall(
    ctx: Context, generic: dict[Pattern, int], classes: list[dict[Pattern, int]]
) -> dict[tuple[str, int], int]:
    """Minimum demand the lines leave unmet, per unit-term."""
    cover: dict[tuple[str, int], int] = defaultdict(int)
    for counts in [generic, *classes]:
        for p, k in counts.items():
            for t, u in enumerate(p, 1):
                cover[(u, t)] += k
    return {r: ctx.lo[r] - cover[r] for r in ctx.rows if cover[r] < ctx.lo[r]}


def _fill(
    ctx: Context, price: Price, lock: Lock, left: _Left, count: int, deadline: float
) -> dict[Pattern, int]:
    """Up to `count` lines of one kind, each the best for what is left (fewer at the
    deadline)."""
    out: dict[Pattern, int] = defaultdict(int)
    while count > 0 and time.monotonic() < deadline:
        found = price(lock, *_values(ctx, left), CLOSED / 2)
        if not found:
            break
        p = found[0][0]
        k = _take(ctx, p, left, count, covering=False)
        if k <= 0:
            break
        out[p] += k
        count -= k
    return dict(out)
