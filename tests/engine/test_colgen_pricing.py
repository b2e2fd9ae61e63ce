"""Column generation internals: stability pair bounds, dive targets, explanation warm start."""

from __future__ import annotations

import random

import pytest
from controls import deterministic_control

from constraints import load_plan
from constraints.colgen import Pricers, generate
from constraints.colgen.master import Column, Duals, Master, Stage
from constraints.colgen.pairprice import PairPricer
from constraints.colgen.pricing import SCALE
from constraints.generator import generate_plan
from constraints.patterns import Context


def _context(kind: str, lines: int, seed: int = 1) -> Context:
    return Context(load_plan(generate_plan(kind, lines, seed)))


@pytest.mark.parametrize("shift", [0.0, -0.6, -1.2])
def test_pair_bounds_without_cp_sat_hold_against_exact_pricing(shift):
    """The enumerated (T and T-1 / T-2 shared terms) plus bounded rest never under-states
    the best pair value CP-SAT finds for a current pattern, whatever the duals."""
    ctx = _context("PGY2", 24)
    master = Master(ctx)
    master.set_stage(Stage(line_cost=0.0, pairing=True))
    rng = random.Random(7)
    duals = Duals(
        rows={k: rng.uniform(-1.5, 0.5) for k in ctx.rows},
        lines=0.3,
        classes=[0.0 for _ in ctx.classes],
        pairs=[shift + rng.uniform(-1.0, 0.0) for _ in ctx.current],
    )
    control = deterministic_control()
    search = Pricers(ctx).get()
    error = (ctx.T + 2) / SCALE
    generic = search.price(control, duals.rows, duals.lines).bound + error
    pricer = PairPricer(master)
    out = pricer.price(
        search, control, duals, duals.lines, "test", batch=0, max_calls=0, generic=generic
    )
    assert out.priced == 0  # every bound below came from enumeration and vectorised bounds
    checked = 0
    for j, (q, _) in enumerate(ctx.current):
        values = dict(duals.rows)
        for t, u in enumerate(q, 1):
            if u is not None and (u, t) in values:
                values[(u, t)] += 1.0
        exact = search.price(control, values, duals.lines + duals.pairs[j])
        assert exact.optimal
        assert exact.bound <= out.bounds[j] + error, (j, exact.bound, out.bounds[j])
        checked += 1
    assert checked == len(ctx.current) > 0
    for col in master.columns:  # columns added by enumeration are valid, improving pairs
        assert col.pair is not None and ctx.usable(col.pattern)


def test_dive_target_stops_pricing_once_the_lp_reaches_it():
    ctx = _context("PGY2", 24)
    master = Master(ctx)
    pricers = Pricers(ctx)
    master.set_stage(Stage(slack_cost=1.0, art_cost=1.0))  # phase 1 first, as the solver does
    assert generate(master, pricers, deterministic_control(), "feasibility").value == pytest.approx(
        0.0
    )
    master.set_stage(Stage(line_cost=1.0, slack_cost=0.0, art_cost=0.0, slack_allowed=False))
    full = generate(master, pricers, deterministic_control(), "lines")
    assert full.converged and full.rounds > 0
    again = generate(master, pricers, deterministic_control(), "lines", target=full.value)
    assert again.rounds == 0  # already at the target: no pricing round at all


def test_explanation_from_the_solver_master_names_the_same_rule_set():
    from constraints import explain

    doc = generate_plan("PGY2", 120, 1, variant="subspecialty_demand_conflicts_rule")
    ctx = Context(load_plan(doc))
    control = deterministic_control()
    master = Master(ctx)
    for q, _ in ctx.current:
        if all(u is not None for u in q) and ctx.usable(q):  # type: ignore[arg-type]
            master.add(Column(q))  # type: ignore[arg-type]
    master.set_stage(Stage(slack_cost=1.0, art_cost=1.0))
    cg = generate(master, Pricers(ctx), control, "feasibility", stop_above=1e-6)
    assert cg.bound > 1e-6  # proven infeasible, possibly before the LP converged
    warm = explain.explain(ctx, control, master)
    cold = explain.explain(ctx, control)
    assert "VIC_PGY2" in warm[0] and "VIC_PGY2" in cold[0]
    assert warm[1:] == cold[1:]  # the same rule sets are named part of the conflict


def test_a_stage_interrupted_after_its_dive_returns_the_dive_plan(monkeypatch):
    """The time limit striking during the integer master keeps the plan the dive found."""
    import constraints.solver as solver
    from constraints import check
    from constraints.colgen.control import Stopped

    doc = generate_plan("PGY2", 120, 1)
    plan = load_plan(doc)
    clean = solver.solve(plan)
    assert clean.status == "OPTIMAL"
    real = solver.evaluate

    def pessimistic(ctx, a, goal):  # the dive's plan looks one rotation short of proven
        value = real(ctx, a, goal)
        return value + 1 if value is not None and goal.kind == "stability" else value

    def interrupted(*args, **kwargs):
        raise Stopped

    monkeypatch.setattr(solver, "evaluate", pessimistic)
    monkeypatch.setattr(solver, "solve_stage", interrupted)
    r = solver.solve(plan)
    assert r.status == "FEASIBLE"
    assert r.statistics["proven"]["stability"] is False
    assert r.objective.changed_rotations == clean.objective.changed_rotations
    assert not check(plan, r.lines).violations


def test_closest_current_patterns_match_the_plain_sort():
    from constraints.colgen.intmaster import _closest
    from constraints.patterns import matches

    ctx = _context("PGY2", 120)
    rng = random.Random(3)
    pool = [q for q, _ in ctx.current if None not in q]
    units = sorted({u for q in pool for u in q})
    pool += [tuple(rng.choice(units) for _ in range(ctx.T)) for _ in range(200)]
    expected = set()
    for p in pool:
        near = sorted((-matches(p, q), j) for j, (q, _) in enumerate(ctx.current) if matches(p, q))
        expected |= {(p, j) for _, j in near[:6]}
    assert _closest(ctx, pool, 6) == expected


def test_no_bound_yet_closes_no_integrality_gap():
    """A pricing round whose calls all timed out leaves the bound at -inf: the loop goes on
    (it raised OverflowError from math.ceil, and the run ended FAILED, under load in CI)."""
    from constraints.colgen.loop import gap_closed

    assert not gap_closed(12.0, float("-inf"))
    assert gap_closed(12.0, 11.5) and not gap_closed(12.0, 10.9)
