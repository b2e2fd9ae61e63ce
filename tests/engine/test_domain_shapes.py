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


def demand_doc(weeks, constraints, min_ed: int, **params) -> dict:
    """small_doc with `min_ed` lines needed in ED every term (so the line count is forced)."""
    doc = small_doc(weeks, constraints, params={"time_limit_s": 30, **params})
    for d in doc["demand"]:
        if d["unit"] == "ED":
            d["min"] = min_ed
    return doc


def solved(doc: dict):
    plan = load_plan(doc)
    r = solve(plan)
    assert r.lines and check(plan, r.lines).violations == []
    return r


def test_six_terms_of_unequal_length():
    """9/9/9/9/8/8 weeks: one ED line per term means at least 6 lines, each ED once."""
    r = solved(demand_doc((9, 9, 9, 9, 8, 8), ["VIC_PGY2", "NO_REPEAT_UNIT"], 1))
    assert r.status == "OPTIMAL" and r.objective is not None and r.objective.lines == 6


def test_thirteen_four_week_terms():
    doc = demand_doc((4,) * 13, ["NO_REPEAT_UNIT", "MAX_ONE_NIGHTS"], 1)
    for u in doc["units"]:
        u["leave_weeks"] = 0  # no leave longer than a 4-week rotation
    r = solved(doc)
    assert r.status == "OPTIMAL" and r.objective is not None and r.objective.lines == 13


def test_shortfall_is_minimal_and_reported_per_unit_and_term():
    """ED needs 6 in term 1 but only 4 lines are allowed: 2 short there, nowhere else."""
    doc = demand_doc((13,) * 4, ["VIC_PGY2"], 0, max_lines=4, allow_shortfall=True)
    doc["demand"][[d["unit"] for d in doc["demand"]].index("ED")]["min"] = 6  # ED term 1
    r = solved(doc)
    assert r.status == "OPTIMAL" and r.objective is not None
    assert r.objective.shortfall == 2
    assert [(s.unit, s.term, s.missing) for s in r.objective.shortfall_detail] == [("ED", 1, 2)]


def test_the_greedy_first_plan_is_valid_and_kept_under_a_short_limit():
    """The greedy plan comes before any LP (constraints/construct.py): it is valid on its
    own, and a limit too short for column generation still ends with a plan."""
    from constraints.colgen import Pricers
    from constraints.colgen.construct import construct
    from constraints.colgen.intmaster import Goal, evaluate
    from constraints.patterns import Context

    doc = demand_doc((13,) * 4, ["VIC_PGY2", "MAX_ONE_NIGHTS"], 3, max_lines=12)
    for d in doc["demand"]:
        if d["unit"] in ("GM", "PSY", "CARD") and d["term"] in (1, 2):
            d["min"] = 2
    plan = load_plan(doc)
    ctx = Context(plan)
    pricers = Pricers(ctx)

    def best(lock, values, starts, floor, least_load=0):
        return pricers.beam(lock).price(values, 0.0, floor, starts)

    built = construct(ctx, best, 10.0)
    assert built.plan is not None
    assert evaluate(ctx, built.plan, Goal("lines")) == built.plan.lines
    assert all(ctx.usable(p) for p, _ in built.patterns)
    doc["params"]["time_limit_s"] = 0.5
    r = solve(load_plan(doc))
    assert r.status in ("FEASIBLE", "OPTIMAL") and r.lines
    assert check(plan, r.lines).violations == []


def test_the_result_carries_the_line_pairing_behind_its_changed_rotations():
    """result.pairing (new label -> current label) is one pairing that reaches the count."""
    current = [
        {"label": "C-1", "rotations": {"1": "ED", "2": "GM", "3": "REL", "4": "PSY"}},
        {"label": "C-2", "rotations": {"1": "GM", "2": "ED", "3": "PSY", "4": "REL"}},
    ]
    doc = demand_doc((13,) * 4, ["VIC_PGY2"], 1, max_lines=5)
    doc["current_lines"] = current
    r = solved(doc)
    assert r.objective is not None and set(r.pairing.values()) <= {"C-1", "C-2"}
    new = {ln.label: ln.rotations for ln in r.lines if ln.source == "new"}
    old = {c["label"]: {int(t): u for t, u in c["rotations"].items()} for c in current}
    differ = sum(new[n][t] != old[c].get(t) for n, c in r.pairing.items() for t in range(1, 5))
    unpaired = len(new) + len(old) - 2 * len(r.pairing)
    assert differ + 4 * unpaired == r.objective.changed_rotations


def test_six_month_places_in_the_last_term_count_toward_what_the_units_offer():
    """Six 9/9/9/9/8/8-week terms, one place per term in a six-month unit: three rotations
    (terms 1-2, 3-4, 5-6) give 52 weeks; the counting pre-check must not offer less (it
    once left the last term out and declared a feasible generated plan infeasible)."""
    from constraints.explain import _rotations_offered
    from constraints.patterns import Context
    from constraints.rules.measures import worked_weeks

    doc = demand_doc((9, 9, 9, 9, 8, 8), [], 1)
    six = next(u["code"] for u in doc["units"] if u["span_terms"] == 2)
    doc["units"] = [u for u in doc["units"] if u["code"] == six]
    doc["demand"] = [dict(d, min=0, max=1) for d in doc["demand"] if d["unit"] == six]
    doc["locked_lines"], doc["current_lines"] = [], []
    doc["params"].pop("min_lines", None)
    assert _rotations_offered(Context(load_plan(doc)), worked_weeks) >= 52
