"""`receptor-planner solve` with the change report: printed, in the solution file under
`changes` (the other keys kept, the lines under their kept labels), and `--report` HTML."""

from __future__ import annotations

import json
from pathlib import Path

from constraints.changes import ChangeReport
from constraints.checker import check
from constraints.loading import load_plan
from constraints.solution import SolutionLine
from listener.cli import main
from listener.report.data import Coverage, ReportData, ReportLine, ReportTerm, ReportUnit
from listener.report.html import render

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo-plan.json"
SOLUTION_KEYS = {
    "status",
    "lines",
    "objective",
    "bound",
    "explanation",
    "shortfall",
    "statistics",
    "pairing",
}


def test_solve_prints_and_writes_the_change_report(tmp_path, capsys):
    out, page = tmp_path / "solution.json", tmp_path / "plan.html"
    code = main(["solve", str(DEMO), "-o", str(out), "--report", str(page), "--time-limit", "20"])
    assert code == 0
    printed = capsys.readouterr().out
    solution = json.loads(out.read_text())
    assert set(solution) == SOLUTION_KEYS | {"changes"}
    changes = ChangeReport.from_json(solution["changes"])
    assert solution["changes"]["totals"] == changes.totals()
    assert changes.changed_rotations == solution["objective"]["changed_rotations"]

    plan = load_plan(json.loads(DEMO.read_text()))
    lines = [SolutionLine.from_json(ln) for ln in solution["lines"]]
    assert check(plan, lines).ok
    current = {c.label: c.rotations for c in plan.current_lines}
    by_label = {ln.label: ln.rotations for ln in lines}
    for entry in (*changes.kept, *changes.changed):
        assert entry.label == entry.previous_label in current  # the kept label
        differing = [
            t for t in plan.ordinals if current[entry.label].get(t) != by_label[entry.label][t]
        ]
        assert [c.term for c in entry.terms] == differing
    for entry in changes.new:
        assert entry.label not in current

    totals = changes.totals()
    assert (
        f"{totals['kept']} kept, {totals['changed']} changed, {totals['new']} new, "
        f"{totals['removed']} removed; {totals['changed_rotations']} changed rotations"
    ) in printed
    for entry in changes.changed:
        assert entry.label in printed
        for term in entry.terms:
            assert term.new in printed
    html = page.read_text()
    assert html.startswith("<!DOCTYPE html>")
    assert all(f">{ln.label}<" in html for ln in lines)


def test_unwritable_report_exits_1(tmp_path, capsys):
    target = tmp_path / "missing-dir" / "plan.html"
    assert main(["solve", str(DEMO), "--report", str(target), "--time-limit", "20"]) == 1
    assert "Cannot write" in capsys.readouterr().err


def test_shortfall_is_red_and_over_max_is_flagged():
    data = ReportData(
        title="t",
        origin="o",
        status="FEASIBLE",
        constraints=(),
        terms=(ReportTerm(1, "Term 1", 13),),
        units=(
            ReportUnit("ED", "Emergency", "Emergency Medicine", "clinical", False, 1),
            ReportUnit("GM", "General Medicine", "Medicine", "clinical", False, 1),
        ),
        lines=(ReportLine("L-1", {1: "ED"}, frozenset(), "new"),),
        coverage=(Coverage("ED", 1, 3, 4, 1), Coverage("GM", 1, 0, 1, 2)),
        fairness=((0, 0),),
        objective={"shortfall": 2},
        changes=None,
        explanation=(),
        current_line_count=0,
    )
    html = render(data)
    assert '<td class="num short">1 / 3-4 (-2)</td>' in html
    assert '<td class="num over">2 / 0-1</td>' in html
    assert "2 minimum place(s) are not filled" in html
    assert "<li><b>2</b> missing minimum demand</li>" in html


def test_an_infeasible_plan_reports_its_explanation(tmp_path, capsys):
    doc = json.loads(DEMO.read_text())
    doc["params"]["max_lines"] = doc["params"]["min_lines"] = 2
    plan_file, page = tmp_path / "plan.json", tmp_path / "plan.html"
    plan_file.write_text(json.dumps(doc))
    assert main(["solve", str(plan_file), "--report", str(page), "--time-limit", "20"]) == 2
    html = page.read_text()
    assert "No lines: the solve ended INFEASIBLE" in html
    assert "only 2 lines are allowed" in html
