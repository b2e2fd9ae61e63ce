"""Neighbourhood search: re-plan a few lines at once with CP-SAT until no minimum is short.

The repair (`repair.py`) moves one line at a time, so it stops at a local optimum when a
short unit-term can only be met by changing two or more lines together: under VIC_PGY2 on a
13-term year every line holds 13 different subspecialties, and the line that could take the
short unit already has that subspecialty in another term, which some other line must then
take over. Each step here frees a small neighbourhood of lines (some with a surplus in the
short unit-term's term, the rest drawn at random), keeps every other line as it is, and
solves those lines exactly: one CP-SAT line model per freed line (the rules posted by their
own clauses, as in pricing), joined by the demand rows, minimising what stays short. Before
each step it tries the cheapest move, one new line through what is short (the repair's
beam can miss it when the rows with room are few). A step is kept only when the shortfall
drops, so the search ends at a plan, after a few steps that find nothing, or at its
deadline. (Large neighbourhood search; see the cpsat-primer's chapter on it.)
"""

from __future__ import annotations

import random
import time
from collections import Counter, defaultdict
from dataclasses import dataclass

from ortools.sat.python import cp_model

from constraints.colgen.control import Control
from constraints.colgen.intmaster import Assignment
from constraints.colgen.pricing import line_choices
from constraints.patterns import Context, Pattern

NEIGHBOURHOOD_LINES = 4  # lines freed per step, to start with (small ones solve in ms)
NEIGHBOURHOOD_MAX_LINES = 32  # ... doubled after steps that find nothing, up to this
STEP_WORK_CAP = 0.25  # CP-SAT effort per step of 4 lines (seconds, or deterministic units)
# consecutive steps that find nothing before the search gives up (phase 1's LP, which
# follows, needs the time: on tight 4- and 6-term plans no neighbourhood of up to 32 lines
# helps, and the LP then finds a plan within a second)
FAILED_STEPS = 4

Row = tuple[str, int]


@dataclass(frozen=True)
class _Line:
    cls: int | None  # partial class index, None for a generic line
    pattern: Pattern  # empty for a line a step adds (the step chooses its units)


NEW_LINE = _Line(None, ())


def search_neighbourhoods(
    ctx: Context,
    control: Control,
    short: Assignment,
    deadline: float,
    patience: int | None = FAILED_STEPS,
) -> Assignment | None:
    """Lines that meet every minimum, found from `short` before `deadline`, or None;
    `patience`: consecutive steps that find nothing before it gives up (None: never, it
    runs to the deadline, trying new neighbourhoods of the largest size)."""
    lines = [_Line(None, p) for p, k in short.generic.items() for _ in range(k)]
    lines += [
        _Line(i, p) for i, c in enumerate(short.classes) for p, k in c.items() for _ in range(k)
    ]
    rng = random.Random(control.seed)
    size, failed = NEIGHBOURHOOD_LINES, 0
    while time.monotonic() < deadline and (patience is None or failed < patience):
        missing = _short(ctx, lines)
        if not missing:
            return _assignment(ctx, lines)
        target = rng.choice(sorted(missing))
        if _add_line(ctx, control, lines, deadline):
            continue
        chosen = _neighbourhood(ctx, lines, target, min(size, len(lines)), rng)
        better = _resolve(ctx, control, lines, chosen, deadline)
        if better is None:
            size, failed = min(2 * size, NEIGHBOURHOOD_MAX_LINES), failed + 1
            continue
        for i, line in zip(chosen, better, strict=True):
            lines[i] = line
        size, failed = NEIGHBOURHOOD_LINES, 0
    return None if _short(ctx, lines) else _assignment(ctx, lines)


def _add_line(ctx: Context, control: Control, lines: list[_Line], deadline: float) -> bool:
    """One new line that lowers the shortfall, while the line count allows one (more lines
    make a worse plan, but the lines stage minimises their number later; a first plan
    matters more here)."""
    if _generic(lines) >= ctx.max_generic:
        return False
    found = _resolve(ctx, control, [*lines, NEW_LINE], [len(lines)], deadline)
    if found is not None:
        lines.append(found[0])
    return found is not None


def _generic(lines: list[_Line]) -> int:
    return sum(line.cls is None for line in lines)


def _cover(lines: list[_Line]) -> Counter[Row]:
    cover: Counter[Row] = Counter()
    for line in lines:
        for t, u in enumerate(line.pattern, 1):
            cover[(u, t)] += 1
    return cover


def _short(ctx: Context, lines: list[_Line]) -> dict[Row, int]:
    cover = _cover(lines)
    return {r: ctx.lo[r] - cover[r] for r in ctx.rows if cover[r] < ctx.lo[r]}


def _neighbourhood(
    ctx: Context, lines: list[_Line], target: Row, size: int, rng: random.Random
) -> list[int]:
    """Indices of the lines to free, up to a quarter of each kind in turn: lines that
    could swap to the target unit in its term directly (valid, and their own unit there
    has a surplus); lines that could take it under every rule (but whose own unit there is
    needed); lines holding the target unit in another term (a six-month rotation next to
    a full term may have to shift); lines whose unit in that term has a surplus (they can
    take over a taker's unit); then any lines, for longer chains."""
    cover = _cover(lines)
    u, t = target
    locks = [dict(c.lock) for c in ctx.classes]

    def free(line: _Line) -> bool:
        return line.pattern[t - 1] != u and (line.cls is None or t not in locks[line.cls])

    def taker(line: _Line) -> bool:
        return free(line) and any(ctx.usable(q) for q in _placed(ctx, line.pattern, u, t))

    def giver(line: _Line) -> bool:
        v = line.pattern[t - 1]
        return free(line) and cover[(v, t)] > max(ctx.lo.get((v, t), 0), 0)

    def swap(line: _Line) -> bool:  # a direct move: it takes the target, gives a surplus
        return taker(line) and giver(line)

    def holder(line: _Line) -> bool:  # the target unit elsewhere: it may have to shift
        return u in line.pattern and line.pattern[t - 1] != u

    picked: set[int] = set()
    kinds = ((swap, 4), (taker, 4), (holder, 4), (giver, 4), (lambda _line: True, 1))
    for test, share in kinds:
        pool = [i for i, line in enumerate(lines) if i not in picked and test(line)]
        want = min(len(pool), -(-size // share), size - len(picked))
        picked.update(rng.sample(pool, want))
    return sorted(picked)


def _placed(ctx: Context, p: Pattern, u: str, t: int) -> list[Pattern]:
    """Line p with unit u put in term t: a six-month unit takes t and the term after it,
    or the term before it and t."""
    if u not in ctx.six_month:
        return [(*p[: t - 1], u, *p[t:])]
    firsts = [s for s in (t - 1, t) if 1 <= s < ctx.T]
    return [(*p[: s - 1], u, u, *p[s + 1 :]) for s in firsts]


def _resolve(
    ctx: Context, control: Control, lines: list[_Line], chosen: list[int], deadline: float
) -> list[_Line] | None:
    """The freed lines re-planned with less shortfall in total, or None."""
    kept = [line for i, line in enumerate(lines) if i not in set(chosen)]
    base = _cover(kept)
    before = sum(_short(ctx, lines).values())
    m = cp_model.CpModel()
    uses: dict[Row, list[cp_model.IntVar]] = defaultdict(list)
    models = []
    for i in chosen:
        line = lines[i]
        lock = ctx.classes[line.cls].lock if line.cls is not None else ()
        choices = line_choices(ctx, m, lock)
        if choices is None:
            return None
        for r, x in choices if line.pattern else ():  # start from the line as it is
            m.add_hint(x, all(line.pattern[t - 1] == r.unit.code for t in r.terms))
        models.append(choices)
        for r, x in choices:
            for t in r.terms:
                uses[(r.unit.code, t)].append(x)
    missing = []
    for row in ctx.rows:
        if row not in uses:
            continue
        total = base[row] + sum(uses[row])
        m.add(total <= ctx.hi[row])
        need = ctx.lo[row] - base[row]
        if need > 0:
            gap = m.new_int_var(0, need, f"short{row}")
            m.add(gap >= need - sum(uses[row]))
            missing.append(gap)
    untouched = sum(max(ctx.lo[r] - base[r], 0) for r in ctx.rows if r not in uses)
    m.add(sum(missing) + untouched <= before - 1)  # any improvement will do
    # CP-SAT effort in proportion to the lines freed: 32 lines of a 13-term year need about
    # 2 units to find what 4 lines find in a quarter (an 80-line plan stayed one short)
    scale = max(1.0, len(chosen) / NEIGHBOURHOOD_LINES)
    budget = min(STEP_WORK_CAP * scale, deadline - time.monotonic())
    if budget <= 0:
        return None
    out = control.run(m, "construct", time_cap=budget)
    if not out.found:
        return None
    new = []
    for i, choices in zip(chosen, models, strict=True):
        units = {t: r.unit.code for r, x in choices if out.solver.boolean_value(x) for t in r.terms}
        new.append(_Line(lines[i].cls, tuple(units[t] for t in ctx.plan.ordinals)))
    return new


def _assignment(ctx: Context, lines: list[_Line]) -> Assignment:
    generic: dict[Pattern, int] = defaultdict(int)
    classes: list[dict[Pattern, int]] = [defaultdict(int) for _ in ctx.classes]
    for line in lines:
        (generic if line.cls is None else classes[line.cls])[line.pattern] += 1
    return Assignment(dict(generic), [dict(c) for c in classes], {})
