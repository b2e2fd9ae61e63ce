"""Issue 13, defect 4: a run on a killed worker is retried, not failed.

Two real workers; the one solving is SIGKILLed. The reaper (`planner.reap_stale_runs()`,
the function pg_cron runs) hands the run back to PENDING with a WARNING log row naming the
lost worker and attempt, since attempt 1 < planner_settings.max_attempts (default 2); the
surviving worker claims it (attempt 2) and completes it, exactly once. Killed during
`complete_run` instead, the run is completed exactly once, whichever side of the commit the
kill landed on.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from tests.listener.conftest import FINAL_STATES, ready, wait_for_progress, wait_for_state
from tests.listener.plan_rounds import insert_plan_round, long_plan
from tests.reliability.conftest import insert_run, reap_until_retried
from tests.reliability.faults import Workers

pytestmark = [pytest.mark.reliability, pytest.mark.db, pytest.mark.e2e]

PARAMS = {"time_limit_s": 20, "seed": 0}
STALE_S = 5


@pytest.fixture
def workers(tmp_path: Path, worker_dsn: str) -> Iterator[Workers]:
    fleet = Workers(tmp_path)
    yield fleet
    fleet.stop_all()


async def start_pair(workers: Workers, worker_dsn: str):
    pair = [workers.start(worker_dsn, PLANNER_DB_TIMEOUT_S="5") for _ in range(2)]
    for worker in pair:
        worker.wait_for_log(ready, 60)
    return pair


async def test_sigkill_mid_solve_is_retried_and_completed_by_another_worker(
    conn, empty_queue, workers, worker_dsn, planner_settings, reliability_ledger
):
    await planner_settings.set(stale_after=f"{STALE_S} seconds")  # max_attempts: default 2
    pair = await start_pair(workers, worker_dsn)
    rnd = await insert_plan_round(conn, long_plan())
    run_id = reliability_ledger.track(await insert_run(conn, rnd, params=PARAMS), "COMPLETED")
    await wait_for_progress(conn, run_id, 60)
    owner = await conn.fetchval(
        "select worker_id from allocation_planner_runs where id = $1", run_id
    )
    lost = next(w for w in pair if w.worker_id == owner)
    survivor = next(w for w in pair if w is not lost)

    lost.signal(signal.SIGKILL)
    retry = await reap_until_retried(conn, run_id, STALE_S + 15)
    assert retry["level"] == "WARNING" and owner in retry["message"]
    assert (retry["context"]["worker_id"], retry["context"]["attempt"]) == (owner, 1)

    row = await wait_for_state(conn, run_id, FINAL_STATES, 90)
    assert row["state"] == "COMPLETED", row["error"]
    assert (row["worker_id"], row["attempt"]) == (survivor.worker_id, 2)
    assert not await conn.fetchval(
        "select count(*) from planner_execution_logs "
        "where run_id = $1 and context ->> 'error' = 'Timeout'",
        run_id,
    )
    assert (
        await conn.fetchval(
            "select count(*) from job_lines_history "
            "where planner_run_id = $1 and reason = 'complete'",
            run_id,
        )
        == 1
    )
    assert survivor.alive()


async def test_sigkill_during_complete_run_completes_the_run_exactly_once(
    conn, empty_queue, workers, worker_dsn, planner_settings, reliability_ledger
):
    await planner_settings.set(stale_after=f"{STALE_S} seconds")
    pair = await start_pair(workers, worker_dsn)
    rnd = await insert_plan_round(conn, long_plan())
    run_id = reliability_ledger.track(await insert_run(conn, rnd, params=PARAMS), "COMPLETED")
    await wait_for_progress(conn, run_id, 60)
    owner = await conn.fetchval(
        "select worker_id from allocation_planner_runs where id = $1", run_id
    )
    lost = next(w for w in pair if w.worker_id == owner)
    lost.wait_for_log(
        lambda r: r.get("run_id") == str(run_id) and r["message"].startswith("Solution checked"),
        90,
    )
    lost.signal(signal.SIGKILL)

    deadline = time.monotonic() + STALE_S + 90
    while (state := await conn.fetchval(
        "select state from allocation_planner_runs where id = $1", run_id
    )) not in FINAL_STATES:  # fmt: skip
        assert time.monotonic() < deadline, f"run {run_id} still {state}"
        await conn.fetchval("select planner.reap_stale_runs()")
        await anyio.sleep(0.1)
    row = await conn.fetchrow("select * from allocation_planner_runs where id = $1", run_id)
    assert row["state"] == "COMPLETED", row["error"]
    assert row["attempt"] in (1, 2)  # the commit beat the kill, or the retry did the work
    assert (
        await conn.fetchval(
            "select count(*) from job_lines_history "
            "where planner_run_id = $1 and reason = 'complete'",
            run_id,
        )
        == 1
    )
