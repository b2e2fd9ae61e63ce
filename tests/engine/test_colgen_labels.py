"""The exact labelling pricing (and the CP-SAT model over merged rotations) against CP-SAT's
one-line model over concrete rotations, and the smoothed bound."""

from __future__ import annotations

import random

import pytest
from controls import deterministic_control
from ortools.sat.python import cp_model

from constraints import load_plan
from constraints.colgen import Pricers, generate
from constraints.colgen.master import Master, Stage
from constraints.colgen.pricing import SCALE, line_choices
from constraints.colgen.space import Space
from constraints.generator import Shape, generate_plan
from constraints.patterns import Context

# The generator's shapes: four, five, six and thirteen terms, every rule-set family,
# closed unit-terms and unusable six-month units, partial locks.
SHAPES = [
    ("PGY2", 40, {}),
    ("PGY1", 40, {}),
    ("PGY2", 40, {"shape": Shape(term_weeks=(9, 9, 9, 9, 8, 8))}),
    ("PGY1", 40, {"shape": Shape(term_weeks=(10, 10, 11, 11, 10)), "locked": 2, "partial": 8}),
    ("PGY2", 60, {"shape": Shape(term_weeks=(4,) * 13, units=50), "constraints": ["VIC_PGY2"]}),
    ("PGY2", 40, {"constraints": ["VIC_PGY2", "NO_NIGHTS", "NO_REPEAT_UNIT"]}),
    ("PGY1", 40, {"constraints": ["VIC_PGY1", "MAX_ONE_NIGHTS", "NO_REPEAT_UNIT"]}),
    ("PGY2", 40, {"shape": Shape(closed_share=0.15, unusable_six_month=1)}),
    ("PGY2", 30, {"constraints": []}),
]


def concrete_best(ctx, lock, cap, values, constant) -> float:
    """The best line's value by CP-SAT over every concrete rotation (no merging): the line
    agrees with the lock and uses only unit-terms the fully locked lines leave room in."""
    m = cp_model.CpModel()
    choices = line_choices(ctx, m, lock)
    assert choices is not None
    for r, x in choices:
        if any(ctx.hi.get((r.unit.code, t), 0) <= 0 for t in r.terms):
            m.add(x == 0)
    if cap is not None:
        m.add(sum(x for r, x in choices if r.unit.is_service_or_nights) <= cap)
    gain = {r: round(SCALE * sum(values[(r.unit.code, t)] for t in r.terms)) for r, _ in choices}
    m.maximize(sum(gain[r] * x for r, x in choices) + round(SCALE * constant))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    assert solver.solve(m) == cp_model.OPTIMAL
    return solver.objective_value / SCALE


@pytest.mark.parametrize(("kind", "lines", "options"), SHAPES)
def test_labelling_best_line_equals_cp_sat(kind, lines, options):
    """For random row values, per line kind (generic, each partial class, a fairness cap),
    the labelling's optimum and the merged CP-SAT model's are CP-SAT's over concrete
    rotations, their lines are valid, and they respect the lock."""
    ctx = Context(load_plan(generate_plan(kind, lines, 3, **options)))
    rng = random.Random(len(ctx.rows))
    kinds = [((), None), ((), 1)] + [(c.lock, None) for c in ctx.classes[:3]]
    control = deterministic_control()
    pricers = Pricers(ctx)
    error = (ctx.T + 2) / SCALE + 1e-6
    for lock, cap in kinds:
        labels = pricers.labels(lock, cap)
        assert labels is not None
        merged = pricers.get(lock, cap)
        for _ in range(4):
            values = {k: rng.uniform(-1.0, 1.0) for k in ctx.rows}
            constant = rng.uniform(-2.0, 0.0)
            want = concrete_best(ctx, lock, cap, values, constant)
            model = merged.price(control, values, constant)
            assert model.optimal and model.bound == pytest.approx(want, abs=error)
            got = labels.price(values, constant, -1e9)
            if not got.optimal:  # cut short (13 terms): its bound must still hold
                assert ctx.T == 13
                assert got.bound >= want - error
                continue
            assert got.bound == pytest.approx(want, abs=error)
            assert got.found, "every kind here has a valid line"
            for pattern, value in [got.found[0], (model.found[-1].pattern, model.bound)]:
                assert value == pytest.approx(want, abs=error)
                assert ctx.usable(pattern)
                assert cap is None or ctx.load(pattern) <= cap
                assert all(pattern[t - 1] == u for t, u in lock)


def test_interchangeable_units_share_a_representative():
    """A network's units repeat per hospital: rotations the rules cannot tell apart merge,
    and NO_REPEAT_UNIT (implied by VIC_PGY2's one rotation per subspecialty) keeps no unit
    apart; without that implication it keeps every unit apart."""
    doc = generate_plan(
        "PGY2",
        200,
        1,
        constraints=["VIC_PGY2", "NO_REPEAT_UNIT"],
        shape=Shape(hospitals=6, units=80),
    )
    space = Space.of(Context(load_plan(doc)))
    assert len(space.reps) < len(space.members) / 2
    assert not any(c.what == "rotations in unit" for c in space.clauses)
    doc["constraints"] = ["NO_REPEAT_UNIT"]
    alone = Space.of(Context(load_plan(doc)))
    units_per_start = {(r.unit.code, r.start) for r in alone.reps}
    assert len(units_per_start) == len(alone.members)


def test_labelling_threshold_and_node_limit_keep_the_bound_valid():
    """Above a threshold it finds nothing or the optimum; cut short, its bound still holds."""
    ctx = Context(load_plan(generate_plan("PGY2", 60, 5, shape=Shape(term_weeks=(4,) * 13))))
    labels = Pricers(ctx).labels()
    assert labels is not None
    rng = random.Random(11)
    for _ in range(5):
        values = {k: rng.uniform(-1.0, 1.0) for k in ctx.rows}
        full = labels.price(values, 0.0, -1e9)
        assert full.optimal
        best = full.bound
        above = labels.price(values, 0.0, best + 0.5)
        assert above.optimal and not above.found and above.bound >= best - 1e-9
        below = labels.price(values, 0.0, best - 0.5, k=3)
        assert below.found[0][1] == pytest.approx(best)
        assert [v for _, v in below.found] == sorted((v for _, v in below.found), reverse=True)
        short = labels.price(values, 0.0, -1e9, node_limit=1)
        assert short.bound >= best - 1e-9  # valid even when the search gave up


def test_dual_objective_at_the_lp_duals_is_the_lp_value():
    ctx = Context(load_plan(generate_plan("PGY1", 120, 2)))
    master, pricers, control = Master(ctx), Pricers(ctx), deterministic_control()
    master.set_stage(Stage(slack_cost=1.0, art_cost=1.0))
    assert generate(master, pricers, control, "feasibility").value == pytest.approx(0.0)
    master.set_stage(Stage(line_cost=1.0, slack_cost=0.0, art_cost=0.0, slack_allowed=False))
    out = generate(master, pricers, control, "lines")
    assert out.converged
    value = master.solve()
    assert master.dual_objective(master.duals()) == pytest.approx(value, abs=1e-6)


@pytest.mark.parametrize("smoothing", [0.0, 0.5, 0.8])
def test_smoothing_changes_rounds_not_the_lp_value(smoothing):
    """Dual smoothing is a route to the same converged LP, with valid bounds on the way."""
    ctx = Context(load_plan(generate_plan("PGY2", 120, 4)))
    master, pricers, control = Master(ctx), Pricers(ctx), deterministic_control()
    master.set_stage(Stage(slack_cost=1.0, art_cost=1.0))
    generate(master, pricers, control, "feasibility", smoothing=smoothing)
    master.set_stage(Stage(line_cost=1.0, slack_cost=0.0, art_cost=0.0, slack_allowed=False))
    out = generate(master, pricers, control, "lines", smoothing=smoothing)
    reference = Master(ctx)  # an unsmoothed run from scratch reaches the same optimum
    ref_pricers = Pricers(ctx)
    reference.set_stage(Stage(slack_cost=1.0, art_cost=1.0))
    generate(reference, ref_pricers, control, "feasibility", smoothing=0.0)
    reference.set_stage(Stage(line_cost=1.0, slack_cost=0.0, art_cost=0.0, slack_allowed=False))
    ref = generate(reference, ref_pricers, control, "lines", smoothing=0.0)
    assert out.converged and ref.converged
    assert out.value == pytest.approx(ref.value, abs=1e-6)
    assert out.bound <= out.value + 1e-6
