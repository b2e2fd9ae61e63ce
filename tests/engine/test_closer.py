"""The stability local search (colgen/closer.py) and the counting bound on the line count."""

from __future__ import annotations

import time
from collections import Counter

import pytest
from small_plans import unit_doc

from constraints import load_plan, solve
from constraints.colgen.closer import bring_closer
from constraints.colgen.intmaster import Assignment
from constraints.generator import Shape, generate
from constraints.patterns import Context
from constraints.stability import changed_rotations


def witness_plan(ctx: Context, lines) -> Assignment:
    """The generator's lines as the engine holds a plan: generic patterns and partial
    classes (fully locked lines are constants)."""
    by_lock = {c.lock: i for i, c in enumerate(ctx.classes)}
    generic: Counter = Counter()
    classes: list[Counter] = [Counter() for _ in ctx.classes]
    for line in lines:
        pattern = tuple(line.rotations[t] for t in ctx.plan.ordinals)
        if line.source == "new":
            generic[pattern] += 1
        elif line.source == "partial":
            lock = tuple(sorted((t, line.rotations[t]) for t in line.locked_terms))
            classes[by_lock[lock]][pattern] += 1
    return Assignment(dict(generic), [dict(c) for c in classes], {})


def changes(ctx: Context, plan: Assignment) -> int:
    new = [dict(enumerate(p, 1)) for p, k in plan.generic.items() for _ in range(k)]
    return changed_rotations(ctx.T, new, [ln.rotations for ln in ctx.plan.current_lines])


@pytest.mark.parametrize(
    ("kind", "weeks"), [("PGY2", (13, 13, 13, 13)), ("PGY1", (9, 9, 9, 9, 8, 8))]
)
def test_local_search_moves_lines_closer_and_keeps_everything_else(kind, weeks):
    """Heavy churn against the previous plan: the search lowers the changed rotations and
    keeps every rule, demand row, partial class and the line count."""
    generated = generate(kind, 120, 5, shape=Shape(term_weeks=weeks, churn=0.9), partial=6)
    ctx = Context(load_plan(generated.doc))
    before = witness_plan(ctx, generated.lines)
    after = bring_closer(ctx, before, cap=None, deadline=time.monotonic() + 30)
    assert changes(ctx, after) < changes(ctx, before)
    assert after.lines == before.lines and after.classes == before.classes
    assert all(ctx.usable(p) for p in after.generic)
    cover = Counter(
        (u, t)
        for counts in [after.generic, *after.classes]
        for p, k in counts.items()
        for t, u in enumerate(p, 1)
        for _ in range(k)
    )
    assert all(ctx.lo[r] <= cover[r] <= ctx.hi[r] for r in ctx.rows)


def test_a_first_plan_at_the_counted_line_minimum_needs_no_lp():
    """Every term's minimum adds up to the line count: the first plan with that many lines
    is optimal by counting, and no lines LP runs."""
    units = [f"U{i}" for i in range(5)]
    doc = {
        "name": "exact cover",
        "terms": [{"ordinal": t, "name": f"T{t}", "weeks": 13} for t in range(1, 5)],
        "units": [unit_doc(u) for u in units],
        "demand": [{"unit": u, "term": t, "min": 2, "max": 2} for u in units for t in range(1, 5)],
        "constraints": ["NO_NIGHTS"],
        "params": {"time_limit_s": 10},
    }
    plan = load_plan(doc)
    assert Context(plan).least_generic_lines() == 10
    result = solve(plan)
    assert result.status == "OPTIMAL" and result.objective.lines == 10
    assert "lines_lp" not in result.statistics["timing"]
