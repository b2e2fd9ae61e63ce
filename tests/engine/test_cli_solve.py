"""`receptor-planner solve`: exit 0 solved, 1 bad input, 2 infeasible (with the reasons)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from constraints.generator import generate_plan
from listener.cli import main

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo-plan.json"


def write(tmp_path: Path, doc) -> Path:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(doc))
    return path


def test_solves_the_demo_plan(tmp_path, capsys):
    out = tmp_path / "solution.json"
    assert main(["solve", str(DEMO), "-o", str(out), "--time-limit", "20"]) == 0
    printed = capsys.readouterr().out
    assert "L-001" in printed and "Term 1" in printed and "🔒" in printed
    solution = json.loads(out.read_text())
    assert solution["status"] in ("OPTIMAL", "FEASIBLE")
    assert len(solution["lines"]) == solution["objective"]["lines"] >= 1


def test_infeasible_plan_exits_2_with_the_explanation(tmp_path, capsys):
    doc = generate_plan("PGY2", 24, seed=1, variant="term_demand_over_max_lines")
    assert main(["solve", str(write(tmp_path, doc))]) == 2
    printed = capsys.readouterr().out
    assert "INFEASIBLE" in printed
    assert "minimum demand adds up to" in printed


def test_plan_problems_exit_1_with_every_message(tmp_path, capsys):
    doc = json.loads(DEMO.read_text())
    doc["demand"][0]["min"] = -1
    doc["constraints"] = ["VIC_PGY9"]
    assert main(["solve", str(write(tmp_path, doc))]) == 1
    errors = capsys.readouterr().err
    assert "demand[0].min: -1: must be >= 0" in errors
    assert "constraints[0]: 'VIC_PGY9': unknown rule set" in errors
    assert "Traceback" not in errors


def test_command_line_overrides_are_validated(capsys):
    assert main(["solve", str(DEMO), "--time-limit", "0"]) == 1
    assert "params.time_limit_s: 0.0: must be a positive number" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("content", "message"),
    [("{not json", "is not valid JSON"), (b"\xff\xfe\x00", "Cannot read")],
)
def test_unreadable_files_exit_1(tmp_path, capsys, content, message):
    path = tmp_path / "plan.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    assert main(["solve", str(path)]) == 1
    assert message in capsys.readouterr().err


def test_missing_file_exits_1(tmp_path, capsys):
    assert main(["solve", str(tmp_path / "absent.json")]) == 1
    assert "Cannot read" in capsys.readouterr().err


def test_json_that_is_not_a_plan_exits_1(tmp_path, capsys):
    assert main(["solve", str(write(tmp_path, [1, 2, 3]))]) == 1
    assert "plan: [1, 2, 3]: must be a JSON object" in capsys.readouterr().err
