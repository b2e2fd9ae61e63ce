"""Why this many lines and why this fairness (issue 11, part 3): on every public feasible
plan the explanation names a cause whose number is the proven bound, and what it claims
would lower the line count holds when the plan is solved again with that change."""

from __future__ import annotations

import copy
import json
import re

import pytest
from controls import deterministic_control
from small_plans import unit_doc

from constraints import load_plan, solve
from constraints.bounds_explain import Proven, explain_bounds, line_count_causes
from constraints.colgen import Pricers
from constraints.colgen.master import Master
from constraints.patterns import Context
from constraints.solver import EXPLAIN_MARGIN_S, EXPLAIN_MAX_S, EXPLAIN_SHARE
from listener.cli import main
from tests.report.benchmark import benchmark_dir, missing_param

BENCHMARK = benchmark_dir()
BIG = ("l_", "xl_")  # 15-50 s each: marked slow, still run by ./scripts/test

# The line-count causes, each naming the count it forces.
LINE_CAUSES = (
    r"so at least (\d+) lines are needed",
    r"fixes the line count at (\d+) ",
    r"asks for at least (\d+) lines \(min_lines\)",
    r"no plan with fewer than (\d+) lines meets",
    r"The (\d+) locked lines are all the lines",
)
FAIRNESS_CAUSES = (
    r"At most (\d+) service or night rotations? on one line is the least possible",
    r"already has (\d+) service or night rotations?, so some line carries",
)
LOWER = re.compile(
    r"Lowering (\S+)'s minimum in term (\d+) from (\d+) to (\d+) "
    r"(?:would allow (\d+) lines|lowers the proven minimum to (\d+) lines)"
)


def feasible_plans() -> list:
    known_path = BENCHMARK / "best_known.json"
    if not known_path.exists():
        return missing_param("best_known.json", nargs=2)
    known = json.loads(known_path.read_text())
    out = []
    for name, best in sorted(known.items()):
        if name.startswith("_") or best.get("infeasible"):
            continue
        marks = [pytest.mark.slow] if name.startswith(BIG) else []
        out.append(pytest.param(name, best, marks=marks, id=name))
    return out


def read(name: str) -> dict:
    return json.loads((BENCHMARK / "plans" / f"{name}.json").read_text())


def first_number(patterns: tuple[str, ...], sentences: list[str]) -> int | None:
    for sentence in sentences:
        for pattern in patterns:
            m = re.search(pattern, sentence)
            if m:
                return int(m.group(1))
    return None


def check_counting_claims(doc: dict, sentences: list[str]) -> None:
    """Each term-sum sentence's number is its terms' minimum demand (or more, where it says
    six-month rotations add to it), recomputed from the plan file."""
    ordinal = {t["name"]: t["ordinal"] for t in doc["terms"]}
    claim = re.compile(
        r"^(.+?)(?:'s minimum demand|: the minimum demand of each) adds up to (\d+) rotations"
    )
    for sentence in sentences:
        m = claim.match(sentence)
        if not m:
            continue
        names = re.split(r", | and ", m.group(1))
        sums = [sum(d["min"] for d in doc["demand"] if d["term"] == ordinal[n]) for n in names]
        if "six-month" in sentence:
            assert all(s <= int(m.group(2)) for s in sums) and min(sums) < int(m.group(2))
        else:
            assert sums == [int(m.group(2))] * len(names), sentence


@pytest.mark.parametrize(("name", "best"), feasible_plans())
def test_explanation_names_the_proven_line_count_and_fairness(name, best):
    doc = read(name)
    result = solve(load_plan(doc))
    assert result.status in ("OPTIMAL", "FEASIBLE"), result.status
    proven = result.statistics["proven"]
    assert proven["lines"], "the public plans' line counts are proven"
    lines = result.objective.lines
    assert lines == best["lines"] == result.bound["lines"]
    text = result.explanation
    assert first_number(LINE_CAUSES, text) == lines, text
    check_counting_claims(doc, text)
    if proven["fairness"]:
        assert result.objective.max_service_nights == best["max_service_nights"]
        assert first_number(FAIRNESS_CAUSES, text) == best["max_service_nights"], text
    for sentence in text:
        m = LOWER.search(sentence)
        if m:
            assert int(m.group(5) or m.group(6)) < lines, sentence
    # its own small budget: never the reason a solve runs long
    limit = doc["params"]["time_limit_s"]
    spent = result.statistics["timing"]["explain"]
    assert spent <= min(EXPLAIN_SHARE * limit, EXPLAIN_MAX_S) + 1.0
    assert result.statistics["timing"]["total"] <= limit + EXPLAIN_MARGIN_S + 1.0


@pytest.mark.parametrize("name", ["s_pgy1", "s_pgy2", "s_pgy2_locked"])
def test_what_would_lower_the_line_count_holds_when_solved_again(name):
    """The claimed change, made in the plan file, gives a plan with that many lines (an
    independent solve, not the explanation's own LP)."""
    doc = read(name)
    result = solve(load_plan(doc))
    claims = [m for e in result.explanation if (m := LOWER.search(e))]
    assert claims, result.explanation
    unit, term, old, new, allowed, floor = claims[0].groups()
    changed = copy.deepcopy(doc)
    row = next(d for d in changed["demand"] if d["unit"] == unit and d["term"] == int(term))
    assert row["min"] == int(old)
    row["min"] = int(new)
    again = solve(load_plan(changed))
    assert again.statistics["proven"]["lines"]
    if allowed is not None:
        assert again.objective.lines == int(allowed)
    else:
        assert again.objective.lines >= int(floor)
    assert again.objective.lines < result.objective.lines


def _bare(doc: dict, budget_s: float, proven: Proven) -> list[str]:
    """explain_bounds on a master that holds no pattern at all, with `budget_s` seconds."""
    ctx = Context(load_plan(doc))
    control = deterministic_control(30)
    try:
        return explain_bounds(ctx, Master(ctx), Pricers(ctx), control, proven, budget_s)
    finally:
        control.close()


def test_nothing_proven_says_nothing():
    assert _bare(read("s_pgy2"), 5.0, Proven(lines=None, fairness=None, short_cap=0)) == []


def test_without_time_only_the_counting_causes_are_said():
    """No time for an LP: the counting sentences (which need none) and nothing else."""
    doc = read("s_pgy1")
    ctx = Context(load_plan(doc))
    counting, _ = line_count_causes(ctx, 22)
    said = _bare(doc, 0.0, Proven(lines=22, fairness=None, short_cap=0))
    assert said == counting and counting


def test_a_bound_no_count_explains_gets_no_counting_sentence():
    """s_pgy2 needs 23 lines, more than any term's minimum (at most 21): no counting cause
    may claim it; with no time for the LP certificate nothing is said at all."""
    doc = read("s_pgy2")
    ctx = Context(load_plan(doc))
    assert line_count_causes(ctx, 23) == ([], [])
    assert _bare(doc, 0.0, Proven(lines=23, fairness=None, short_cap=0)) == []


def test_shortfall_is_not_explained_as_forced_demand():
    assert _bare(read("s_pgy2"), 5.0, Proven(lines=23, fairness=1, short_cap=2)) == []


def test_solve_prints_why_this_many_lines(tmp_path, capsys):
    """Printed under "Why:", in the solution file and in the report's explanations."""
    path, solution, page = tmp_path / "plan.json", tmp_path / "out.json", tmp_path / "plan.html"
    path.write_text(json.dumps(read("s_pgy1")))
    assert main(["solve", str(path), "-o", str(solution), "--report", str(page)]) == 0
    printed = capsys.readouterr().out
    assert "Why:" in printed
    assert "Term 2's minimum demand adds up to 22 rotations" in printed
    said = json.loads(solution.read_text())["explanation"]
    assert said and said[0].startswith("Term 2's minimum demand adds up to 22 rotations")
    section = page.read_text().split('<section id="explanation">')[1]
    assert "minimum demand adds up to 22 rotations" in section


def test_fairness_the_count_cannot_prove_gets_the_lp_reason():
    """3 lines (term 1 adds up to 3); service needs 3 places in all, so counting allows one
    per line, but term 2 has room for one clinical line only: 4 service rotations on 3
    lines. Only the LP at one service rotation per line proves 2."""
    doc = {
        "name": "fairness by LP",
        "terms": [{"ordinal": t, "name": f"Term {t}", "weeks": 26} for t in (1, 2)],
        "units": [unit_doc(c, "service") for c in ("S", "S2", "S3")]
        + [unit_doc("C1"), unit_doc("C2")],
        "demand": [
            {"unit": "S", "term": 1, "min": 2, "max": 2},
            {"unit": "C1", "term": 1, "min": 1, "max": 1},
            {"unit": "S2", "term": 2, "min": 1, "max": 1},
            {"unit": "C2", "term": 2, "min": 0, "max": 1},
            {"unit": "S3", "term": 2, "min": 0, "max": 3},
        ],
        "constraints": [],
        "params": {"time_limit_s": 20},
    }
    result = solve(load_plan(doc))
    assert result.status == "OPTIMAL"
    assert (result.objective.lines, result.objective.max_service_nights) == (3, 2)
    text = result.explanation
    assert first_number(LINE_CAUSES, text) == 3, text
    assert first_number(FAIRNESS_CAUSES, text) == 2, text
    lp = next(e for e in text if "would stay unfilled" in e)
    assert "with 3 lines: with at most 1 per line, at least 1 place of minimum demand" in lp
    # more lines cannot help: term 1 has places for 3 lines only
    assert any("not possible with any line count the plan allows" in e for e in text), text


def test_six_month_rotations_that_must_cover_a_term_count_toward_it():
    """Term 1 asks for 1 line only, but the six-month unit X (closed in term 3) needs 2 in
    term 2, and those rotations must start in term 1: 3 lines, forced by term 1."""
    doc = {
        "name": "six-month count",
        "terms": [{"ordinal": t, "name": f"Term {t}", "weeks": 17} for t in (1, 2, 3)],
        "units": [{**unit_doc("X"), "span_terms": 2}, unit_doc("A"), unit_doc("B")],
        "demand": [
            {"unit": "X", "term": 1, "min": 0, "max": 2},
            {"unit": "X", "term": 2, "min": 2, "max": 2},
            {"unit": "A", "term": 1, "min": 1, "max": 3},
            {"unit": "A", "term": 2, "min": 0, "max": 3},
            {"unit": "A", "term": 3, "min": 2, "max": 3},
            {"unit": "B", "term": 3, "min": 0, "max": 3},
        ],
        "constraints": [],
        "params": {"time_limit_s": 20},
    }
    result = solve(load_plan(doc))
    assert result.objective.lines == 3 and result.statistics["proven"]["lines"]
    assert first_number(LINE_CAUSES, result.explanation) == 3
    assert result.explanation[0] == (
        "Term 1's minimum demand adds up to 3 rotations (counting the six-month rotations "
        "that must cover it), and a line holds one rotation per term, so at least 3 lines are "
        "needed."
    )
