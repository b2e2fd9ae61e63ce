"""The worker registry: planner_workers, its API, the sweep by the reaper job, and a real
worker registering, refreshing and deregistering itself."""

from __future__ import annotations

import signal
import socket
import uuid

import anyio
import asyncpg
import pytest

from tests.db.helpers import as_user
from tests.listener.conftest import FINAL_STATES, ready, wait_for_row, wait_for_state

pytestmark = [pytest.mark.db]


@pytest.fixture
async def worker_conn(worker_dsn):
    connection = await asyncpg.connect(worker_dsn)
    try:
        yield connection
    finally:
        await connection.close()


async def entry(conn, worker_id: str):
    row = await conn.fetchrow("select * from planner_workers where worker_id = $1", worker_id)
    return None if row is None else dict(row)


def wid() -> str:
    return f"reg-{uuid.uuid4().hex[:8]}"


async def test_register_refresh_deregister_as_the_worker_role(conn, worker_conn):
    worker_id = wid()
    clash = await worker_conn.fetchval(
        "select planner.register_worker($1, 'host-a', 4242, '1.2.3', now() - interval '1 minute')",
        worker_id,
    )
    assert clash is False
    row = await entry(conn, worker_id)
    assert (row["host"], row["pid"], row["version"], row["state"]) == (
        "host-a",
        4242,
        "1.2.3",
        "idle",
    )
    assert row["current_run_id"] is None and row["started_at"] < row["last_seen_at"]

    run_id = uuid.uuid4()
    assert await worker_conn.fetchval("select planner.worker_seen($1, $2)", worker_id, run_id)
    row2 = await entry(conn, worker_id)
    assert (row2["current_run_id"], row2["state"]) == (run_id, "solving")
    assert row2["last_seen_at"] >= row["last_seen_at"]
    assert await worker_conn.fetchval("select planner.worker_seen($1, null, 'stopping')", worker_id)
    assert (await entry(conn, worker_id))["state"] == "stopping"

    deregister = "select planner.deregister_worker($1, 'host-a', 4242)"
    assert await worker_conn.fetchval(deregister, worker_id)
    assert await entry(conn, worker_id) is None
    # gone: worker_seen says so (the worker then registers again), deregister is a no-op
    assert not await worker_conn.fetchval("select planner.worker_seen($1, null)", worker_id)
    assert not await worker_conn.fetchval(deregister, worker_id)


async def test_a_second_live_process_with_the_same_id_is_reported(worker_conn):
    worker_id = wid()
    register = "select planner.register_worker($1, $2, $3, 'v', null)"
    assert not await worker_conn.fetchval(register, worker_id, "host-a", 1)
    assert not await worker_conn.fetchval(register, worker_id, "host-a", 1)  # same process again
    assert await worker_conn.fetchval(register, worker_id, "host-b", 2)  # another, while alive
    await worker_conn.fetchval("select planner.deregister_worker($1, 'host-b', 2)", worker_id)


async def test_bad_values_are_refused(worker_conn):
    with pytest.raises(asyncpg.CheckViolationError):
        await worker_conn.fetchval("select planner.register_worker('', 'h', 1, 'v', null)")
    worker_id = wid()
    await worker_conn.fetchval("select planner.register_worker($1, 'h', 1, 'v', null)", worker_id)
    with pytest.raises(asyncpg.CheckViolationError):
        await worker_conn.fetchval("select planner.worker_seen($1, null, 'dancing')", worker_id)
    await worker_conn.fetchval("select planner.deregister_worker($1, 'h', 1)", worker_id)


async def test_the_reaper_job_sweeps_stale_entries_only(conn):
    fresh, stale = wid(), wid()
    for worker_id in (fresh, stale):
        await conn.fetchval("select planner.register_worker($1, 'h', 1, 'v', null)", worker_id)
    await conn.execute(
        "update planner_workers set last_seen_at = now() - interval '10 minutes' "
        "where worker_id = $1",
        stale,
    )
    # the ONE pg_cron job is unchanged: it calls reap_stale_runs(), which also sweeps
    command = await conn.fetchval(
        "select command from cron.job where jobname = 'planner-reap-stale-runs'"
    )
    assert command == "select planner.reap_stale_runs()"
    assert await conn.fetchval("select count(*) from cron.job where jobname like 'planner-%'") == 2
    await conn.fetchval(command)
    assert await entry(conn, stale) is None
    assert await entry(conn, fresh) is not None
    assert await conn.fetchval("select planner.sweep_workers()") == 0
    await conn.fetchval("select planner.deregister_worker($1, 'h', 1)", fresh)


async def test_the_registry_is_not_readable_by_users_or_the_worker_role(conn, worker_conn):
    await conn.fetchval("select planner.register_worker($1, 'h', 1, 'v', null)", wid())
    calls = (
        "select * from planner_workers",
        "select planner.register_worker('x', 'h', 1, 'v', null)",
        "select planner.worker_seen('x', null)",
        "select planner.deregister_worker('x', 'h', 1)",
        "select planner.status()",
        "select planner.queue_stats()",
        "select planner.sweep_workers()",
    )
    for role in ("anon", "authenticated"):
        for call in calls:
            async with as_user(conn, uuid.uuid4() if role == "authenticated" else None, role=role):
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    await conn.fetch(call)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await worker_conn.fetch("select * from planner_workers")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await worker_conn.fetchval("select planner.sweep_workers()")
    published = await conn.fetchval(
        "select count(*) from pg_publication_tables where tablename = 'planner_workers'"
    )
    assert published == 0


@pytest.mark.e2e
async def test_a_worker_registers_refreshes_and_deregisters(
    conn, empty_queue, make_round, start_worker
):
    worker = start_worker(PLANNER_HEARTBEAT_S="1")
    worker.wait_for_log(ready, 30)
    row = await wait_for_row(
        conn, "select to_jsonb(w) from planner_workers w where worker_id = $1",
        worker.worker_id, timeout=10,
    )  # fmt: skip
    assert row["host"] == socket.gethostname()
    assert row["pid"] == worker.process.pid
    assert row["version"] and row["state"] == "idle" and row["current_run_id"] is None

    # refreshed every heartbeat interval
    first_seen = await conn.fetchval(
        "select last_seen_at from planner_workers where worker_id = $1", worker.worker_id
    )
    await wait_for_row(
        conn,
        "select last_seen_at > $2 from planner_workers where worker_id = $1",
        worker.worker_id,
        first_seen,
        timeout=5,
    )

    # a run in flight shows up as the current run
    rnd = await make_round()
    run_id = await conn.fetchval(
        "insert into allocation_planner_runs (organization_id, allocation_run_id, constraints, "
        "params) values ($1, $2, '{VIC_PGY2}', '{}') returning id",
        rnd.organization_id,
        rnd.allocation_run_id,
    )
    await wait_for_state(conn, run_id, FINAL_STATES, 60)
    # after the run the entry is back to idle
    await wait_for_row(
        conn,
        "select state = 'idle' and current_run_id is null from planner_workers "
        "where worker_id = $1",
        worker.worker_id,
        timeout=5,
    )

    # swept while alive (e.g. a long database outage): the worker registers again
    await conn.execute("delete from planner_workers where worker_id = $1", worker.worker_id)
    await wait_for_row(
        conn, "select true from planner_workers where worker_id = $1", worker.worker_id, timeout=5
    )
    assert any(m.startswith("Registry entry was swept") for m in worker.messages())

    worker.signal(signal.SIGTERM)
    assert await anyio.to_thread.run_sync(worker.wait_exit, 20) == 0
    assert await entry(conn, worker.worker_id) is None
    assert "Deregistered from planner_workers" in worker.messages()


@pytest.mark.e2e
@pytest.mark.slow
async def test_the_current_run_is_recorded_while_solving(conn, empty_queue, start_worker):
    from tests.listener.test_worker_e2e import LONG_PARAMS, insert_run, long_round

    rnd = await long_round(conn)
    worker = start_worker()
    worker.wait_for_log(ready, 30)
    run_id = await insert_run(conn, rnd, params=LONG_PARAMS)
    await wait_for_state(conn, run_id, ["GENERATING"], 10)
    row = await wait_for_row(
        conn,
        "select to_jsonb(w) from planner_workers w where worker_id = $1 and current_run_id = $2",
        worker.worker_id,
        run_id,
        timeout=5,
    )
    assert row["state"] == "solving"
    await conn.execute(
        "update allocation_planner_runs set state = 'CANCELLED' where id = $1", run_id
    )
