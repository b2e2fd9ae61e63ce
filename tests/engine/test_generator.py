"""The plan generator: feasible by construction, deterministic, and infeasible on purpose."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from constraints.checker import check, explain_line
from constraints.generator import ALL_VARIANTS, VARIANTS, demo_plan, family, generate, generate_plan
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


# --- the benchmark family (issue 14): every shape a hospital can enter --------------------

VALIDATE = Path(__file__).resolve().parents[2].parent / "shared" / "benchmark" / "validate.py"
UNIT_TEST_LINES = 200  # larger members are checked by benchmarks/bench_engine.py
SMALL_MEMBERS = [m.name for m in family.members(UNIT_TEST_LINES)]


# validate.py's own validate(), run in one child process for every small member (one process
# per plan would spend most of its time importing scipy)
VALIDATE_ALL = """
import json, sys
sys.path.insert(0, sys.argv[1])
import validate
for plan_path, solution_path in json.load(sys.stdin):
    with open(plan_path) as p, open(solution_path) as s:
        summary, code = validate.validate(json.load(p), json.load(s), plan_path)
    print(json.dumps([code, summary]))
"""


@pytest.fixture(scope="module")
def validated(tmp_path_factory):
    """name -> (exit code, summary) of validate.py on each small feasible member's witness."""
    if not VALIDATE.exists():
        pytest.skip(f"the independent validator is not at {VALIDATE}")
    directory = tmp_path_factory.mktemp("family")
    family.write_family(directory, max_lines=UNIT_TEST_LINES)
    names = [n for n in SMALL_MEMBERS if (directory / f"{n}.json").exists()]
    pairs = [
        (str(directory / f"{n}.json"), str(directory / "certificates" / f"{n}.solution.json"))
        for n in names
        if (directory / "certificates" / f"{n}.solution.json").exists()
    ]
    done = subprocess.run(
        [sys.executable, "-c", VALIDATE_ALL, str(VALIDATE.parent)],
        input=json.dumps(pairs),
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    results = [json.loads(line) for line in done.stdout.splitlines()]
    return {Path(plan).stem: tuple(r) for (plan, _), r in zip(pairs, results, strict=True)}


def test_family_has_every_shape():
    members = family.FAMILY
    assert len(members) >= 40 and len({m.name for m in members}) == len(members)
    shapes = [m.shape for m in members]
    term_counts = {len(s.term_weeks) for s in shapes}
    assert term_counts == {4, 5, 6, 13}
    assert all(sum(s.term_weeks) == 52 for s in shapes)
    assert any(
        len(set(s.term_weeks)) > 1 and len(s.term_weeks) == n for s in shapes for n in (4, 5, 6)
    )
    assert min(m.lines for m in members) == 24 and max(m.lines for m in members) == 2000
    assert {s.hospitals for s in shapes} >= {1, 30}
    assert (
        min(s.units for s in shapes if s.units) == 14 and max(s.units or 0 for s in shapes) == 500
    )
    assert any(s.closed_share > 0 for s in shapes) and any(s.unusable_six_month for s in shapes)
    assert {s.slack for s in shapes} >= {0.0, 1.0}
    assert max(m.locked_share for m in members) == 0.4
    assert any(s.churn >= 0.9 and s.extra_current > 0 for s in shapes)
    assert any(s.shortfall for s in shapes)
    rule_sets = {frozenset(m.constraints) for m in members}
    singles = {"VIC_PGY1", "VIC_PGY2", "NO_NIGHTS", "MAX_ONE_NIGHTS", "NO_REPEAT_UNIT"}
    assert {frozenset([r]) for r in singles} <= rule_sets and frozenset() in rule_sets
    assert any(len(r) >= 3 for r in rule_sets)
    assert {m.variant for m in members if m.variant} == set(ALL_VARIANTS)


@pytest.mark.parametrize("name", SMALL_MEMBERS)
def test_family_member_loads_and_its_witness_is_valid(name, validated):
    member = next(m for m in family.FAMILY if m.name == name)
    generated = family.build(member)
    doc = generated.doc
    assert len(doc["terms"]) == len(member.shape.term_weeks) and doc["constraints"] == list(
        member.constraints
    )
    if not generated.expected.feasible:
        assert generated.expected.cause
        load_plan(doc)  # impossible, not malformed: it loads (the solve says INFEASIBLE)
        return
    code, summary = validated[name]
    assert (code, summary["valid"]) == (0, True), summary
    shortfall = sum(s["missing"] for s in summary.get("shortfall", []))
    assert shortfall == (generated.expected.shortfall or 0)
    report = check(load_plan(doc), generated.lines)
    assert report.violations == []
    assert report.objective.lines == member.lines == summary["lines"]
    assert report.objective.shortfall == shortfall
    assert report.objective.changed_rotations == summary["changes"]


def test_family_locks_are_mostly_partial():
    generated = family.build(next(m for m in family.FAMILY if m.locked_share == 0.4))
    doc, terms = generated.doc, len(generated.doc["terms"])
    partial = [ln for ln in doc["locked_lines"] if len(ln["rotations"]) < terms]
    assert len(doc["locked_lines"]) == round(0.4 * len(generated.lines))
    assert len(partial) >= 0.75 * len(doc["locked_lines"])


def test_family_is_deterministic_in_its_seed():
    member = family.FAMILY[0]
    first = json.dumps(family.build(member, seed=3).doc, sort_keys=True)
    assert json.dumps(family.build(member, seed=3).doc, sort_keys=True) == first
    assert json.dumps(family.build(member, seed=4).doc, sort_keys=True) != first


def test_unusable_six_month_units_have_no_consecutive_open_terms():
    member = next(m for m in family.FAMILY if m.shape.unusable_six_month and m.lines <= 40)
    doc = family.build(member).doc
    unusable = {u["code"] for u in doc["units"] if u["code"].startswith("CLP6-")}
    assert len(unusable) == member.shape.unusable_six_month
    for code in unusable:
        rows = [r for r in doc["demand"] if r["unit"] == code]
        terms = {r["term"] for r in rows}
        assert rows and all(r["min"] == 0 for r in rows)
        assert not any(t + 1 in terms for t in terms)


def test_shortfall_is_minimal_by_counting():
    member = next(m for m in family.FAMILY if m.shape.shortfall and m.lines <= 40)
    doc = family.build(member).doc
    lines = doc["params"]["max_lines"]
    missing = sum(max(0, total - lines) for total in min_sums(doc).values())
    assert doc["params"]["allow_shortfall"] and missing == member.shape.shortfall


def test_family_cli_writes_validate_py_layout(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "constraints.generator",
            "--family",
            str(tmp_path),
            "--max-lines",
            "24",
        ],
        check=True,
        capture_output=True,
    )
    names = [m.name for m in family.members(24)]
    assert sorted(p.stem for p in tmp_path.glob("g_*.json") if p.stem.count(".") == 0) == sorted(
        names
    )
    assert all((tmp_path / "certificates" / f"{n}.solution.json").exists() for n in names)
