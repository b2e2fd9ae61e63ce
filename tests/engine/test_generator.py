"""The plan generator: feasible by construction, deterministic, and infeasible on purpose."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

from constraints.checker import check, explain_line
from constraints.generator import VARIANTS, demo_plan, generate, generate_plan
from constraints.loading import load_plan
from constraints.rotations import read_line

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo-plan.json"


@pytest.mark.parametrize("kind", ["PGY1", "PGY2"])
@pytest.mark.parametrize("size", [24, 120, 300, 1000])
def test_constructed_lines_pass_the_checker(kind, size):
    generated = generate(kind, size, seed=11)
    plan = load_plan(generated.doc)
    report = check(plan, generated.lines)
    assert report.violations == []
    assert report.objective.lines == size
    assert len(plan.terms) == (5 if kind == "PGY1" else 4)
    assert plan.total_weeks == 52
    assert plan.locked_lines and plan.current_lines


@pytest.mark.parametrize("kind", ["PGY1", "PGY2"])
def test_catalogue_is_realistic(kind):
    plan = load_plan(generate_plan(kind, 300, seed=2))
    units = plan.units
    assert {u.kind for u in units} >= {"clinical", "service", "non_clinical"}
    assert any(u.nights for u in units)
    assert any(u.span_terms == 2 for u in units)
    assert all(u.leave_weeks > 0 for u in units if u.kind == "service")
    assert len({u.subspecialty for u in units}) >= 15
    # multiple campuses per specialty at this size
    assert len([u for u in units if u.subspecialty == "Emergency Medicine"]) >= 2


def test_same_seed_same_document_and_other_seed_differs():
    first = json.dumps(generate_plan("PGY2", 120, seed=5), sort_keys=True)
    assert json.dumps(generate_plan("PGY2", 120, seed=5), sort_keys=True) == first
    assert json.dumps(generate_plan("PGY2", 120, seed=6), sort_keys=True) != first


def test_locks_and_current_lines_can_be_switched_off():
    doc = generate_plan("PGY1", 24, seed=1, locked=0, partial=0, current=False)
    assert doc["locked_lines"] == [] and doc["current_lines"] == []


def test_constraints_are_respected_when_chosen():
    generated = generate("PGY2", 120, seed=3, constraints=["VIC_PGY2", "NO_NIGHTS"])
    assert check(load_plan(generated.doc), generated.lines).ok


def test_demo_plan_file_is_the_generated_one():
    shipped = json.loads(DEMO.read_text())
    assert shipped == demo_plan()
    plan = load_plan(shipped)
    assert 12 <= len(plan.current_lines) + len(plan.locked_lines) <= 16
    assert "VIC_PGY2" in plan.constraints and plan.locked_lines


# --- infeasible variants: each has its documented property --------------------------------


def min_sums(doc):
    sums = defaultdict(int)
    for row in doc["demand"]:
        sums[row["term"]] += row["min"]
    return sums


@pytest.mark.parametrize("kind", ["PGY1", "PGY2"])
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_variants_load_and_carry_a_docstring(kind, variant):
    load_plan(generate_plan(kind, 120, seed=4, variant=variant))  # never a PlanError
    assert "Cause" in VARIANTS[variant].__doc__ or "cause" in VARIANTS[variant].__doc__


@pytest.mark.parametrize("kind", ["PGY1", "PGY2"])
def test_term_demand_over_max_lines(kind):
    doc = generate_plan(kind, 120, seed=4, variant="term_demand_over_max_lines")
    assert max(min_sums(doc).values()) == doc["params"]["max_lines"] + 1


@pytest.mark.parametrize("kind", ["PGY1", "PGY2"])
def test_experience_capacity(kind):
    doc = generate_plan(kind, 120, seed=4, variant="experience_capacity")
    c_units = {u["code"] for u in doc["units"] if "C" in u["experiences"]}
    c_places = sum(row["max"] for row in doc["demand"] if row["unit"] in c_units)
    assert c_places == max(min_sums(doc).values()) - 1


@pytest.mark.parametrize("kind", ["PGY1", "PGY2"])
def test_locked_breaks_rule(kind):
    doc = generate_plan(kind, 120, seed=4, variant="locked_breaks_rule")
    plan = load_plan(doc)
    (locked,) = plan.locked_lines
    rotations = read_line(plan, locked.rotations)
    reasons = explain_line(plan, f"VIC_{kind}", rotations)
    assert any("at most 1 allowed" in r and "subspecialty" in r for r in reasons)


@pytest.mark.parametrize("kind", ["PGY1", "PGY2"])
def test_six_month_cannot_fit(kind):
    doc = generate_plan(kind, 120, seed=4, variant="six_month_cannot_fit")
    rows = {r["term"]: (r["min"], r["max"]) for r in doc["demand"] if r["unit"] == "CLP6-X"}
    assert rows == {1: (1, 1), 2: (1, 1), 3: (1, 1)}
    # rotations start in term 1 (x) or 2 (y): term 1 = x, term 2 = x + y, term 3 = y
    assert not any(x == 1 and x + y == 1 and y == 1 for x in range(3) for y in range(3))


@pytest.mark.parametrize("kind", ["PGY1", "PGY2"])
def test_demand_conflicts_rule(kind):
    doc = generate_plan(kind, 120, seed=4, variant="demand_conflicts_rule")
    max_lines = doc["params"]["max_lines"]
    nights = {u["code"] for u in doc["units"] if u["nights"]}
    nights_needed = sum(r["min"] for r in doc["demand"] if r["unit"] in nights)
    assert "MAX_ONE_NIGHTS" in doc["constraints"]
    assert nights_needed > max_lines  # each line may take only one nights rotation
    assert max(min_sums(doc).values()) <= max_lines  # but every single term fits


def test_unknown_variant_is_refused():
    with pytest.raises(ValueError, match="unknown variant"):
        generate_plan("PGY2", 24, seed=1, variant="nope")
