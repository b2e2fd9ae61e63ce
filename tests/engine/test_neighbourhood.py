"""Neighbourhood search (constraints/colgen/neighbourhood.py) completes lines that leave a
minimum short: by adding a line while the count allows one, and by re-planning lines
together when it does not. The starting lines are the generator's own valid lines with a
hole made in them, so a plan is known to exist."""

from __future__ import annotations

import time
from collections import Counter

import pytest
from controls import deterministic_control

from constraints import load_plan
from constraints.colgen.intmaster import Assignment
from constraints.colgen.neighbourhood import search_neighbourhoods
from constraints.generator.family import FAMILY, build
from constraints.patterns import Context, Pattern

MEMBERS = {m.name: m for m in FAMILY}


def _witness(name: str) -> tuple[Context, Counter[Pattern], list[Counter[Pattern]]]:
    """The plan's context and the generator's lines as counts (generic, per class)."""
    generated = build(MEMBERS[name])
    ctx = Context(load_plan(generated.doc))
    full = {ln.label for ln in ctx.full_locked}
    class_of = {label: i for i, c in enumerate(ctx.classes) for label in c.labels}
    generic: Counter[Pattern] = Counter()
    classes: list[Counter[Pattern]] = [Counter() for _ in ctx.classes]
    for line in generated.lines:
        if line.label in full:
            continue
        pattern = tuple(line.rotations[t] for t in ctx.plan.ordinals)
        (classes[class_of[line.label]] if line.label in class_of else generic)[pattern] += 1
    return ctx, generic, classes


def _cover(counts: list[Counter[Pattern]] | list[dict[Pattern, int]]) -> Counter:
    cover: Counter = Counter()
    for c in counts:
        for p, k in c.items():
            for t, u in enumerate(p, 1):
                cover[(u, t)] += k
    return cover


def _short(ctx: Context, counts) -> dict:
    cover = _cover(counts)
    return {r: ctx.lo[r] - cover[r] for r in ctx.rows if cover[r] < ctx.lo[r]}


def _assert_plan(ctx: Context, found: Assignment | None) -> None:
    assert found is not None
    counts = [found.generic, *found.classes]
    cover = _cover(counts)
    assert all(ctx.usable(p) for c in counts for p in c)
    assert all(cover[r] <= ctx.hi[r] for r in ctx.rows)
    assert not _short(ctx, counts)
    assert [sum(c.values()) for c in found.classes] == [c.count for c in ctx.classes]
    assert sum(found.generic.values()) <= ctx.max_generic


@pytest.mark.parametrize("name", ["g_m_t13_pgy2", "g_m_t6_pgy1"])
def test_lines_taken_out_are_made_up_by_new_lines(name):
    ctx, generic, classes = _witness(name)
    for p in list(generic)[:3]:  # three lines fewer: their unit-terms fall short
        generic[p] -= 1
    generic = +generic
    assert _short(ctx, [generic, *classes])
    short = Assignment(dict(generic), [dict(c) for c in classes], {})
    _assert_plan(
        ctx, search_neighbourhoods(ctx, deterministic_control(), short, time.monotonic() + 30)
    )


@pytest.mark.parametrize("name", ["g_m_t13_pgy2", "g_s_t5_pgy1_locked40"])
def test_lines_are_replanned_together_when_no_line_can_be_added(name):
    ctx, generic, classes = _witness(name)
    ctx.max_generic = sum(generic.values())  # no room for another line
    # one line moves off a unit-term its minimum needs, onto one with room, staying valid
    cover = _cover([generic, *classes])
    moved = None
    for p in sorted(generic):
        for t, u in enumerate(p, 1):
            if cover[(u, t)] > ctx.lo[(u, t)] or u in ctx.six_month:
                continue
            for (w, s), hi in sorted(ctx.hi.items()):
                q = (*p[: t - 1], w, *p[t:])
                if s == t and w != u and cover[(w, t)] < hi and ctx.usable(q):
                    moved = (p, q)
                    break
            if moved:
                break
        if moved:
            break
    assert moved is not None
    generic[moved[0]] -= 1
    generic[moved[1]] += 1
    generic = +generic
    assert _short(ctx, [generic, *classes])
    short = Assignment(dict(generic), [dict(c) for c in classes], {})
    found = search_neighbourhoods(ctx, deterministic_control(), short, time.monotonic() + 30)
    _assert_plan(ctx, found)
    assert found is not None and sum(found.generic.values()) == ctx.max_generic
