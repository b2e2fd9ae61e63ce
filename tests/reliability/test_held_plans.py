"""Issue 13, defects 2 and 3: a solved plan is held until it is written.

The fault starts while a 400-line round is solving, so it is in place when the solve ends
and `complete_run` is first tried (the worker logs "Could not complete run ...; holding");
from that log on it lasts the scenario's duration, then ends. The run must end COMPLETED by
the same worker on attempt 1, with its lines, and the worker must still be alive:

- the database read-only for 40 s (`default_transaction_read_only`, as on a full disk):
  SQLSTATE 25006 used to be taken as the database refusing the lines;
- the worker's role capped at 0 connections and its backends killed, for 30 s (53300);
- PostgreSQL stopped for 45 s (on a cluster of this module's own): longer than the old
  fixed 30 s retry budget.

And a held plan still obeys an operator: a SIGTERM while Postgres is down ends the holding
after PLANNER_SHUTDOWN_GRACE_S (the worker exits, the reaper hands the run back, another
worker completes it).

Holding a fault for a set time is the scenario itself; every wait for an outcome is a
bounded poll of the row or of the worker's log.
"""

from __future__ import annotations

import signal
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import anyio
import asyncpg
import psycopg
import pytest

from listener.local_postgres import LocalPostgres, throwaway_postgres
from listener.migrations import apply_migrations
from tests.conftest import WORKER_PASSWORD, init_connection
from tests.listener.conftest import FINAL_STATES, ready, wait_for_state
from tests.listener.plan_rounds import insert_plan_round, long_plan
from tests.reliability.conftest import insert_run, reap_until_retried, run_row
from tests.reliability.faults import Workers

pytestmark = [pytest.mark.reliability, pytest.mark.db, pytest.mark.e2e, pytest.mark.slow]

PARAMS = {"time_limit_s": 20, "seed": 0}


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    fleet = Workers(tmp_path)
    yield fleet
    fleet.stop_all()


def about(run_id: uuid.UUID, prefix: str, since: float = 0.0):
    return lambda r: (
        r["_received"] >= since
        and r.get("run_id") == str(run_id)
        and r["message"].startswith(prefix)
    )


async def hold_fault_over_the_final_write(
    worker,
    run_id: uuid.UUID,
    *,
    begin: Callable[[], Awaitable[None]],
    end: Callable[[], Awaitable[None]],
    for_s: float,
) -> None:
    """Start the fault mid-solve; end it `for_s` after the final write was first refused."""
    worker.wait_for_log(about(run_id, "Solving in child process"), 60)
    began = time.monotonic()
    await begin()
    try:
        held = worker.wait_for_log(about(run_id, "Could not complete run", began), 90)
        await anyio.sleep(max(0.0, for_s - (time.monotonic() - held["_received"])))
    finally:
        await end()


async def assert_written_by(conn, run_id: uuid.UUID, worker) -> None:
    row = await wait_for_state(conn, run_id, FINAL_STATES, 90)
    assert row["state"] == "COMPLETED", row["error"]
    assert (row["worker_id"], row["attempt"]) == (worker.worker_id, 1)
    assert await conn.fetchval("select count(*) from job_lines where planner_run_id = $1", run_id)
    assert worker.alive(), worker.tail()
    assert not [m for m in worker.messages(run_id) if m.startswith("Run FAILED")]


async def test_a_read_only_database_during_the_final_write(
    conn, empty_queue, workers, worker_dsn, admin_dsn, reliability_ledger
):
    rnd = await insert_plan_round(conn, long_plan())
    worker = workers.start(worker_dsn)
    worker.wait_for_log(ready, 60)
    run_id = reliability_ledger.track(await insert_run(conn, rnd, params=PARAMS), "COMPLETED")
    admin = await asyncpg.connect(admin_dsn)  # ALTER SYSTEM needs the platform's superuser

    async def read_only(on: bool) -> None:
        await admin.execute(f"set default_transaction_read_only = {'on' if on else 'off'}")
        await admin.execute(f"alter system set default_transaction_read_only = {on}")
        await admin.execute("select pg_reload_conf()")

    try:
        await hold_fault_over_the_final_write(
            worker, run_id, begin=lambda: read_only(True), end=lambda: read_only(False), for_s=40
        )
    finally:
        await admin.execute("set default_transaction_read_only = off")
        await admin.execute("alter system reset default_transaction_read_only")
        await admin.execute("select pg_reload_conf()")
        await admin.close()
    await assert_written_by(conn, run_id, worker)


async def test_a_connection_cap_during_the_final_write(
    conn, empty_queue, workers, worker_dsn, reliability_ledger
):
    rnd = await insert_plan_round(conn, long_plan())
    worker = workers.start(worker_dsn)
    worker.wait_for_log(ready, 60)
    run_id = reliability_ledger.track(await insert_run(conn, rnd, params=PARAMS), "COMPLETED")

    async def cap() -> None:
        await conn.execute("alter role planner_worker connection limit 0")
        await conn.execute(
            "select pg_terminate_backend(pid) from pg_stat_activity "
            "where usename = 'planner_worker'"
        )

    async def uncap() -> None:
        await conn.execute("alter role planner_worker connection limit -1")

    try:
        await hold_fault_over_the_final_write(worker, run_id, begin=cap, end=uncap, for_s=30)
    finally:
        await uncap()
    await assert_written_by(conn, run_id, worker)


@pytest.fixture(scope="module")
def outage_cluster(reliability_ledger) -> Iterator[LocalPostgres]:
    """A cluster of this module's own, so stopping it disturbs no other test."""
    with throwaway_postgres() as pg:
        apply_migrations(pg.dsn)
        with psycopg.connect(pg.dsn, autocommit=True) as c:
            c.execute(f"alter role planner_worker password '{WORKER_PASSWORD}'")
        yield pg
        if not pg.executor.running():
            pg.start()
        anyio.run(reliability_ledger.audit, pg.dsn)


async def test_a_45_s_outage_during_the_final_write(outage_cluster, workers, reliability_ledger):
    pg = outage_cluster
    conn = await asyncpg.connect(pg.dsn)
    await init_connection(conn)
    rnd = await insert_plan_round(conn, long_plan())
    worker = workers.start(pg.dsn_for("planner_worker", WORKER_PASSWORD))
    worker.wait_for_log(ready, 60)
    run_id = await insert_run(conn, rnd, params=PARAMS)
    reliability_ledger.track(run_id, "COMPLETED", dsn=pg.dsn)
    await conn.close()

    async def stop() -> None:
        await anyio.to_thread.run_sync(pg.stop)

    async def start() -> None:
        if not pg.executor.running():
            await anyio.to_thread.run_sync(pg.start)

    await hold_fault_over_the_final_write(worker, run_id, begin=stop, end=start, for_s=45)
    conn = await asyncpg.connect(pg.dsn)
    await init_connection(conn)
    try:
        await assert_written_by(conn, run_id, worker)
    finally:
        await conn.close()


async def test_sigterm_while_holding_a_plan_exits_after_the_grace(
    outage_cluster, workers, reliability_ledger
):
    """Postgres is down when the solve ends, so the worker holds its plan; a SIGTERM then
    bounds the holding by PLANNER_SHUTDOWN_GRACE_S: the worker logs that it leaves the run
    and exits, although the database is still down. The run is not lost: once the database
    is back the reaper hands it back to PENDING and another worker completes it (attempt 2)."""
    pg, grace_s = outage_cluster, 3
    conn = await asyncpg.connect(pg.dsn)
    await init_connection(conn)
    stale_after = await conn.fetchval("select stale_after::text from planner_settings")
    await conn.execute("update planner_settings set stale_after = '5 seconds', max_attempts = 2")
    rnd = await insert_plan_round(conn, long_plan())
    dsn = pg.dsn_for("planner_worker", WORKER_PASSWORD)
    worker = workers.start(dsn, PLANNER_SHUTDOWN_GRACE_S=str(grace_s))
    worker.wait_for_log(ready, 60)
    run_id = await insert_run(conn, rnd, params=PARAMS)
    reliability_ledger.track(run_id, "COMPLETED", dsn=pg.dsn)
    await conn.close()
    try:
        worker.wait_for_log(about(run_id, "Solving in child process"), 60)
        began = time.monotonic()
        await anyio.to_thread.run_sync(pg.stop)
        worker.wait_for_log(about(run_id, "Could not complete run", began), 90)
        signalled = time.monotonic()
        worker.signal(signal.SIGTERM)
        # The grace, plus one database call in flight (PLANNER_DB_TIMEOUT_S 3 s) and the
        # bounded deregistration at exit (3 s): a worker that held on for ever fails here.
        code = await anyio.to_thread.run_sync(worker.wait_exit, grace_s + 3 + 3 + 4)
        took = time.monotonic() - signalled
        assert code == 0, worker.tail()
        assert took >= grace_s - 0.5, f"exited {took:.1f}s after SIGTERM, before the grace"
        left = worker.wait_for_log(about(run_id, "Shutdown grace"), 1)
        assert "leaving the run GENERATING" in left["message"]
        assert not [m for m in worker.messages(run_id) if m.startswith("Run FAILED")]
    finally:
        if not pg.executor.running():
            await anyio.to_thread.run_sync(pg.start)

    conn = await asyncpg.connect(pg.dsn)
    await init_connection(conn)
    try:
        row = await run_row(conn, run_id)
        assert (row["state"], row["worker_id"]) == ("GENERATING", worker.worker_id), row
        survivor = workers.start(dsn)
        retry = await reap_until_retried(conn, run_id, 30)
        assert retry["context"]["worker_id"] == worker.worker_id, retry
        row = await wait_for_state(conn, run_id, FINAL_STATES, 90)
        assert row["state"] == "COMPLETED", row["error"]
        assert (row["worker_id"], row["attempt"]) == (survivor.worker_id, 2)
    finally:
        await conn.execute(
            "update planner_settings set stale_after = $1::text::interval", stale_after
        )
        await conn.close()
