"""Plan loading: every problem is reported with its field and value, all at once."""

from __future__ import annotations

import copy

import pytest
from small_plans import small_doc

from constraints.limits import LIMITS
from constraints.loading import PlanError, Problem, load_plan, plan_to_doc
from constraints.rules import known_rule_sets


def base() -> dict:
    return small_doc(
        constraints=["VIC_PGY2"],
        locked_lines=[{"label": "L-01", "rotations": {"1": "ED", "2": "GM"}}],
        current_lines=[{"label": "L-02", "rotations": {"1": "GM", "2": "ED", "3": "REL"}}],
        params={"min_lines": 2, "max_lines": 8, "time_limit_s": 5, "seed": 3},
    )


def problems(doc: object) -> list[str]:
    with pytest.raises(PlanError) as caught:
        load_plan(doc)
    lines = str(caught.value).splitlines()
    assert len(lines) == len(caught.value.problems)
    return lines


def test_valid_plan_loads_and_round_trips():
    plan = load_plan(base())
    assert plan.term_count == 4
    assert plan.locked_lines[0].rotations == {1: "ED", 2: "GM"}
    assert plan.params.time_limit_s == 5.0 and plan.params.seed == 3
    assert load_plan(plan_to_doc(plan)) == plan


def test_problem_formats_field_value_message():
    assert str(Problem("demand[3].min", -1, "must be >= 0")) == "demand[3].min: -1: must be >= 0"


def test_negative_min_names_field_and_value():
    doc = base()
    doc["demand"][3]["min"] = -1
    assert problems(doc) == ["demand[3].min: -1: must be >= 0"]


def test_min_above_max():
    doc = base()
    doc["demand"][0].update(min=5, max=2)
    assert problems(doc) == ["demand[0].min: 5: must not exceed max (2)"]


def test_unknown_unit_in_demand_and_locks():
    doc = base()
    doc["demand"][0]["unit"] = "NOPE"
    doc["locked_lines"][0]["rotations"]["2"] = "GONE"
    found = problems(doc)
    assert "demand[0].unit: 'NOPE': unknown unit (not in units)" in found
    assert "locked_lines[0].rotations.2: 'GONE': unknown unit (not in units)" in found


def test_duplicates_codes_rows_labels():
    doc = base()
    doc["units"][1]["code"] = "ED"
    doc["demand"].append(dict(doc["demand"][0]))
    doc["current_lines"][0]["label"] = "L-01"
    found = "\n".join(problems(doc))
    assert "units[1].code: 'ED': duplicate unit code (also units[0])" in found
    assert f"demand[{len(doc['demand']) - 1}]: 'ED term 1': duplicate demand row" in found
    assert "current_lines[0].label: 'L-01': duplicate label (also locked_lines[0])" in found


def test_terms_must_be_numbered_one_to_t():
    doc = base()
    doc["terms"][1]["ordinal"] = 7
    assert problems(doc) == ["terms: [1, 3, 4, 7]: ordinals must be 1..4, each exactly once"]


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("weeks", 0, "terms[0].weeks: 0: must be >= 1"),
        ("weeks", "13", "terms[0].weeks: '13': must be a whole number, not a string"),
        ("weeks", True, "terms[0].weeks: True: must be a whole number, not a boolean"),
        ("weeks", None, "terms[0].weeks: None: must be a whole number, not null"),
        ("weeks", 60, f"terms[0].weeks: 60: must be <= {LIMITS['term_weeks']}"),
    ],
)
def test_term_weeks(key, value, expected):
    doc = base()
    doc["terms"][0][key] = value
    assert expected in problems(doc)


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("kind", "locum", "units[0].kind: 'locum': unknown kind; use one of clinical, "),
        ("experiences", ["A", "E"], "units[0].experiences[1]: 'E': unknown AMC experience"),
        ("span_terms", 3, "units[0].span_terms: 3: must be 1 or 2"),
        ("nights", "no", "units[0].nights: 'no': must be true or false, not a string"),
        ("leave_weeks", -2, "units[0].leave_weeks: -2: must be >= 0"),
        ("code", None, "units[0].code: None: must be a string, not null"),
    ],
)
def test_unit_fields(key, value, expected):
    doc = base()
    doc["units"][0][key] = value
    assert any(p.startswith(expected) for p in problems(doc))


def test_missing_key_is_reported():
    doc = base()
    del doc["units"][0]["specialty"]
    assert problems(doc) == ["units[0].specialty: (missing): is required"]


def six_month_doc(open_terms: list[int], *, min_: int = 0) -> dict:
    doc = base()
    doc["demand"] = [d for d in doc["demand"] if d["unit"] != "PSY6"]
    doc["demand"] += [{"unit": "PSY6", "term": t, "min": min_, "max": 2} for t in open_terms]
    return doc


@pytest.mark.parametrize("open_terms, min_", [([4], 0), ([1, 3], 0), ([1, 2, 4], 1)])
def test_six_month_unit_without_a_placement_loads(open_terms, min_):
    """Not malformed (DOMAIN.md): the unit is unusable, or the plan infeasible (the solver says)."""
    plan = load_plan(six_month_doc(open_terms, min_=min_))
    assert {d.term for d in plan.demand if d.unit == "PSY6"} == set(open_terms)


def test_locks_on_closed_or_unfittable_unit_terms_load():
    """Impossible, not malformed: the solver explains these (tests/engine/test_domain_shapes)."""
    doc = base()
    doc["demand"] = [d for d in doc["demand"] if (d["unit"], d["term"]) != ("GM", 2)]
    assert load_plan(doc).locked_lines[0].rotations == {1: "ED", 2: "GM"}
    doc = base()
    doc["locked_lines"][0]["rotations"] = {"1": "ED", "2": "PSY6", "3": "GM"}
    assert load_plan(doc).locked_lines[0].rotations == {1: "ED", 2: "PSY6", 3: "GM"}


def test_locked_six_month_half_with_free_neighbour_is_fine():
    doc = base()
    doc["locked_lines"][0]["rotations"] = {"1": "ED", "2": "PSY6"}
    assert load_plan(doc).locked_lines[0].rotations == {1: "ED", 2: "PSY6"}


def test_unknown_rule_set_lists_known_ones():
    doc = base()
    doc["constraints"] = ["VIC_PGY2", "VIC_PGY3"]
    known = ", ".join(known_rule_sets())
    assert problems(doc) == [
        f"constraints[1]: 'VIC_PGY3': unknown rule set; known rule sets are: {known}"
    ]


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("min_lines", "2", "params.min_lines: '2': must be a whole number, not a string"),
        ("max_lines", -1, "params.max_lines: -1: must be >= 0"),
        ("time_limit_s", "fast", "params.time_limit_s: 'fast': must be a number of seconds"),
        ("time_limit_s", 0, "params.time_limit_s: 0: must be a positive number of seconds"),
        ("seed", 1.5, "params.seed: 1.5: must be a whole number, not a decimal number"),
        ("allow_shortfall", 1, "params.allow_shortfall: 1: must be true or false, not a number"),
        ("deterministic", "yes", "params.deterministic: 'yes': must be true or false"),
        ("max_line", 3, "params.max_line: 3: unknown parameter"),
    ],
)
def test_params_of_the_wrong_type(key, value, expected):
    doc = base()
    doc["params"][key] = value
    assert any(p.startswith(expected) for p in problems(doc))


def test_min_lines_above_max_lines():
    doc = base()
    doc["params"].update(min_lines=9, max_lines=8)
    assert problems(doc) == ["params.min_lines: 9: must not exceed params.max_lines (8)"]


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("params.time_limit_s", LIMITS["time_limit_s"] + 1, f"must be <= {LIMITS['time_limit_s']}"),
        ("params.max_lines", LIMITS["lines"] + 1, f"must be <= {LIMITS['lines']}"),
    ],
)
def test_param_limits_say_the_limit(path, value, expected):
    doc = base()
    doc["params"][path.split(".")[1]] = value
    assert any(p.startswith(f"{path}: {value}: {expected}") for p in problems(doc))


def test_too_many_terms_names_the_limit():
    doc = base()
    doc["terms"] = [{"ordinal": i, "weeks": 1} for i in range(1, LIMITS["terms"] + 2)]
    found = problems(doc)
    assert (
        f"terms: '{LIMITS['terms'] + 1} items': too many: the limit is {LIMITS['terms']} terms"
        in found
    )


def test_too_many_units_names_the_limit():
    doc = base()
    unit = doc["units"][0]
    doc["units"] = [dict(unit, code=f"U{i}") for i in range(LIMITS["units"] + 1)]
    found = "\n".join(problems(doc))
    assert f"too many: the limit is {LIMITS['units']} units" in found


def test_all_problems_reported_at_once():
    doc = base()
    doc["terms"][0]["weeks"] = -3
    doc["units"][2]["kind"] = "weird"
    doc["demand"][5]["max"] = "many"
    doc["constraints"] = ["NOPE"]
    doc["params"]["seed"] = "x"
    doc["locked_lines"][0]["label"] = 7
    found = problems(doc)
    fields = {p.split(":")[0] for p in found}
    assert {
        "terms[0].weeks",
        "units[2].kind",
        "demand[5].max",
        "constraints[0]",
        "params.seed",
        "locked_lines[0].label",
    } <= fields


@pytest.mark.parametrize("junk", [None, [], "plan", 3, 2.5, True])
def test_non_object_document(junk):
    assert problems(junk)[0].startswith(f"plan: {junk!r}: must be a JSON object")


def test_unknown_top_level_key_is_reported():
    doc = base()
    doc["locked_line"] = []
    assert problems(doc)[0].startswith("locked_line: []: unknown key")


def test_problems_are_values_not_a_traceback():
    doc = copy.deepcopy(base())
    doc["units"] = "everything"
    with pytest.raises(PlanError) as caught:
        load_plan(doc)
    assert caught.value.problems[0] == Problem("units", "everything", "must be a list")
    assert "Traceback" not in str(caught.value)
