"""`receptor-planner report RUN_ID` against the throwaway database, after a real worker
completed the run: the same HTML page, read from the run's organisation and round only."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from constraints.changes import change_report
from constraints.loading import load_plan
from listener.report.database import solution_lines
from listener.sql import query
from tests.listener.conftest import FINAL_STATES, ready, start_worker, wait_for_state
from tests.listener.plan_rounds import insert_plan_round
from tests.report.benchmark import benchmark_dir, missing
from tests.report.chromium import CHROMIUM, open_page

pytestmark = [pytest.mark.e2e, pytest.mark.db]
__all__ = ["start_worker"]  # the worker fixture, shared with tests/listener
REPO = Path(__file__).resolve().parents[2]
REPORT_QUERIES = ("terms", "units", "demand", "lines", "previous_lines")


def public_plan() -> dict:
    path = benchmark_dir() / "plans" / "s_pgy2_current.json"
    if not path.exists():
        missing(f"plan {path.name}")
    return json.loads(path.read_text())


def report(dsn: str | None, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    if dsn is not None:
        env["DATABASE_URL"] = dsn
    return subprocess.run(
        [sys.executable, "-m", "listener", "report", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def insert_run(conn, rnd, doc) -> uuid.UUID:
    return await conn.fetchval(
        "insert into allocation_planner_runs (organization_id, allocation_run_id, constraints, "
        "params) values ($1, $2, $3, $4) returning id",
        rnd.organization_id,
        rnd.allocation_run_id,
        doc["constraints"],
        {**doc["params"], "time_limit_s": 20},
    )


async def complete(conn, rnd, doc, worker) -> dict:
    run_id = await insert_run(conn, rnd, doc)
    row = await wait_for_state(conn, run_id, FINAL_STATES, 90)
    assert row["state"] == "COMPLETED", row["error"]
    return row


async def test_report_of_a_completed_run(conn, empty_queue, start_worker, db_dsn, tmp_path):
    doc = public_plan()
    rnd = await insert_plan_round(conn, doc)
    other = await insert_plan_round(conn, doc)  # same codes and labels, another organisation
    worker = start_worker()
    worker.wait_for_log(ready, 30)
    row = await complete(conn, rnd, doc, worker)

    out = tmp_path / "run.html"
    done = report(db_dsn, str(row["id"]), "-o", str(out))
    assert done.returncode == 0, done.stderr
    html = out.read_text()

    labels = await conn.fetch(
        "select label from job_lines where allocation_run_id = $1 order by label",
        rnd.allocation_run_id,
    )
    shown = re.findall(r'<th scope="row" class="line">([^<]+)<', html)
    assert sorted(shown) == [r["label"] for r in labels]
    assert len(shown) == row["result"]["line_count"]
    # the change report recomputed from the replaced lines matches the engine's objective
    changed = row["result"]["objective"]["changed_rotations"]
    assert f"<li><b>{changed}</b> changed rotations</li>" in html
    assert html.count('title="changed"') > 0
    other_lines = await conn.fetchval(
        "select count(*) from job_lines where allocation_run_id = $1", other.allocation_run_id
    )
    assert other_lines == len(doc["current_lines"])  # untouched, and not in the report
    assert html.count('<th scope="row" class="line">') == len(shown)

    # a change report stored in the result (the worker's, once it relabels) is the one shown
    rows = await conn.fetch(query("report_lines"), row["id"])
    stored = change_report(load_plan(doc), solution_lines(rows)).to_json()
    paired = next(e for e in stored["lines"] if e["status"] in ("kept", "changed"))
    paired["previous_label"] = "L-STORED"
    await conn.execute(
        "update allocation_planner_runs set result = result || jsonb_build_object('changes', "
        "$2::jsonb) where id = $1",
        row["id"],
        stored,
    )
    again = tmp_path / "stored.html"
    assert report(db_dsn, str(row["id"]), "-o", str(again)).returncode == 0
    assert "was L-STORED" in again.read_text() and "was L-STORED" not in html

    if CHROMIUM is not None:
        page = open_page(out.as_uri(), tmp_path / "profile", "--dump-dom")
        assert page.console == []
        for unit in doc["units"]:
            assert f">{unit['code']}</th>" in page.stdout


async def test_a_replaced_run_and_unreportable_runs_say_why(
    conn, empty_queue, start_worker, db_dsn, tmp_path
):
    doc = public_plan()
    rnd = await insert_plan_round(conn, doc)
    worker = start_worker()
    worker.wait_for_log(ready, 30)
    first = await complete(conn, rnd, doc, worker)
    await complete(conn, rnd, doc, worker)

    done = report(db_dsn, str(first["id"]), "-o", str(tmp_path / "old.html"))
    assert done.returncode == 1
    assert "have since been replaced" in done.stderr
    assert not (tmp_path / "old.html").exists()

    cancelled = await insert_run(conn, rnd, doc)
    await conn.execute(
        "update allocation_planner_runs set state = 'CANCELLED' where id = $1", cancelled
    )
    done = report(db_dsn, str(cancelled))
    assert done.returncode == 1 and "is CANCELLED" in done.stderr

    unknown = uuid.uuid4()
    done = report(db_dsn, str(unknown))
    assert done.returncode == 1 and f"no planner run {unknown}" in done.stderr


def test_without_database_url_it_says_so():
    done = report(None, str(uuid.uuid4()))
    assert done.returncode == 2 and "DATABASE_URL is not set" in done.stderr


@pytest.mark.parametrize("name", REPORT_QUERIES)
def test_every_report_query_is_scoped_by_the_run_row(name):
    """Each query starts from the run ($1) and joins on its organisation and round."""
    sql = query(f"report_{name}")
    assert "WHERE r.id = $1::uuid" in sql
    assert sql.count("organization_id = r.organization_id") >= 1
    assert "allocation_run_id = r.allocation_run_id" in sql
