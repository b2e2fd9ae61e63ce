"""NOTIFY payloads: planner_runs when a run becomes PENDING, planner_cancellations on CANCELLED."""

from __future__ import annotations

import asyncio
import json

import asyncpg
import pytest

from .helpers import claim, insert_run

pytestmark = [pytest.mark.db, pytest.mark.usefixtures("empty_queue")]


@pytest.fixture
async def listen(db_dsn):
    """`queue = await listen(channel)`: payloads (decoded) arrive on the queue."""
    listener = await asyncpg.connect(db_dsn)

    async def subscribe(channel: str) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue()
        await listener.add_listener(
            channel, lambda _c, _pid, _ch, payload: queue.put_nowait(json.loads(payload))
        )
        return queue

    yield subscribe
    await listener.close()


async def next_for(queue: asyncio.Queue, run_id) -> dict:
    while True:
        payload = await asyncio.wait_for(queue.get(), timeout=10)
        if payload["run_id"] == str(run_id):
            return payload


async def test_insert_release_and_cancel_notify(conn, make_round, listen):
    runs, cancellations = await listen("planner_runs"), await listen("planner_cancellations")
    rnd = await make_round()
    expected = lambda run_id: {"run_id": str(run_id), "organization_id": str(rnd.organization_id)}  # noqa: E731

    run_id = await insert_run(conn, rnd)
    assert await next_for(runs, run_id) == expected(run_id)

    await claim(conn, "w1")
    assert await conn.fetchval("select planner.heartbeat($1, 'w1', 1, null)", run_id)
    assert runs.empty()  # claiming and heart-beating announce nothing
    assert await conn.fetchval("select planner.release_run($1, 'w1', 1)", run_id)
    assert await next_for(runs, run_id) == expected(run_id)

    await claim(conn, "w1")
    await conn.execute(
        "update allocation_planner_runs set state = 'CANCELLED' where id = $1", run_id
    )
    assert await next_for(cancellations, run_id) == expected(run_id)
    assert runs.empty()
