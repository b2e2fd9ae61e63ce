"""Scenarios 5-8: the database and the network misbehave; the worker must notice, recover,
and lose no run.

5. PostgreSQL restarted while idle and while a solve runs (on a throwaway cluster of this
   module's own, so the restarts disturb no other test).
6. pg_terminate_backend on the LISTEN session only.
7. A half-open connection (TcpProxy stops forwarding without closing).
8. LISTEN silently unavailable behind a transaction-mode PgBouncer.

Every wait is a bounded poll of the run row or the worker's JSON log; no fixed sleeps.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio
import psycopg
import pytest

from listener.local_postgres import LocalPostgres, throwaway_postgres
from listener.migrations import apply_migrations
from tests.conftest import WORKER_PASSWORD
from tests.listener.conftest import (
    FINAL_STATES,
    ready,
    wait_for_progress,
    wait_for_row,
    wait_for_state,
)
from tests.listener.plan_rounds import insert_plan_round, long_plan
from tests.reliability.conftest import insert_run as insert_untracked_run
from tests.reliability.faults import PgBouncer, Reconnecting, TcpProxy, Workers, small_plan

pytestmark = [pytest.mark.reliability, pytest.mark.db, pytest.mark.e2e]

LISTEN_APP = "receptor-planner listen "


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def outage_cluster(reliability_ledger) -> Iterator[LocalPostgres]:
    """A cluster of this module's own: scenario 5 stops and starts it. Its runs are audited
    by the suite's ledger before it goes away."""
    with throwaway_postgres() as pg:
        apply_migrations(pg.dsn)
        with psycopg.connect(pg.dsn, autocommit=True) as c:
            c.execute(f"alter role planner_worker password '{WORKER_PASSWORD}'")
        yield pg
        if not pg.executor.running():
            pg.start()
        anyio.run(reliability_ledger.audit, pg.dsn)


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    fleet = Workers(tmp_path)
    yield fleet
    fleet.stop_all()


@pytest.fixture
async def outage_db(outage_cluster: LocalPostgres) -> AsyncIterator[Reconnecting]:
    db = Reconnecting(outage_cluster.dsn)
    conn = await db.get()
    await conn.execute(
        "update allocation_planner_runs set state = 'CANCELLED' "
        "where state in ('PENDING', 'GENERATING')"
    )
    yield db
    await db.close()


# -- helpers -------------------------------------------------------------------------------


LEDGER = None  # the suite's Ledger, set by the autouse fixture below


@pytest.fixture(autouse=True)
def _ledger(reliability_ledger):
    global LEDGER
    LEDGER = reliability_ledger


async def insert_run(
    conn, rnd, params=None, constraints=("VIC_PGY2",), *, expect=("COMPLETED",), dsn=None
) -> uuid.UUID:
    """Insert a run as the UI does and register it with the suite's ledger."""
    run_id = await insert_untracked_run(conn, rnd, constraints=constraints, params=params)
    LEDGER.track(run_id, expect, dsn=dsn)
    return run_id


async def claim_latency(conn, run_id) -> float:
    """Seconds from insert to claim, both stamped by the database clock."""
    return await conn.fetchval(
        "select extract(epoch from claimed_at - created_at)::float8 "
        "from allocation_planner_runs where id = $1",
        run_id,
    )


def after(t0: float):
    return lambda r: r["_received"] >= t0


def listening_since(t0: float):
    return lambda r: r["_received"] >= t0 and ready(r)


async def listen_backend(conn, worker_id: str, timeout: float) -> int:
    """pid of the worker's LISTEN session (by its application_name) once it is idle."""
    return await wait_for_row(
        conn,
        "select pid from pg_stat_activity where application_name = $1",
        (LISTEN_APP + worker_id)[:63],
        timeout=timeout,
    )


async def assert_nothing_stuck(conn, run_ids, timeout: float = 30) -> None:
    for run_id in run_ids:
        await wait_for_state(conn, run_id, FINAL_STATES, timeout)


# -- 5. PostgreSQL restarted ---------------------------------------------------------------

POLL_S = 3.0


async def test_postgres_restart_while_idle(outage_cluster, outage_db, workers):
    """The worker reconnects and re-LISTENs; a run inserted while it is still reconnecting
    is claimed within one poll interval, and a later one by notification."""
    pg = outage_cluster
    conn = await outage_db.get()
    rounds = [await insert_plan_round(conn, small_plan()) for _ in range(2)]
    worker = workers.start(
        pg.dsn_for("planner_worker", WORKER_PASSWORD),
        PLANNER_POLL_INTERVAL_S=str(POLL_S),
        PLANNER_LISTEN_CHECK_S="1",
    )
    first = worker.wait_for_log(ready, 30)
    warm = await insert_run(conn, rounds[0], dsn=pg.dsn)
    assert (await wait_for_state(conn, warm, FINAL_STATES, 30))["state"] == "COMPLETED"

    await outage_db.close()
    stopped = time.monotonic()
    pg.stop()
    worker.wait_for_log(
        lambda r: (
            r["_received"] >= stopped and r["level"] == "WARNING" and "LISTEN" in r["message"]
        ),
        10,
    )
    pg.start()
    conn = await outage_db.get()
    # Inserted at once: the worker is still in its reconnect backoff.
    during = await insert_run(conn, rounds[1], dsn=pg.dsn)

    row = await wait_for_state(conn, during, FINAL_STATES, POLL_S + 30)
    assert row["state"] == "COMPLETED", row["error"]
    assert await claim_latency(conn, during) <= POLL_S
    relisten = worker.wait_for_log(listening_since(stopped), 10)
    assert relisten["message"] != first["message"]  # a new backend pid
    await listen_backend(conn, worker.worker_id, 10)

    again = await insert_run(conn, rounds[0], dsn=pg.dsn)
    assert (await wait_for_state(conn, again, FINAL_STATES, 30))["state"] == "COMPLETED"
    assert await claim_latency(conn, again) < 1.0  # the notification, not the poll
    assert worker.alive()


async def test_postgres_restart_during_a_solve(outage_cluster, outage_db, workers):
    """The run in flight is committed (or released/reaped), never lost or stuck; a run
    inserted while the worker reconnects starts within one poll interval."""
    pg = outage_cluster
    conn = await outage_db.get()
    big = await insert_plan_round(conn, long_plan())
    small = await insert_plan_round(conn, small_plan())
    worker = workers.start(
        pg.dsn_for("planner_worker", WORKER_PASSWORD),
        PLANNER_POLL_INTERVAL_S=str(POLL_S),
        PLANNER_LISTEN_CHECK_S="1",
        PLANNER_CONCURRENCY="2",
    )
    worker.wait_for_log(ready, 30)
    in_flight = await insert_run(
        conn, big, params={"time_limit_s": 10, "seed": 0}, expect=("COMPLETED", "FAILED"),
        dsn=pg.dsn,
    )  # fmt: skip
    worker.wait_for_log(lambda r: r["message"].startswith("Solving in child process"), 30)
    await wait_for_progress(conn, in_flight)

    await outage_db.close()
    stopped = time.monotonic()
    pg.restart()
    conn = await outage_db.get()
    during = await insert_run(conn, small, dsn=pg.dsn)

    row = await wait_for_state(conn, during, FINAL_STATES, POLL_S + 30)
    assert row["state"] == "COMPLETED", row["error"]
    assert await claim_latency(conn, during) <= POLL_S
    worker.wait_for_log(
        lambda r: r["_received"] >= stopped and r["level"] == "WARNING", 5
    )  # the outage was felt

    row = await wait_for_state(conn, in_flight, [*FINAL_STATES, "PENDING"], 60)
    if row["state"] == "PENDING":  # released: it must be claimed again and finish
        row = await wait_for_state(conn, in_flight, FINAL_STATES, 60)
    assert row["state"] in ("COMPLETED", "FAILED"), row
    if row["state"] == "COMPLETED":
        lines = await conn.fetchval(
            "select count(*) from job_lines where allocation_run_id = $1 and planner_run_id = $2",
            big.allocation_run_id,
            in_flight,
        )
        assert lines > 0 and row["result"]["status"] in ("OPTIMAL", "FEASIBLE")
    else:
        assert row["error"].startswith("Timeout"), row["error"]
    worker.wait_for_log(listening_since(stopped), 10)
    assert worker.alive()
    stuck = await conn.fetchval(
        "select count(*) from allocation_planner_runs where state in ('PENDING', 'GENERATING')"
    )
    assert stuck == 0


# -- 6. the LISTEN session terminated -------------------------------------------------------


async def test_terminating_the_listen_backend_only(
    conn, empty_queue, make_round, workers, worker_dsn
):
    rounds = [await make_round() for _ in range(2)]
    worker = workers.start(worker_dsn, PLANNER_POLL_INTERVAL_S="120")
    logged = worker.wait_for_log(ready, 30)
    listen_pid = await listen_backend(conn, worker.worker_id, 10)
    assert f"(backend pid {listen_pid})" in logged["message"]
    pool_pids = {
        r["pid"]
        for r in await conn.fetch(
            "select pid from pg_stat_activity where application_name = 'receptor-planner' "
            "and usename = 'planner_worker'"
        )
    }
    assert pool_pids and listen_pid not in pool_pids

    killed = time.monotonic()
    assert await conn.fetchval("select pg_terminate_backend($1)", listen_pid)
    gap = await insert_run(conn, rounds[0])  # nobody is listening right now

    row = await wait_for_state(conn, gap, FINAL_STATES, 30)
    assert row["state"] == "COMPLETED", row["error"]
    assert await claim_latency(conn, gap) < 10  # the reconnect's claim pass, not the 120 s poll
    relisten = worker.wait_for_log(listening_since(killed), 10)
    new_pid = await listen_backend(conn, worker.worker_id, 10)
    assert new_pid != listen_pid and f"(backend pid {new_pid})" in relisten["message"]

    later = await insert_run(conn, rounds[1])
    assert (await wait_for_state(conn, later, FINAL_STATES, 30))["state"] == "COMPLETED"
    assert await claim_latency(conn, later) < 1.0  # notifications resumed
    alive = {r["pid"] for r in await conn.fetch("select pid from pg_stat_activity")}
    assert pool_pids <= alive  # only the LISTEN session was touched
    assert worker.alive()


# -- 7. a half-open connection -------------------------------------------------------------


async def test_half_open_connection_is_detected_and_recovered(
    conn, empty_queue, make_round, workers, pg_cluster, worker_dsn
):
    heartbeat_s, timeout_s, check_s = 1.0, 2.0, 1.0
    big = await insert_plan_round(conn, long_plan())
    other = await make_round()
    with TcpProxy(pg_cluster.host, pg_cluster.port) as proxy:
        worker = workers.start(
            proxy.dsn("planner_worker", WORKER_PASSWORD),
            PLANNER_HEARTBEAT_S=str(heartbeat_s),
            PLANNER_DB_TIMEOUT_S=str(timeout_s),
            PLANNER_LISTEN_CHECK_S=str(check_s),
            PLANNER_POLL_INTERVAL_S="60",
        )
        worker.wait_for_log(ready, 30)
        run_id = await insert_run(conn, big, params={"time_limit_s": 20, "seed": 0})
        worker.wait_for_log(lambda r: r["message"].startswith("Solving in child process"), 30)
        await wait_for_progress(conn, run_id)

        paused = time.monotonic()
        proxy.pause()
        hb = worker.wait_for_log(
            lambda r: r["_received"] >= paused and r["message"].startswith("Heartbeat failed"),
            heartbeat_s + timeout_s + 2,
        )
        listen = worker.wait_for_log(
            lambda r: (
                r["_received"] >= paused and r["level"] == "WARNING" and "LISTEN" in r["message"]
            ),
            check_s + timeout_s + 2,
        )
        assert hb["run_id"] == str(run_id)
        assert hb["_received"] - paused <= heartbeat_s + timeout_s + 1.0
        assert listen["_received"] - paused <= check_s + timeout_s + 1.0

        resumed = time.monotonic()
        proxy.resume()
        worker.wait_for_log(listening_since(resumed), timeout_s * 3 + 10)
        beat_at = await conn.fetchval(
            "select heartbeat_at from allocation_planner_runs where id = $1", run_id
        )
        await wait_for_row(
            conn,
            "select heartbeat_at > $2 or state <> 'GENERATING' from allocation_planner_runs "
            "where id = $1",
            run_id,
            beat_at,
            timeout=timeout_s * 3 + 5,
        )  # heartbeats resumed
        row = await wait_for_state(conn, run_id, FINAL_STATES, 60)
        assert row["state"] == "COMPLETED", row["error"]

        later = await insert_run(conn, other)
        assert (await wait_for_state(conn, later, FINAL_STATES, 30))["state"] == "COMPLETED"
        assert await claim_latency(conn, later) < 1.0  # LISTEN works again
        assert worker.alive()


# -- 8. LISTEN silently unavailable (transaction pooler) ------------------------------------


async def test_transaction_pooler_falls_back_to_polling(
    conn, empty_queue, make_round, workers, pg_cluster
):
    poll_s = 1.0
    rounds = [await make_round() for _ in range(3)]
    with PgBouncer(pg_cluster.host, pg_cluster.port, pool_mode="transaction") as bouncer:
        worker = workers.start(
            bouncer.dsn("planner_worker", WORKER_PASSWORD),
            PLANNER_POLL_INTERVAL_S=str(poll_s),
        )
        warning = worker.wait_for_log(
            lambda r: r["message"].startswith("LISTEN does not work on this database connection"),
            30,
        )
        assert warning["level"] == "WARNING"
        assert f"polling every {poll_s}s" in warning["message"]

        run_ids = [await insert_run(conn, rnd) for rnd in rounds]
        for run_id in run_ids:
            row = await wait_for_state(conn, run_id, FINAL_STATES, 60)
            assert row["state"] == "COMPLETED", row["error"]
            assert row["worker_id"] == worker.worker_id
        assert await claim_latency(conn, run_ids[0]) <= poll_s + 1.0
        warnings = [r for r in worker.records if r["message"].startswith("LISTEN does not work")]
        assert len(warnings) == 1, warnings  # one clear warning, not one per poll
        assert not any(ready(r) for r in worker.records)  # never claimed to be listening
        assert worker.alive()
