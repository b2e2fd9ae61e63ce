"""`receptor-planner status`, `receptor-planner health` and the Prometheus endpoint, against
the session cluster and real worker processes."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import anyio
import pytest

from listener.health import write_tick
from tests.listener.conftest import FINAL_STATES, REPO, ready, wait_for_state

pytestmark = [pytest.mark.db]


def cli(*args: str, env: dict[str, str], timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "listener", *args],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


async def acli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return await anyio.to_thread.run_sync(lambda: cli(*args, env=env))


async def insert_run(conn, rnd, params=None) -> uuid.UUID:
    return await conn.fetchval(
        "insert into allocation_planner_runs (organization_id, allocation_run_id, constraints, "
        "params) values ($1, $2, '{VIC_PGY2}', $3) returning id",
        rnd.organization_id,
        rnd.allocation_run_id,
        params or {"time_limit_s": 30, "seed": 0},
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- status -----------------------------------------------------------------------------------


@pytest.fixture
async def status_scene(conn, empty_queue, make_round):
    """A registered worker solving one run (with progress), one PENDING run, one FAILED run."""
    busy, waiting, failed = await make_round(), await make_round(), await make_round()
    worker_id = f"status-{uuid.uuid4().hex[:8]}"
    await conn.fetchval(
        "select planner.register_worker($1, 'host-s', 77, '9.9.9', null)", worker_id
    )
    run_busy = await insert_run(conn, busy)
    claimed = await conn.fetchrow("select * from planner.claim_run($1)", worker_id)
    assert claimed["id"] == run_busy
    progress = {"elapsed_s": 3.0, "phase": "improving", "objective": 17, "percent": 42.5}
    assert await conn.fetchval(
        "select planner.heartbeat($1, $2, $3, $4)",
        run_busy,
        worker_id,
        claimed["attempt"],
        progress,
    )
    await conn.fetchval("select planner.worker_seen($1, $2)", worker_id, run_busy)
    run_failed = await insert_run(conn, failed)
    f = await conn.fetchrow("select * from planner.claim_run($1)", worker_id)
    assert f["id"] == run_failed
    await conn.fetchval(
        "select planner.finish_run($1, $2, $3, 'FAILED', null, $4)",
        run_failed,
        worker_id,
        f["attempt"],
        "Bad input: unit XYZ has no specialty",
    )
    run_pending = await insert_run(conn, waiting)
    await conn.execute(
        "update allocation_planner_runs set created_at = now() - interval '90 seconds' "
        "where id = $1",
        run_pending,
    )
    yield {
        "worker_id": worker_id,
        "busy": run_busy,
        "failed": run_failed,
        "pending": run_pending,
        "failed_org": failed.organization_id,
    }
    await conn.fetchval("select planner.deregister_worker($1, 'host-s', 77)", worker_id)


async def test_status_json_as_the_worker_role(status_scene, worker_dsn):
    result = await acli("status", "--json", env={"DATABASE_URL": worker_dsn})
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)

    worker = next(w for w in status["workers"] if w["worker_id"] == status_scene["worker_id"])
    assert worker["alive"] is True and worker["state"] == "solving"
    assert (worker["host"], worker["pid"], worker["version"]) == ("host-s", 77, "9.9.9")
    assert worker["current_run_id"] == str(status_scene["busy"])
    assert worker["last_seen_s"] < 30

    assert status["queue"]["pending"] == 1
    assert status["queue"]["generating"] == 1
    assert 85 <= status["queue"]["oldest_pending_age_s"] < 200

    (generating,) = status["generating"]
    assert generating["run_id"] == str(status_scene["busy"])
    assert (generating["percent"], generating["objective"], generating["phase"]) == (
        42.5,
        17,
        "improving",
    )
    assert generating["worker_id"] == status_scene["worker_id"]
    assert generating["elapsed_s"] >= 0 and generating["organization"].startswith("Org ")

    failure = status["failures"][0]  # newest first
    assert failure["run_id"] == str(status_scene["failed"])
    assert failure["state"] == "FAILED"
    assert failure["error"] == "Bad input: unit XYZ has no specialty"
    assert failure["organization_id"] == str(status_scene["failed_org"])
    assert failure["organization"].startswith("Org ")


async def test_status_terminal_view(status_scene, worker_dsn):
    result = await acli(
        "status", "--failures", "3", env={"DATABASE_URL": worker_dsn, "COLUMNS": "250"}
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Workers:" in out and status_scene["worker_id"] in out
    assert "Queue: 1 PENDING, oldest waiting" in out
    assert "GENERATING (1)" in out and str(status_scene["busy"]) in out and "42%" in out
    assert "Last failures" in out and "unit XYZ has no specialty" in out


async def test_status_without_or_with_an_unreachable_database():
    result = await acli("status", env={"DATABASE_URL": ""})
    assert result.returncode == 2 and "DATABASE_URL is not set" in result.stderr
    url = f"postgresql://planner_worker:secret-pw@127.0.0.1:{free_port()}/postgres"
    result = await acli("status", "--timeout", "2", env={"DATABASE_URL": url})
    assert result.returncode == 1
    assert "cannot read the status" in result.stderr and "secret-pw" not in result.stderr


# -- health -----------------------------------------------------------------------------------


def health(path: Path, *extra: str, max_age: str = "5") -> subprocess.CompletedProcess:
    return cli(
        "health",
        *extra,
        env={"PLANNER_HEALTH_FILE": str(path), "PLANNER_HEALTH_MAX_AGE_S": max_age},
    )


def test_health_exit_codes(tmp_path):
    path = tmp_path / "tick"
    missing = health(path)
    assert missing.returncode == 1 and "no tick file" in missing.stderr

    write_tick(path, {"worker_id": "w-1", "pid": 1, "active_runs": []})
    fresh = health(path)
    assert fresh.returncode == 0, fresh.stderr
    assert json.loads(fresh.stdout)["worker_id"] == "w-1"

    old = time.time() - 30
    path.write_text(json.dumps({"worker_id": "w-1", "ticked_at": old}))
    stale = health(path)
    assert stale.returncode == 1
    assert re.match(r"unhealthy: last tick 3\ds ago \(limit 5s\)", stale.stderr), stale.stderr
    assert health(path, "--max-age", "60").returncode == 0


@pytest.mark.e2e
async def test_health_follows_the_loop_not_the_database(tmp_path, start_worker):
    """A worker whose database is down still ticks (it is alive and retrying); once the
    process is gone the tick goes stale and health fails."""
    tick = tmp_path / "down.health"
    url = f"postgresql://planner_worker:pw@127.0.0.1:{free_port()}/postgres"
    worker = start_worker(DATABASE_URL=url, PLANNER_HEALTH_FILE=str(tick), PLANNER_HEARTBEAT_S="1")
    worker.wait_for_log(lambda r: r["message"].startswith("Database "), 20)
    first = (await wait_tick(tick))["ticked_at"]
    await anyio.sleep(2.5)
    assert json.loads(tick.read_text())["ticked_at"] > first  # still ticking every second
    ok = await anyio.to_thread.run_sync(lambda: health(tick, max_age="5"))
    assert ok.returncode == 0, ok.stderr
    worker.process.kill()
    await anyio.to_thread.run_sync(worker.wait_exit, 10)
    await anyio.sleep(2.2)
    dead = await anyio.to_thread.run_sync(lambda: health(tick, max_age="2"))
    assert dead.returncode == 1 and "unhealthy" in dead.stderr


async def wait_tick(path: Path, timeout: float = 15) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            await anyio.sleep(0.1)
    raise AssertionError(f"no tick file at {path} within {timeout}s")


@pytest.mark.e2e
@pytest.mark.slow
async def test_health_ticks_during_a_long_solve(conn, empty_queue, tmp_path, start_worker):
    from tests.listener.test_worker_e2e import LONG_PARAMS, long_round

    rnd = await long_round(conn)
    tick = tmp_path / "solve.health"
    worker = start_worker(PLANNER_HEALTH_FILE=str(tick), PLANNER_HEARTBEAT_S="1")
    worker.wait_for_log(ready, 30)
    run_id = await insert_run(conn, rnd, params=LONG_PARAMS)
    await wait_for_state(conn, run_id, ["GENERATING"], 10)
    await anyio.sleep(1)
    for _ in range(8):  # 4 s into the solve: never older than two tick intervals
        data = json.loads(tick.read_text())
        assert time.time() - data["ticked_at"] < 2.5
        assert data["active_runs"] == [str(run_id)] and data["database_ok"] is True
        await anyio.sleep(0.5)
    result = await anyio.to_thread.run_sync(lambda: health(tick, max_age="3"))
    assert result.returncode == 0, result.stderr
    await conn.execute(
        "update allocation_planner_runs set state = 'CANCELLED' where id = $1", run_id
    )


# -- metrics ----------------------------------------------------------------------------------


def scrape(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    samples: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


async def wait_metric(port: int, name: str, predicate, timeout: float = 15) -> dict[str, float]:
    deadline = time.monotonic() + timeout
    samples: dict[str, float] = {}
    while time.monotonic() < deadline:
        samples = await anyio.to_thread.run_sync(scrape, port)
        if name in samples and predicate(samples[name]):
            return samples
        await anyio.sleep(0.2)
    raise AssertionError(f"{name} never satisfied the predicate: {samples.get(name)}")


@pytest.mark.e2e
@pytest.mark.slow
async def test_metrics_of_a_real_worker(conn, empty_queue, make_round, start_worker):
    from tests.listener.test_worker_e2e import LONG_PARAMS, long_round

    port = free_port()
    worker = start_worker(PLANNER_METRICS_PORT=str(port), PLANNER_METRICS_REFRESH_S="0.5")
    worker.wait_for_log(ready, 30)
    assert any(
        m.startswith(f"Prometheus metrics on http://127.0.0.1:{port}") for m in worker.messages()
    )

    # 1. one completed run
    rnd = await make_round()
    run_id = await insert_run(conn, rnd)
    row = await wait_for_state(conn, run_id, FINAL_STATES, 60)
    assert row["state"] == "COMPLETED", row["error"]
    m = await wait_metric(port, 'planner_runs_finished_total{state="COMPLETED"}', lambda v: v == 1)
    assert m["planner_runs_claimed_total"] == 1
    assert m["planner_solve_seconds_count"] == 1 and m["planner_solve_seconds_sum"] > 0
    for state in ("INFEASIBLE", "FAILED", "RELEASED", "ABANDONED"):
        assert m[f'planner_runs_finished_total{{state="{state}"}}'] == 0
    assert m['planner_wakeups_total{source="listen"}'] >= 1  # the insert's NOTIFY
    assert m['planner_wakeups_total{source="reconnect"}'] >= 1  # LISTEN connected
    assert m["planner_active_runs"] == 0 and m["planner_heartbeat_lag_seconds"] == 0
    assert any(k.startswith("planner_worker_info{") for k in m)

    # 2. a long solve: heartbeat gaps, lag, queue depth; then cancelled (ABANDONED)
    long = await long_round(conn)
    long_id = await insert_run(conn, long, params=LONG_PARAMS)
    await wait_for_state(conn, long_id, ["GENERATING"], 10)
    queued = await insert_run(conn, await make_round())  # waits: concurrency 1
    m = await wait_metric(port, "planner_queue_depth", lambda v: v >= 1)
    assert m["planner_runs_generating"] >= 1 and m["planner_queue_oldest_pending_age_seconds"] >= 0
    m = await wait_metric(port, "planner_heartbeat_gap_seconds_count", lambda v: v >= 2)
    assert m["planner_active_runs"] == 1
    assert 0 <= m["planner_heartbeat_lag_seconds"] < 3
    assert m['planner_heartbeat_gap_seconds_bucket{le="2.0"}'] >= 2  # 1 s interval
    await conn.execute(
        "update allocation_planner_runs set state = 'CANCELLED' where id = $1", long_id
    )
    row = await wait_for_state(conn, queued, FINAL_STATES, 60)
    assert row["state"] == "COMPLETED", row["error"]
    m = await wait_metric(port, 'planner_runs_finished_total{state="COMPLETED"}', lambda v: v == 2)
    assert m['planner_runs_finished_total{state="ABANDONED"}'] == 1
    assert m["planner_runs_claimed_total"] == 3
    m = await wait_metric(port, "planner_queue_depth", lambda v: v == 0)

    # bound to loopback only by default
    assert not re.search(r"0\.0\.0\.0", "".join(worker.raw))
    worker.signal(signal.SIGTERM)
    await anyio.to_thread.run_sync(worker.wait_exit, 20)


@pytest.mark.e2e
async def test_metrics_are_off_by_default(start_worker):
    worker = start_worker()
    worker.wait_for_log(ready, 30)
    assert not any("Prometheus" in m for m in worker.messages())
