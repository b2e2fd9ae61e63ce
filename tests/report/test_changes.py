"""The change report and relabelling: the pairing is optimal (brute force on small cases),
its totals are the stability objective's, and labels keep line identity."""

from __future__ import annotations

import itertools
import json
import random
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from constraints.changes import ChangeReport, change_report, relabel_and_report
from constraints.loading import load_plan
from constraints.plan import FixedLine, Plan, Term
from constraints.solution import SolutionLine
from constraints.solver import solve
from constraints.stability import changed_rotations
from tests.report.benchmark import current_plans

UNITS = ("A", "B", "C")


def bare_plan(term_count: int, current: list[dict[int, str]], locked: int = 0) -> Plan:
    """Only what the pairing reads: terms, current and locked lines."""
    terms = tuple(Term(t, f"Term {t}", 13) for t in range(1, term_count + 1))
    return Plan(
        name="pairing",
        terms=terms,
        units=(),
        demand=(),
        locked_lines=tuple(FixedLine(f"LK-{k + 1:02d}", {1: "A"}) for k in range(locked)),
        current_lines=tuple(FixedLine(f"L-{j + 1:04d}", r) for j, r in enumerate(current)),
    )


def brute_force(term_count: int, new: list[dict[int, str]], current: list[dict[int, str]]) -> int:
    """Fewest changed rotations over every one-to-one pairing of size min(new, current);
    0 with no current lines (nothing to change: docs/engine.md)."""
    if not current:
        return 0

    def cost(x: dict[int, str], y: dict[int, str]) -> int:
        return sum(x.get(t) is None or x.get(t) != y.get(t) for t in range(1, term_count + 1))

    small, large, swap = (new, current, False) if len(new) <= len(current) else (current, new, True)
    best = None
    for chosen in itertools.permutations(range(len(large)), len(small)):
        paired = sum(
            cost(large[k], s) if swap else cost(s, large[k])
            for s, k in zip(small, chosen, strict=True)
        )
        total = paired + term_count * (len(large) - len(small))
        best = total if best is None else min(best, total)
    return best if best is not None else term_count * len(large)


def check_report(plan: Plan, lines: list[SolutionLine], report: ChangeReport) -> None:
    """Internal consistency: every new line once, every current line once, diffs true."""
    current = {c.label: c for c in plan.current_lines}
    by_label = {ln.label: ln for ln in lines}
    news = [ln.label for ln in lines if ln.source == "new"]
    assert sorted(e.label for e in report.lines if e.status != "removed") == sorted(news)
    seen = [e.previous_label for e in report.lines if e.status != "new"]
    assert sorted(seen) == sorted(current)
    for e in (*report.kept, *report.changed):
        new_rot, old_rot = by_label[e.label].rotations, current[e.previous_label].rotations
        differing = [t for t in plan.ordinals if old_rot.get(t) != new_rot[t]]
        assert [c.term for c in e.terms] == differing
        assert all(c.old == old_rot.get(c.term) and c.new == new_rot[c.term] for c in e.terms)
    assert len(report.kept) + len(report.changed) == min(len(news), len(current))


def check_relabel(plan: Plan, before: list[SolutionLine], after: list[SolutionLine]) -> None:
    report = change_report(plan, after)  # read back from the labels alone, as a database would
    assert all(e.label == e.previous_label for e in report.lines if e.status != "new")
    assert Counter(tuple(sorted(ln.rotations.items())) for ln in before) == Counter(
        tuple(sorted(ln.rotations.items())) for ln in after
    )
    labels = [ln.label for ln in after]
    assert len(set(labels)) == len(labels)
    current = {c.label for c in plan.current_lines}
    locked = {c.label for c in plan.locked_lines}
    fresh = [e.label for e in report.new]
    assert not (set(fresh) & (current | locked))
    assert report.changed_rotations == changed_rotations(
        plan.term_count,
        [ln.rotations for ln in after if ln.source == "new"],
        [c.rotations for c in plan.current_lines],
    )


line_strategy = st.dictionaries(st.integers(1, 3), st.sampled_from(UNITS), min_size=3, max_size=3)
partial_strategy = st.dictionaries(st.integers(1, 3), st.sampled_from(UNITS), max_size=3)


@settings(max_examples=300, deadline=None)
@given(
    new=st.lists(line_strategy, max_size=5),
    current=st.lists(partial_strategy, max_size=5),
    locked=st.integers(0, 2),
)
def test_pairing_is_optimal_and_consistent(new, current, locked):
    plan = bare_plan(3, current, locked)
    fixed = [
        SolutionLine(c.label, {1: "A", 2: "A", 3: "A"}, frozenset({1}), "partial")
        for c in plan.locked_lines
    ]
    lines = fixed + [SolutionLine(f"L-{i + 1:03d}", r) for i, r in enumerate(new)]
    report = change_report(plan, lines)
    expected = brute_force(3, new, current)
    assert report.changed_rotations == expected
    assert report.changed_rotations == changed_rotations(3, new, current)
    check_report(plan, lines, report)

    relabelled, relabel_report = relabel_and_report(plan, lines)
    assert relabel_report.changed_rotations == expected
    check_report(plan, relabelled, relabel_report)
    assert relabelled[: len(fixed)] == fixed
    for e in relabel_report.lines:
        if e.status in ("kept", "changed"):
            assert e.label == e.previous_label  # a paired line keeps its label
    check_relabel(plan, lines, relabelled)
    assert (
        ChangeReport.from_json(json.loads(json.dumps(relabel_report.to_json()))) == relabel_report
    )


def test_fresh_labels_follow_the_style_and_never_reuse_a_label():
    plan = bare_plan(2, [{1: "A", 2: "A"}, {1: "B", 2: "B"}, {1: "C", 2: "C"}])
    lines = [SolutionLine(f"L-{i:03d}", {1: u, 2: u}) for i, u in enumerate("AXYZ", 1)]
    relabelled, report = relabel_and_report(plan, lines)
    assert [ln.label for ln in relabelled] == ["L-0001", "L-0002", "L-0003", "L-0004"]
    assert report.totals() == {
        "kept": 1,
        "changed": 2,
        "new": 1,
        "removed": 0,
        "changed_rotations": 6,
    }
    assert [e.label for e in report.new] == ["L-0004"]
    # a removed line's label is never handed to a new line: numbering continues after it
    fewer = [SolutionLine("L-001", {1: "C", 2: "C"})]
    relabelled, report = relabel_and_report(plan, fewer)
    assert [ln.label for ln in relabelled] == ["L-0003"]
    assert sorted(e.label for e in report.removed) == ["L-0001", "L-0002"]


def test_without_current_lines_the_solver_labels_stay():
    plan = bare_plan(2, [])
    lines = [SolutionLine("L-001", {1: "A", 2: "B"})]
    relabelled, report = relabel_and_report(plan, lines)
    assert relabelled == lines
    # the line is listed as new, but with no current lines nothing changed (docs/engine.md)
    assert report.totals()["new"] == 1 and report.changed_rotations == 0


@pytest.mark.parametrize("path", current_plans())
def test_public_current_lines_shuffled_and_perturbed(path):
    """The public plans' current lines at full size (up to 959 lines): a solution made of
    them, shuffled, with some units swapped, some lines dropped and some added."""
    doc = json.loads(path.read_text())
    T = len(doc["terms"])
    current = [{int(t): u for t, u in c["rotations"].items()} for c in doc["current_lines"]]
    codes = [u["code"] for u in doc["units"]]
    rng = random.Random(path.stem)
    new = [dict(c) for c in current if rng.random() > 0.1]
    for line in new:
        for t in range(1, T + 1):
            if rng.random() < 0.15 or t not in line:
                line[t] = rng.choice(codes)
    new += [{t: rng.choice(codes) for t in range(1, T + 1)} for _ in range(len(current) // 8)]
    rng.shuffle(new)
    plan = bare_plan(T, current)
    lines = [SolutionLine(f"L-{i + 1:03d}", r) for i, r in enumerate(new)]
    relabelled, report = relabel_and_report(plan, lines)
    assert report.changed_rotations == changed_rotations(T, new, current)
    check_report(plan, relabelled, report)
    assert all(e.label == e.previous_label for e in report.lines if e.status != "new")
    assert report.kept  # an unperturbed line is found again


@pytest.mark.slow
@pytest.mark.parametrize("path", current_plans())
def test_public_plans_solved_report_totals_equal_the_objective(path):
    # the plan's own time limit: the engine promises a plan within it, not within less
    plan = load_plan(json.loads(path.read_text()))
    result = solve(plan)
    assert result.lines, result.status
    relabelled, report = relabel_and_report(plan, result.lines)
    assert report.changed_rotations == result.objective.changed_rotations
    check_report(plan, relabelled, report)
    kept = {e.label for e in (*report.kept, *report.changed)}
    assert kept <= {c.label for c in plan.current_lines}
