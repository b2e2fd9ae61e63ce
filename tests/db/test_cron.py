"""pg_cron: the jobs are scheduled by name, idempotently, and the reaper really ticks."""

from __future__ import annotations

import asyncio
import time

import psycopg
import pytest

from listener.migrations import apply_sql_file, migration_files

from .helpers import claim, insert_run

pytestmark = pytest.mark.db

JOBS = {
    "planner-reap-stale-runs": ("* * * * *", "select planner.reap_stale_runs()"),
    "planner-cron-history-cleanup": (
        "17 3 * * *",
        "delete from cron.job_run_details where end_time < now() - interval '7 days'",
    ),
}


async def jobs(conn) -> dict:
    return {
        r["jobname"]: (r["schedule"], r["command"])
        for r in await conn.fetch("select * from cron.job")
    }


async def test_jobs_are_scheduled_and_rescheduling_is_idempotent(conn, db_dsn):
    assert await jobs(conn) == JOBS
    cron_migration = next(p for p in migration_files() if p.stem.endswith("_planner_cron"))
    with psycopg.connect(db_dsn, autocommit=True) as c:
        apply_sql_file(c, cron_migration)
        apply_sql_file(c, cron_migration)
    assert await jobs(conn) == JOBS


@pytest.mark.slow
@pytest.mark.usefixtures("empty_queue")
async def test_a_real_cron_tick_reaps_a_stale_run(conn, make_round):
    rnd = await make_round()
    run_id = await insert_run(conn, rnd)
    await claim(conn, "gone-worker")
    await conn.execute(
        "update allocation_planner_runs set heartbeat_at = now() - interval '5 minutes' "
        "where id = $1",
        run_id,
    )

    # pg_cron fires at the top of each minute: poll the row (no event exists for "a job ran")
    deadline = time.monotonic() + 75
    while (
        state := await conn.fetchval(
            "select state from allocation_planner_runs where id = $1", run_id
        )
    ) == "GENERATING":
        assert time.monotonic() < deadline, "pg_cron did not reap the stale run within 75 s"
        await asyncio.sleep(0.5)
    # attempt 1 of planner_settings.max_attempts (default 2): handed back for a retry, with
    # a log row naming the lost worker (…000500_planner_workers.sql); the last attempt fails.
    assert state == "PENDING"
    assert (
        await conn.fetchval(
            "select context ->> 'worker_id' from planner_execution_logs "
            "where run_id = $1 and context ->> 'error' = 'Retry'",
            run_id,
        )
        == "gone-worker"
    )
    await conn.execute(  # no later test's worker should pick it up
        "update allocation_planner_runs set state = 'CANCELLED' where id = $1", run_id
    )
    assert (
        await conn.fetchval(
            """select count(*) from cron.job_run_details d join cron.job j using (jobid)
           where j.jobname = 'planner-reap-stale-runs' and d.status = 'succeeded'"""
        )
        >= 1
    )
