"""PLANNER_WAKEUP=realtime end to end: a real worker process, the real test database, and the
Phoenix-channel fake of Supabase Realtime (tests/fakes/phoenix_realtime.py) in this test's
event loop.

The poll interval is 60 s, so a claim within a few seconds of a pushed INSERT can only come
from the Realtime hint. Blocking waits on the worker's log run in a thread, so the fake
server keeps serving meanwhile.
"""

from __future__ import annotations

import time
import uuid

import anyio
import pytest

from tests.fakes.phoenix_realtime import PhoenixRealtimeServer
from tests.listener.conftest import FINAL_STATES, wait_for_state

pytestmark = [pytest.mark.e2e, pytest.mark.db, pytest.mark.timeout(120)]

KEY = "test-service-role-key"
POLL_S = 60.0


def realtime_env(server: PhoenixRealtimeServer) -> dict[str, str]:
    return {
        "PLANNER_WAKEUP": "realtime",
        "SUPABASE_URL": server.url,
        "SUPABASE_SERVICE_ROLE_KEY": KEY,
        "PLANNER_REALTIME_HEARTBEAT_S": "1",
        "PLANNER_RECONNECT_MAX_S": "1",
        "PLANNER_POLL_INTERVAL_S": str(POLL_S),
    }


async def wait_log(worker, predicate, timeout: float, count: int = 1) -> dict:
    """The `count`-th record matching `predicate` (waits in a thread: the loop keeps serving)."""

    def matching() -> list[dict]:
        return [r for r in list(worker.records) if predicate(r)]

    deadline = time.monotonic() + timeout
    while len(found := matching()) < count:
        if time.monotonic() > deadline:
            raise AssertionError(
                f"fewer than {count} matching log record(s) within {timeout}s; tail:\n"
                + worker.tail()
            )
        await anyio.sleep(0.05)
    return found[count - 1]


def message_starts(prefix: str):
    return lambda r: r.get("message", "").startswith(prefix)


async def insert_run(conn, rnd) -> uuid.UUID:
    return await conn.fetchval(
        "insert into allocation_planner_runs (organization_id, allocation_run_id, constraints, "
        "params) values ($1, $2, '{VIC_PGY2}', $3) returning id",
        rnd.organization_id,
        rnd.allocation_run_id,
        {"time_limit_s": 30, "seed": 0},
    )


async def push(server: PhoenixRealtimeServer, conn, run_id: uuid.UUID) -> None:
    """What Supabase Realtime would send for the INSERT: the new row as the record."""
    row = await conn.fetchrow("select * from allocation_planner_runs where id = $1", run_id)
    record = {
        k: (str(v) if isinstance(v, (uuid.UUID,)) or hasattr(v, "isoformat") else v)
        for k, v in dict(row).items()
    }
    assert await server.push_insert(record) == 1


async def claimed_within(conn, run_id: uuid.UUID, timeout: float) -> float:
    started = time.monotonic()
    await wait_for_state(conn, run_id, ["GENERATING", *FINAL_STATES], timeout)
    return time.monotonic() - started


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_realtime_insert_wakes_the_worker_and_losses_are_logged_and_recovered(
    conn, empty_queue, make_round, start_worker
):
    async with PhoenixRealtimeServer(api_key=KEY) as server:
        worker = start_worker(**realtime_env(server))
        await wait_log(worker, message_starts("Realtime wake-up subscribed"), 40)
        started = await wait_log(worker, message_starts("Worker started"), 5)
        assert "wake-up realtime" in started["message"]
        assert KEY not in "".join(worker.raw)

        # 1. A pushed INSERT hint claims the run long before the 60 s poll.
        rnd = await make_round()
        run_id = await insert_run(conn, rnd)
        await anyio.sleep(1.5)  # nothing else wakes the worker: the row stays PENDING
        assert (
            await conn.fetchval("select state from allocation_planner_runs where id = $1", run_id)
            == "PENDING"
        )
        await push(server, conn, run_id)
        assert await claimed_within(conn, run_id, 10) < 5
        row = await wait_for_state(conn, run_id, FINAL_STATES, 60)
        assert row["state"] == "COMPLETED", row["error"]

        # 2. The server drops the connection: loss logged, client rebuilt, recovery logged.
        await server.drop_connections()
        lost = await wait_log(worker, message_starts("Realtime wake-up lost"), 15)
        assert lost["level"] == "WARNING" and lost.get("wakeup") == "realtime"
        await wait_log(worker, message_starts("Realtime wake-up recovered"), 15)

        # 3. The server goes away for a while and comes back on the same port.
        await server.stop()
        await wait_log(worker, message_starts("Realtime wake-up lost"), 15, count=2)
        await anyio.sleep(2)  # a few failed reconnect attempts
        await server.start()
        recovered = await wait_log(worker, message_starts("Realtime wake-up recovered"), 20, 2)
        assert recovered["level"] == "INFO"

        # 4. Hints work again after the recovery.
        rnd2 = await make_round()
        run2 = await insert_run(conn, rnd2)
        await push(server, conn, run2)
        assert await claimed_within(conn, run2, 10) < 5
        row = await wait_for_state(conn, run2, FINAL_STATES, 60)
        assert row["state"] == "COMPLETED", row["error"]
        assert worker.alive()
