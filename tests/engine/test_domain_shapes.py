"""Shapes DOMAIN.md allows that are not malformed: the solver answers them (no PlanError)."""

from __future__ import annotations

from small_plans import small_doc

from constraints import check, load_plan, solve

PARAMS = {"min_lines": 4, "max_lines": 8, "time_limit_s": 20}


def six_month_doc(open_terms: list[int], *, min_: int = 0, **extra) -> dict:
    doc = small_doc(constraints=["VIC_PGY2"], params=dict(PARAMS), **extra)
    doc["demand"] = [d for d in doc["demand"] if d["unit"] != "PSY6"]
    doc["demand"] += [{"unit": "PSY6", "term": t, "min": min_, "max": 2} for t in open_terms]
    return doc


def test_six_month_unit_without_two_consecutive_open_terms_is_unusable_not_an_error():
    plan = load_plan(six_month_doc([1, 3]))
    r = solve(plan)
    assert r.status == "OPTIMAL"
    assert r.objective is not None and r.objective.lines == 4
    assert all("PSY6" not in ln.rotations.values() for ln in r.lines)
    assert check(plan, r.lines).violations == []


def test_six_month_minimum_that_no_rotation_can_cover_is_infeasible_in_words():
    r = solve(load_plan(six_month_doc([1, 2, 4], min_=1)))
    assert r.status == "INFEASIBLE"
    assert any("PSY6" in e and "term 4" in e for e in r.explanation), r.explanation


def test_lock_on_a_closed_unit_term_is_infeasible_in_words():
    doc = small_doc(
        constraints=["VIC_PGY2"],
        params=dict(PARAMS),
        locked_lines=[{"label": "L-01", "rotations": {"1": "ED", "2": "GM"}}],
    )
    doc["demand"] = [d for d in doc["demand"] if (d["unit"], d["term"]) != ("GM", 2)]
    r = solve(load_plan(doc))
    assert r.status == "INFEASIBLE"
    assert any("GM" in e and "term 2" in e and "closed" in e for e in r.explanation)


def test_locked_six_month_half_that_cannot_fit_is_infeasible_in_words():
    doc = small_doc(
        constraints=["VIC_PGY2"],
        params=dict(PARAMS),
        locked_lines=[{"label": "L-01", "rotations": {"1": "ED", "2": "PSY6", "3": "GM"}}],
    )
    r = solve(load_plan(doc))
    assert r.status == "INFEASIBLE"
    assert any("L-01" in e for e in r.explanation), r.explanation
