"""Infeasible generated variants: the solver refuses and names the real cause."""

from __future__ import annotations

import re
import time

import pytest

from constraints import load_plan, solve
from constraints.generator import generate_plan


def refuse(variant: str, kind: str = "PGY2", lines: int = 120):
    doc = generate_plan(kind, lines, 3, variant=variant)
    doc["params"]["time_limit_s"] = 20
    t0 = time.monotonic()
    r = solve(load_plan(doc))
    return doc, r, time.monotonic() - t0


def test_term_demand_over_max_lines_names_the_term_and_the_numbers():
    doc, r, _ = refuse("term_demand_over_max_lines")
    cap = doc["params"]["max_lines"]
    sums = {t["ordinal"]: 0 for t in doc["terms"]}
    for row in doc["demand"]:
        sums[row["term"]] += row["min"]
    worst = max(sums, key=lambda t: sums[t])
    assert r.status == "INFEASIBLE"
    assert (
        f"Term {worst}: minimum demand adds up to {sums[worst]} but only {cap} lines are allowed."
    ) in r.explanation


def test_experience_capacity_names_category_c_and_the_rule_set():
    _, r, _ = refuse("experience_capacity")
    assert r.status == "INFEASIBLE"
    assert any("experience C" in e and "VIC_PGY2" in e for e in r.explanation)


def test_locked_line_breaking_a_rule_is_named():
    doc, r, _ = refuse("locked_breaks_rule")
    label = doc["locked_lines"][0]["label"]
    assert r.status == "INFEASIBLE"
    assert any(label in e and "VIC_PGY2" in e and "subspecialty" in e for e in r.explanation)


def test_six_month_unit_that_cannot_fit_is_named():
    _, r, _ = refuse("six_month_cannot_fit")
    assert r.status == "INFEASIBLE"
    assert any("CLP6-X" in e and "six-month" in e.lower() for e in r.explanation)


def test_demand_conflicting_with_a_rule_names_the_rule_and_the_nights():
    _, r, _ = refuse("demand_conflicts_rule")
    assert r.status == "INFEASIBLE"
    text = " ".join(r.explanation)
    assert "MAX_ONE_NIGHTS" in text
    assert re.search(r"nights", text)


@pytest.mark.parametrize(
    "variant",
    [
        "term_demand_over_max_lines",
        "experience_capacity",
        "locked_breaks_rule",
        "six_month_cannot_fit",
        "demand_conflicts_rule",
    ],
)
def test_pgy1_variants_are_refused_with_an_explanation(variant):
    _, r, _ = refuse(variant, "PGY1", 60)
    assert r.status == "INFEASIBLE"
    assert r.explanation and all(e.endswith(".") for e in r.explanation)


@pytest.mark.parametrize("kind,lines", [("PGY2", 120), ("PGY1", 60)])
def test_solver_explanation_names_unit_terms_and_rule_beyond_the_prechecks(kind, lines):
    from constraints import explain
    from constraints.patterns import Context

    doc, r, _ = refuse("subspecialty_demand_conflicts_rule", kind, lines)
    assert explain.prechecks(Context(load_plan(doc))) == []  # only the solver can tell
    terms = [t["ordinal"] for t in doc["terms"]]
    per_term = {d["unit"]: d["min"] for d in doc["demand"] if d["term"] == terms[0]}
    unit = max(per_term, key=lambda u: per_term[u])  # the variant's overloaded unit
    rule = "VIC_PGY2" if kind == "PGY2" else "VIC_PGY1"
    assert r.status == "INFEASIBLE"
    first = r.explanation[0]
    all_terms = ", ".join(str(t) for t in terms[:-1]) + f" and {terms[-1]}"
    assert f"in {unit} in terms {all_terms}" in first
    assert f"under {rule}" in first
    assert any(f"Without {rule} the demand could be met" in e for e in r.explanation)


@pytest.mark.parametrize("kind,lines", [("PGY2", 120), ("PGY1", 60)])
def test_phase_one_proves_it_before_the_neighbourhood_search_runs(kind, lines):
    """Greedy lines left short on an impossible plan: phase 1's short look gives the proof,
    so the neighbourhood search (which cannot succeed there) never starts."""
    _, r, _ = refuse("subspecialty_demand_conflicts_rule", kind, lines)
    timing = r.statistics["timing"]
    assert r.status == "INFEASIBLE"
    assert "rescue" in timing  # the greedy was short: this is the path under test
    assert "neighbourhoods" not in timing


def test_no_integer_plan_from_the_patterns_is_not_called_infeasible(monkeypatch):
    import constraints.solver as solver
    from constraints.colgen.construct import Constructed

    monkeypatch.setattr(solver, "dive", lambda *a, **k: None)
    monkeypatch.setattr(
        solver, "solve_stage", lambda *a, **k: solver.StageResult(None, None, 0, False)
    )
    # the greedy first plan would be an answer: this test is about no plan at all
    monkeypatch.setattr(solver, "construct", lambda *a, **k: Constructed(None, []))
    doc = generate_plan("PGY2", 24, 1)
    r = solve(load_plan(doc))
    assert r.status == "TIMEOUT"
    assert r.explanation == [solver.NOT_FOUND]
    assert not r.lines


def test_no_valid_line_names_the_rule_that_rules_every_line_out():
    """A one-term year under VIC_PGY2: no line has 3 different subspecialties."""
    doc = generate_plan("PGY2", 20, 3, constraints=[])
    doc["terms"] = [{"ordinal": 1, "name": "Year", "weeks": 52}]
    doc["demand"] = [dict(d, term=1) for d in doc["demand"] if d["term"] == 1]
    doc["units"] = [dict(u, span_terms=1) for u in doc["units"]]
    doc["locked_lines"], doc["current_lines"] = [], []
    doc["constraints"] = ["VIC_PGY2"]
    r = solve(load_plan(doc))
    assert r.status == "INFEASIBLE"
    assert any(
        "VIC_PGY2" in e and "1 term" in e and "3 different subspecialties" in e
        for e in r.explanation
    ), r.explanation
