"""Listener benchmark (not a test): prints measured figures.

1. insert-to-GENERATING latency over N serial runs with a warm worker: `claimed_at -
   created_at` on the row (both database clocks, so no client polling error). Each run is a
   small round that solves quickly; the next run is inserted once the previous one is final.
2. The largest heartbeat gap during a long (default 30 s) solve, seen from the database:
   the row's `heartbeat_at` sampled every 20 ms, plus the worker's own largest gap between
   heartbeat calls (logged as `max_heartbeat_gap_s`).

    uv run python benchmarks/bench_listener.py [--runs 200] [--solve-s 30]

Uses DATABASE_URL if set (a superuser URL: it creates rounds and lifts the abuse guard),
else a throwaway PostgreSQL with the migrations.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SQL = Path(__file__).parent / "sql"
FINAL = ("COMPLETED", "INFEASIBLE", "FAILED", "CANCELLED")


def sql(name: str) -> str:
    return (SQL / f"{name}.sql").read_text()


@contextlib.contextmanager
def database() -> Iterator[str]:
    if os.environ.get("DATABASE_URL"):
        yield os.environ["DATABASE_URL"]
        return
    from listener.local_postgres import throwaway_postgres
    from listener.migrations import apply_migrations

    with throwaway_postgres() as pg:
        apply_migrations(pg.dsn)
        yield pg.dsn


@contextlib.contextmanager
def worker(url: str, log: Path, **env: str) -> Iterator[subprocess.Popen]:
    environment = {
        **os.environ,
        "DATABASE_URL": url,
        "PLANNER_WORKER_ID": "bench",
        "PLANNER_LOG_FORMAT": "json",
        "PLANNER_HEALTH_FILE": str(log.with_suffix(".health")),
        **env,
    }
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "listener", "listen"],
            cwd=ROOT,
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


async def wait_until(conn, run_id, states, timeout: float, poll_s: float = 0.002):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = await conn.fetchrow(sql("bench_run_row"), run_id)
        if row["state"] in states:
            return row
        await anyio.sleep(poll_s)
    raise TimeoutError(f"run {run_id} not in {states} after {timeout}s")


async def wait_listening(log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if "Listening on planner_runs" in log.read_text():
            return
        await anyio.sleep(0.05)
    raise TimeoutError(f"worker not listening; log:\n{log.read_text()[-2000:]}")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


async def bench_latency(conn, runs: int) -> dict:
    org, round_id = await conn.fetchrow(sql("bench_round"), 4, 1, 1)
    latencies_ms: list[float] = []
    for i in range(runs + 1):
        run_id = await conn.fetchval(
            sql("bench_insert_run"), org, round_id, [], json.dumps({"time_limit_s": 10})
        )
        await wait_until(conn, run_id, ("GENERATING", *FINAL), 10)
        row = await wait_until(conn, run_id, FINAL, 60, poll_s=0.01)
        if row["state"] != "COMPLETED":
            raise RuntimeError(f"run {i} ended {row['state']}: {row['error']}")
        if i > 0:  # the first run warms the worker (connections, statement plans)
            latencies_ms.append((row["claimed_at"] - row["created_at"]).total_seconds() * 1000)
    return {
        "runs": len(latencies_ms),
        "p50_ms": round(statistics.median(latencies_ms), 2),
        "p99_ms": round(percentile(latencies_ms, 99), 2),
        "max_ms": round(max(latencies_ms), 2),
    }


async def bench_heartbeat_gap(conn, solve_s: float, heartbeat_s: float, log: Path) -> dict:
    # The engine's ~1000-line PGY2 network: its stability stage uses the whole limit.
    from constraints.generator import generate_plan
    from tests.listener.plan_rounds import insert_plan_round

    doc = generate_plan("PGY2", 1000, seed=1)
    plan_round = await insert_plan_round(conn, doc)
    params = {"time_limit_s": solve_s, "seed": 0}
    run_id = await conn.fetchval(
        sql("bench_insert_run"),
        plan_round.organization_id,
        plan_round.allocation_run_id,
        list(doc["constraints"]),
        json.dumps(params),
    )
    await wait_until(conn, run_id, ("GENERATING", *FINAL), 30)
    beats: list[float] = []
    last = None
    started = time.monotonic()
    while True:
        row = await conn.fetchrow(sql("bench_run_row"), run_id)
        if row["state"] != "GENERATING":
            break
        if row["heartbeat_at"] != last:
            last = row["heartbeat_at"]
            beats.append(last.timestamp())
        await anyio.sleep(0.02)
    solved_s = time.monotonic() - started
    gaps = [b - a for a, b in itertools.pairwise(beats)]
    worker_gap = None
    for line in log.read_text().splitlines():
        with contextlib.suppress(ValueError):
            record = json.loads(line)
            if record.get("run_id") == str(run_id) and "max_heartbeat_gap_s" in record:
                worker_gap = record["max_heartbeat_gap_s"]
    return {
        "final_state": row["state"],
        "solve_s": round(solved_s, 1),
        "heartbeat_interval_s": heartbeat_s,
        "row_updates": len(beats),
        "largest_row_gap_s": round(max(gaps), 3) if gaps else None,
        "largest_worker_heartbeat_gap_s": worker_gap,
    }


async def main(args: argparse.Namespace) -> None:
    with database() as url, tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "worker.log"
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(sql("bench_unthrottle"))
            with worker(url, log, PLANNER_HEARTBEAT_S=str(args.heartbeat_s)):
                await wait_listening(log)
                latency = await bench_latency(conn, args.runs)
                print(f"insert -> GENERATING over {latency['runs']} serial runs (warm worker): "
                      f"p50 {latency['p50_ms']} ms, p99 {latency['p99_ms']} ms, "
                      f"max {latency['max_ms']} ms")  # fmt: skip
                gap = await bench_heartbeat_gap(conn, args.solve_s, args.heartbeat_s, log)
                print(
                    f"heartbeat during a {gap['solve_s']} s solve ({gap['final_state']}), "
                    f"interval {gap['heartbeat_interval_s']} s: largest gap between heartbeat "
                    f"calls {gap['largest_worker_heartbeat_gap_s']} s (worker); largest gap "
                    f"between row updates {gap['largest_row_gap_s']} s "
                    f"({gap['row_updates']} updates incl. progress)"
                )
        finally:
            await conn.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--solve-s", type=float, default=30.0)
    parser.add_argument("--heartbeat-s", type=float, default=5.0)
    anyio.run(main, parser.parse_args())
