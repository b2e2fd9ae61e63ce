"""Real worker processes for the end-to-end tests.

`start_worker(**env)` runs `python -m listener` against the session cluster as the
least-privilege `planner_worker` role, parses its JSON log lines as they arrive, and stops
it (SIGTERM, then SIGKILL) at the end of the test.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

REPO = Path(__file__).resolve().parents[2]
FINAL_STATES = ("COMPLETED", "INFEASIBLE", "FAILED", "CANCELLED")


class WorkerProcess:
    def __init__(self, env: dict[str, str]):
        self.worker_id = env["PLANNER_WORKER_ID"]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "listener", "listen"],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        self.records: list[dict[str, Any]] = []
        self.raw: list[str] = []
        self._arrivals: queue.Queue[dict[str, Any]] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.raw.append(line)
            try:
                record = json.loads(line)
            except ValueError:
                continue
            record["_received"] = time.monotonic()
            self.records.append(record)
            self._arrivals.put(record)

    def wait_for_log(self, predicate: Callable[[dict], bool], timeout: float) -> dict[str, Any]:
        """The first log record (already seen or arriving within `timeout`) that matches."""
        for record in list(self.records):
            if predicate(record):
                return record
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                record = self._arrivals.get(timeout=remaining)
            except queue.Empty:
                break
            if predicate(record):
                return record
        raise AssertionError(f"no matching log record within {timeout}s; log tail:\n{self.tail()}")

    def messages(self, run_id: uuid.UUID | str | None = None) -> list[str]:
        return [
            r["message"] for r in self.records if run_id is None or r.get("run_id") == str(run_id)
        ]

    def tail(self, n: int = 40) -> str:
        return "".join(self.raw[-n:])

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def wait_exit(self, timeout: float) -> int:
        return self.process.wait(timeout)

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._reader.join(5)


@pytest.fixture
def start_worker(worker_dsn: str, tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    started: list[WorkerProcess] = []

    def start(**overrides: str) -> WorkerProcess:
        env = {
            **os.environ,
            "DATABASE_URL": worker_dsn,
            "PLANNER_WORKER_ID": f"test-{uuid.uuid4().hex[:8]}",
            "PLANNER_LOG_FORMAT": "json",
            "PLANNER_LOG_LEVEL": "DEBUG",
            "PLANNER_HEARTBEAT_S": "1",
            "PLANNER_POLL_INTERVAL_S": "2",
            "PLANNER_SHUTDOWN_GRACE_S": "2",
            "PLANNER_HEALTH_FILE": str(tmp_path / f"health-{len(started)}"),
            **overrides,
        }
        worker = WorkerProcess(env)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def ready(record: dict) -> bool:
    """The worker is listening (so a notification would reach it)."""
    return record["message"].startswith("Listening on planner_runs")


async def wait_for_state(
    conn: asyncpg.Connection,
    run_id: uuid.UUID,
    states: Iterable[str],
    timeout: float,
    *,
    poll_s: float = 0.05,
) -> dict[str, Any]:
    """Poll the run row until its state is one of `states`; fail with the row at the deadline."""
    import anyio

    wanted = set(states)
    deadline = time.monotonic() + timeout
    row: dict[str, Any] = {}
    while time.monotonic() < deadline:
        row = dict(
            await conn.fetchrow("select * from allocation_planner_runs where id = $1", run_id)
        )
        if row["state"] in wanted:
            return row
        await anyio.sleep(poll_s)
    raise AssertionError(f"run {run_id} not in {sorted(wanted)} after {timeout}s: {row}")


async def wait_for_row(conn: asyncpg.Connection, sql: str, *args: Any, timeout: float) -> Any:
    """Poll `sql` until it returns a truthy value (bounded)."""
    import anyio

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await conn.fetchval(sql, *args)
        if value:
            return value
        await anyio.sleep(0.05)
    raise AssertionError(f"nothing from {sql!r} {args} within {timeout}s")


async def wait_for_progress(
    conn: asyncpg.Connection, run_id: uuid.UUID, timeout: float = 20
) -> None:
    """The run's solve has reported progress (so it is really under way)."""
    await wait_for_row(
        conn,
        "select progress is not null from allocation_planner_runs where id = $1",
        run_id,
        timeout=timeout,
    )


async def process_dies(pid: int, timeout: float) -> bool:
    """Bounded poll: True once `pid` is gone or a zombie (dead, not yet reaped)."""
    import anyio

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state in ("Z", "X"):
            return True
        await anyio.sleep(0.02)
    return False
