"""Issue 13, defects 1 and 5: the wake-up source and the pool survive protocol races, and
every log line stays JSON during an outage.

- A TCP proxy delays the server's close by 3 s (`DelayedCloseProxy`), then the LISTEN
  backend is terminated: the worker must LISTEN again (a later run is claimed by
  notification, well inside the 120 s poll) instead of "continuing by polling" for good.
- The same with every backend of the worker (pool included): the worker never exits.
- The database refuses the worker for a few seconds: every line the process prints on
  stdout and stderr is a JSON object (asyncpg's own pool warnings included).

Every wait is a bounded poll of a row or of the worker's log; no fixed sleeps.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from tests.conftest import WORKER_PASSWORD
from tests.listener.conftest import FINAL_STATES, ready, wait_for_row, wait_for_state
from tests.reliability.conftest import insert_run as insert_untracked_run
from tests.reliability.faults import DelayedCloseProxy, Workers

pytestmark = [pytest.mark.reliability, pytest.mark.db, pytest.mark.e2e]

LISTEN_APP = "receptor-planner listen "
POLL_S = "120"  # so only a working LISTEN (or a reconnect's claim pass) explains a claim
CLOSE_DELAY_S = 3.0


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    fleet = Workers(tmp_path)
    yield fleet
    fleet.stop_all()


async def insert_run(conn, rnd, ledger) -> object:
    run_id = await insert_untracked_run(conn, rnd)
    ledger.track(run_id, "COMPLETED")
    return run_id


async def claim_latency(conn, run_id) -> float:
    return await conn.fetchval(
        "select extract(epoch from claimed_at - created_at)::float8 "
        "from allocation_planner_runs where id = $1",
        run_id,
    )


def listening_since(t0: float):
    return lambda r: r["_received"] >= t0 and ready(r)


async def worker_backends(conn, *, listen_only: bool, worker_id: str) -> list[int]:
    if listen_only:
        pid = await wait_for_row(
            conn,
            "select pid from pg_stat_activity where application_name = $1",
            (LISTEN_APP + worker_id)[:63],
            timeout=10,
        )
        return [pid]
    return [
        r["pid"]
        for r in await conn.fetch(
            "select pid from pg_stat_activity where usename = 'planner_worker' "
            "and application_name like 'receptor-planner%'"
        )
    ]


@pytest.mark.parametrize("which", ["listen", "every"])
async def test_delayed_close_kills_no_wakeup_source_and_no_worker(
    conn, empty_queue, make_round, workers, pg_cluster, reliability_ledger, which
):
    rounds = [await make_round() for _ in range(4)]
    # Killing the pool too: the notified claim may first go to a pooled connection whose
    # server is gone and whose close the proxy holds back, so it fails over only when that
    # close arrives. Either bound is far inside the 120 s poll, so a notification claimed it.
    notified_within = 1.0 if which == "listen" else CLOSE_DELAY_S + 1.0
    with DelayedCloseProxy(pg_cluster.host, pg_cluster.port, CLOSE_DELAY_S) as proxy:
        worker = workers.start(
            proxy.dsn("planner_worker", WORKER_PASSWORD),
            PLANNER_POLL_INTERVAL_S=POLL_S,
            PLANNER_LISTEN_CHECK_S="0.5",
        )
        worker.wait_for_log(ready, 60)
        for n in range(2):  # twice: a rebuilt source must survive it again
            pids = await worker_backends(
                conn, listen_only=which == "listen", worker_id=worker.worker_id
            )
            killed = time.monotonic()
            await conn.execute("select pg_terminate_backend(p) from unnest($1::int[]) p", pids)
            worker.wait_for_log(listening_since(killed), 30)

            run_id = await insert_run(conn, rounds[n], reliability_ledger)
            row = await wait_for_state(conn, run_id, FINAL_STATES, 30)
            assert row["state"] == "COMPLETED", row["error"]
            assert await claim_latency(conn, run_id) < notified_within  # LISTEN works again
        assert worker.alive(), worker.tail()
        crashed = [m for m in worker.messages() if "crashed" in m]
        assert not any("continuing by polling" in m for m in crashed), crashed


async def test_logs_stay_json_during_an_outage(
    conn, empty_queue, make_round, workers, pg_cluster, reliability_ledger
):
    rnd = await make_round()
    with DelayedCloseProxy(pg_cluster.host, pg_cluster.port, close_delay_s=0.0) as proxy:
        worker = workers.start(
            proxy.dsn("planner_worker", WORKER_PASSWORD), PLANNER_POLL_INTERVAL_S="1"
        )
        worker.wait_for_log(ready, 60)
        refused = time.monotonic()
        proxy.refuse()
        # asyncpg's pool keeps trying to restore its floor and says so through `logging`.
        worker.wait_for_log(
            lambda r: r["_received"] >= refused and r.get("logger", "").startswith("asyncpg"),
            30,
        )
        proxy.accept()
        run_id = await insert_run(conn, rnd, reliability_ledger)
        row = await wait_for_state(conn, run_id, FINAL_STATES, 30)
        assert row["state"] == "COMPLETED", row["error"]
    worker.stop()
    not_json = []
    for line in worker.raw:
        try:
            assert isinstance(json.loads(line), dict)
        except (ValueError, AssertionError):
            not_json.append(line)
    assert not not_json, "".join(not_json[:20])


async def test_health_and_status_show_a_worker_on_polling_alone(
    conn, empty_queue, workers, worker_dsn, db_dsn, tmp_path
):
    from listener.commands.status import fetch_status
    from listener.health import tick_age_s

    listening = workers.start(worker_dsn)
    polling = workers.start(worker_dsn, PLANNER_WAKEUP="poll")
    listening.wait_for_log(ready, 60)
    polling.wait_for_log(lambda r: r["message"].startswith("Wake-up source: polling"), 60)
    expected = {listening.worker_id: False, polling.worker_id: True}

    async def registry() -> dict:
        rows = await conn.fetch(
            "select worker_id, polling_alone from planner_workers where worker_id = any($1)",
            list(expected),
        )
        return {r["worker_id"]: r["polling_alone"] for r in rows}

    deadline = time.monotonic() + 30  # refreshed every second; the first was before LISTEN
    while (seen := await registry()) != expected:
        assert time.monotonic() < deadline, seen
        await anyio.sleep(0.1)
    assert await registry() == expected
    status = fetch_status(db_dsn)
    shown = {
        w["worker_id"]: w["polling_alone"] for w in status["workers"] if w["worker_id"] in expected
    }
    assert shown == expected
    ticks = {listening.worker_id: tmp_path / "health-0", polling.worker_id: tmp_path / "health-1"}
    deadline = time.monotonic() + 10  # the tick is rewritten every second
    while (
        told := {w: tick_age_s(p)[1].get("polling_alone") for w, p in ticks.items()}
    ) != expected:
        assert time.monotonic() < deadline, told
        await anyio.sleep(0.1)
