"""Per rule set and per clause: complying lines pass the checker, breaking lines are rejected
with a sentence naming the line, the rule set and the units involved."""

from __future__ import annotations

import pytest
from small_plans import PGY1_WEEKS, PGY2_WEEKS, line, small_plan

from constraints.checker import check, explain_line
from constraints.rotations import read_line


def rule_violations(weeks, rule_set: str, *units: str) -> list[str]:
    plan = small_plan(weeks, [rule_set])
    report = check(plan, [line("L-1", *units)])
    # only rule-set sentences: the small plan has no minimum demand and no line limits
    assert all(v.startswith("Line L-1 breaks ") for v in report.violations)
    return report.violations


def assert_breaks(weeks, rule_set: str, units: tuple[str, ...], *fragments: str) -> None:
    found = rule_violations(weeks, rule_set, *units)
    assert found, f"{units} should break {rule_set}"
    for fragment in fragments:
        assert any(fragment in v for v in found), (fragment, found)


# --- NO_NIGHTS / MAX_ONE_NIGHTS / NO_REPEAT_UNIT ------------------------------------------


def test_no_nights_accepts_a_day_line():
    assert rule_violations(PGY2_WEEKS, "NO_NIGHTS", "ED", "GM", "REL", "CARD") == []


def test_no_nights_rejects_a_nights_rotation():
    assert_breaks(
        PGY2_WEEKS,
        "NO_NIGHTS",
        ("ED", "NGT", "REL", "CARD"),
        "Line L-1 breaks NO_NIGHTS: nights rotations is 1, at most 0 allowed: NGT (term 2).",
    )


def test_max_one_nights_accepts_one():
    assert rule_violations(PGY2_WEEKS, "MAX_ONE_NIGHTS", "ED", "NGT", "REL", "CARD") == []


def test_max_one_nights_rejects_two():
    assert_breaks(
        PGY2_WEEKS,
        "MAX_ONE_NIGHTS",
        ("NGT2", "NGT", "REL", "CARD"),
        "MAX_ONE_NIGHTS: nights rotations is 2, at most 1 allowed: NGT2 (term 1), NGT (term 2)",
    )


def test_six_month_nights_counts_once():
    assert rule_violations(PGY2_WEEKS, "MAX_ONE_NIGHTS", "NREL6", "NREL6", "ED", "GM") == []


def test_no_repeat_unit():
    assert rule_violations(PGY2_WEEKS, "NO_REPEAT_UNIT", "ED", "GM", "CARD", "CARD2") == []
    assert_breaks(
        PGY2_WEEKS,
        "NO_REPEAT_UNIT",
        ("GM", "ED", "GM", "REL"),
        "rotations in unit GM is 2, at most 1 allowed: GM (term 1), GM (term 3)",
    )


# --- VIC_PGY2: one test per clause --------------------------------------------------------

PGY2_OK = ("ED", "GM", "REL", "CARD")


def test_vic_pgy2_accepts_a_compliant_line():
    assert rule_violations(PGY2_WEEKS, "VIC_PGY2", *PGY2_OK) == []


def test_vic_pgy2_accepts_exactly_47_weeks_and_25_percent_service():
    # REL: 13 service weeks of 52 (exactly 25%) with 5 leave weeks (exactly 47 worked)
    assert rule_violations(PGY2_WEEKS, "VIC_PGY2", "REL", "ED", "GM", "CARD") == []


@pytest.mark.parametrize(
    ("units", "fragment"),
    [
        (("ED", "GM", "CARD", "LEAVE"), "VIC_PGY2: weeks worked is 39, at least 47 required"),
        (("PSY6", "PSY6", "ICU6", "ICU6"), "VIC_PGY2: different subspecialties is 2, at least 3"),
        (
            ("CARD", "CARD2", "ED", "GM"),
            "rotations in subspecialty Cardiology is 2, at most 1 allowed: CARD (term 1), "
            "CARD2 (term 2)",
        ),
        (("RES", "EDU", "ED", "GM"), "VIC_PGY2: non-clinical rotations is 2, at most 1 allowed"),
        (("CARD", "GS", "ORTH", "REL"), "VIC_PGY2: rotations with experience A is 0, at least 1"),
        (("ED", "GS", "ORTH", "REL"), "VIC_PGY2: rotations with experience B is 0, at least 1"),
        (("GM", "ORTH", "RES", "REL"), "VIC_PGY2: rotations with experience C is 0, at least 1"),
        (("REL", "RELS", "ED", "GM"), "VIC_PGY2: weeks in service rotations is 26, at most 13"),
    ],
    ids=[
        "weeks",
        "subspecialties",
        "one-per-subspecialty",
        "non-clinical",
        "exp-A",
        "exp-B",
        "exp-C",
        "service",
    ],
)
def test_vic_pgy2_rejects(units, fragment):
    found = rule_violations(PGY2_WEEKS, "VIC_PGY2", *units)
    assert len(found) == 1, found  # each line breaks exactly the clause under test
    assert fragment in found[0]


# --- VIC_PGY1: one test per clause --------------------------------------------------------


def test_vic_pgy1_accepts_a_compliant_line():
    assert rule_violations(PGY1_WEEKS, "VIC_PGY1", "ED", "GM", "GS", "REL", "PSY") == []


@pytest.mark.parametrize(
    ("units", "fragment"),
    [
        (("ED", "GM", "GS", "LEAVE", "ORTH"), "VIC_PGY1: weeks worked is 41, at least 47"),
        (("ED", "GM", "CARD", "GS", "ORTH"), "VIC_PGY1: different specialties is 3, at least 4"),
        (("ED", "CARD", "CARD2", "GS", "REL"), "rotations in subspecialty Cardiology is 2"),
        (("CARD", "GS", "REL", "RES", "ORTH"), "VIC_PGY1: rotations with experience A is 0"),
        (("ED", "GS", "REL", "RES", "EDU"), "VIC_PGY1: rotations with experience B is 0"),
        (("GM", "ORTH", "REL", "RES", "EDU"), "VIC_PGY1: rotations with experience C is 0"),
        (("ED", "GM", "REL", "RES", "EDU"), "VIC_PGY1: rotations with experience D is 0"),
    ],
    ids=["weeks", "specialties", "one-per-subspecialty", "exp-A", "exp-B", "exp-C", "exp-D"],
)
def test_vic_pgy1_rejects(units, fragment):
    found = rule_violations(PGY1_WEEKS, "VIC_PGY1", *units)
    assert len(found) == 1, found
    assert fragment in found[0]


def test_vic_pgy1_rejects_more_than_half_the_terms_in_one_specialty():
    # On five terms, three in one specialty also leaves too few specialties: both are named.
    assert_breaks(
        PGY1_WEEKS,
        "VIC_PGY1",
        ("GM", "CARD", "NGT", "ED", "GS"),
        "VIC_PGY1: terms in specialty Medicine is 3, at most 2 allowed: GM (term 1), "
        "CARD (term 2), NGT (term 3)",
        "different specialties is 3",
    )


def test_six_month_rotation_counts_two_terms_of_its_specialty():
    # PSY6 (two terms) + PSY (one term) = three Psychiatry terms of five
    assert_breaks(
        PGY1_WEEKS,
        "VIC_PGY1",
        ("PSY6", "PSY6", "PSY", "ED", "GS"),
        "terms in specialty Psychiatry is 3",
    )


def test_explain_line_is_empty_for_a_compliant_line_and_prefixed_otherwise():
    plan = small_plan(PGY2_WEEKS, ["VIC_PGY2"])
    good = read_line(plan, dict(enumerate(PGY2_OK, 1)))
    bad = read_line(plan, dict(enumerate(("NGT", "NGT2", "REL", "CARD"), 1)))
    assert explain_line(plan, "VIC_PGY2", good) == []
    assert explain_line(plan, "MAX_ONE_NIGHTS", bad) == [
        "MAX_ONE_NIGHTS: nights rotations is 2, at most 1 allowed: NGT (term 1), NGT2 (term 2)."
    ]


def test_every_selected_rule_set_is_checked():
    plan = small_plan(PGY2_WEEKS, ["VIC_PGY2", "NO_NIGHTS"])
    found = check(plan, [line("L-1", "NGT", "GM", "REL", "CARD")]).violations
    assert found == [
        "Line L-1 breaks NO_NIGHTS: nights rotations is 1, at most 0 allowed: NGT (term 1)."
    ]
