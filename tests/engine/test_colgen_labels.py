"""The exact labelling pricing against CP-SAT's one-line model, and the smoothed bound."""

from __future__ import annotations

import random

import pytest
from controls import deterministic_control

from constraints import load_plan
from constraints.colgen import Pricers, generate
from constraints.colgen.labels import LabelSearch
from constraints.colgen.master import Master, Stage
from constraints.colgen.pricing import SCALE, LineSearch
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


@pytest.mark.parametrize(("kind", "lines", "options"), SHAPES)
def test_labelling_best_line_equals_cp_sat(kind, lines, options):
    """For random row values, per line kind (generic, each partial class, a fairness cap),
    the labelling's optimum is CP-SAT's, its line is valid, and it respects the lock."""
    ctx = Context(load_plan(generate_plan(kind, lines, 3, **options)))
    rng = random.Random(len(ctx.rows))
    kinds = [((), None), ((), 1)] + [(c.lock, None) for c in ctx.classes[:3]]
    control = deterministic_control()
    for lock, cap in kinds:
        labels = LabelSearch(ctx, lock=lock, max_load=cap)
        assert labels.available
        exact = LineSearch(ctx, lock=lock, max_load=cap)
        for _ in range(4):
            values = {k: rng.uniform(-1.0, 1.0) for k in ctx.rows}
            constant = rng.uniform(-2.0, 0.0)
            got = labels.price(values, constant, -1e9)
            want = exact.price(control, values, constant)
            assert want.optimal
            if not got.optimal:  # cut short (13 terms): its bound must still hold
                assert ctx.T == 13
                assert got.bound >= want.bound - (ctx.T + 2) / SCALE - 1e-6
                continue
            assert got.bound == pytest.approx(want.bound, abs=(ctx.T + 2) / SCALE + 1e-6)
            assert got.found, "every kind here has a valid line"
            pattern, value = got.found[0]
            assert value == pytest.approx(got.bound)
            assert ctx.usable(pattern)
            assert cap is None or ctx.load(pattern) <= cap
            assert all(pattern[t - 1] == u for t, u in lock)


def test_labelling_threshold_and_node_limit_keep_the_bound_valid():
    """Above a threshold it finds nothing or the optimum; cut short, its bound still holds."""
    ctx = Context(load_plan(generate_plan("PGY2", 60, 5, shape=Shape(term_weeks=(4,) * 13))))
    labels = LabelSearch(ctx)
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
