"""A COMPLETED run's result says why it has this many lines (issue 11, part 3): the
engine's explanation goes through a real worker and planner.complete_run into the row."""

from __future__ import annotations

import json

import pytest

from tests.listener.conftest import FINAL_STATES, ready, wait_for_state
from tests.listener.plan_rounds import insert_plan_round
from tests.report.benchmark import benchmark_dir, missing

pytestmark = [pytest.mark.e2e, pytest.mark.db]


async def test_completed_run_result_carries_the_line_count_explanation(
    conn, empty_queue, start_worker
):
    path = benchmark_dir() / "plans" / "s_pgy2_current.json"
    if not path.exists():
        missing(f"plan {path.name}")
    doc = json.loads(path.read_text())
    rnd = await insert_plan_round(conn, doc)
    worker = start_worker()
    worker.wait_for_log(ready, 30)
    run_id = await conn.fetchval(
        "insert into allocation_planner_runs (organization_id, allocation_run_id, constraints, "
        "params) values ($1, $2, $3, $4) returning id",
        rnd.organization_id,
        rnd.allocation_run_id,
        doc["constraints"],
        {**doc["params"], "time_limit_s": 20},
    )
    row = await wait_for_state(conn, run_id, FINAL_STATES, 90)
    assert row["state"] == "COMPLETED", row["error"]
    result = row["result"]
    assert result["objective"]["lines"] == 20
    # Term 1's minimum demand of the public plan adds up to 20: the cause of the 20 lines
    assert (
        "Term 1's minimum demand adds up to 20 rotations, and a line holds one rotation per "
        "term, so at least 20 lines are needed."
    ) in result["explanation"]
    assert any("service or night rotation" in e for e in result["explanation"])
