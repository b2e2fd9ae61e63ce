"""Watches one solve: heartbeats and progress out, stop requests in.

While the child solves, the event loop (free, because the solve is in another process)
heartbeats every PLANNER_HEARTBEAT_S and writes progress at most once a second. The solve
is stopped when
- the heartbeat answers false (cancelled, reaped or re-claimed: the run is not ours),
- a cancellation notification for this run is confirmed by an immediate heartbeat,
- shutdown was requested and the grace period ran out.
A stopped child gets a cancel message, then SIGKILL after PLANNER_CANCEL_GRACE_S.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import anyio

from listener.db import DB_ERRORS, ClaimedRun, PlannerDatabase
from listener.shutdown import Shutdown
from listener.solver_process import ChildExit, SolverProcess

PROGRESS_MIN_INTERVAL_S = 1.0


class StopReason(Enum):
    NOT_OURS = "not_ours"  # heartbeat false: cancelled, reaped or claimed by another worker
    SHUTDOWN = "shutdown"  # graceful shutdown ran out of grace


@dataclass
class RunWatch:
    """Mutable state of one run in flight, shared with the notification handlers."""

    run: ClaimedRun
    log: Any  # loguru logger bound to the run
    check_now: anyio.Event = field(default_factory=anyio.Event)
    cancel_notified: bool = False
    progress: dict[str, Any] | None = None
    progress_dirty: bool = False
    # Monotonic time of the last successful heartbeat (the claim counts as the first).
    last_heartbeat: float = field(default_factory=time.monotonic)
    # Metrics hook: called with each gap between successful heartbeats.
    on_heartbeat_gap: Callable[[float], None] | None = None
    # How the run ended for this worker (COMPLETED, INFEASIBLE, FAILED, RELEASED, ABANDONED)
    # and how long claim-to-end-of-solve took; set by the pipeline, read for metrics.
    outcome: str | None = None
    solve_s: float | None = None

    def request_check(self, *, cancelled: bool) -> None:
        self.cancel_notified = self.cancel_notified or cancelled
        self.check_now.set()

    def heartbeat_ok(self, now: float, gap: float) -> None:
        self.last_heartbeat = now
        if self.on_heartbeat_gap is not None:
            self.on_heartbeat_gap(gap)


@dataclass
class SolveReport:
    message: tuple[str, Any] | ChildExit  # ("result", dict) | ("error", dict) | ChildExit
    stop_reason: StopReason | None
    last_heartbeat_gap_s: float = 0.0
    max_heartbeat_gap_s: float = 0.0


def with_percent_fallback(progress: dict[str, Any], time_limit_s: float | None) -> dict[str, Any]:
    """Give the UI a bar even when the engine cannot estimate: the share of the time limit."""
    if progress.get("percent") is None and time_limit_s:
        elapsed = float(progress.get("elapsed_s") or 0.0)
        progress = {**progress, "percent": round(min(99.0, 100.0 * elapsed / time_limit_s), 1)}
    return progress


class SolveSupervisor:
    def __init__(
        self,
        db: PlannerDatabase,
        *,
        worker_id: str,
        heartbeat_s: float,
        cancel_grace_s: float,
        shutdown: Shutdown,
    ):
        self._db = db
        self._worker_id = worker_id
        self._heartbeat_s = heartbeat_s
        self._cancel_grace_s = cancel_grace_s
        self._shutdown = shutdown

    async def run(self, watch: RunWatch, child: SolverProcess, time_limit_s: float | None):
        stop: list[StopReason] = []
        gaps = {"max": 0.0}

        async def stop_child(reason: StopReason) -> None:
            if stop:
                return
            stop.append(reason)
            child.cancel()
            # Only the main loop waits on the child's exit (one reader per fd); this task
            # merely enforces the deadline and is cancelled once the child is gone.
            await anyio.sleep(self._cancel_grace_s)
            if child.running:
                watch.log.warning(
                    "Solver did not stop within {}s of the cancel message; killing it",
                    self._cancel_grace_s,
                )
                child.kill()

        async def keep_alive(tg: anyio.abc.TaskGroup) -> None:
            last_beat = time.monotonic()
            last_progress_write = 0.0
            while True:
                with anyio.move_on_after(min(PROGRESS_MIN_INTERVAL_S, self._heartbeat_s)):
                    await watch.check_now.wait()
                now = time.monotonic()
                checking = watch.check_now.is_set()
                heartbeat_due = now - last_beat >= self._heartbeat_s
                progress_due = (
                    watch.progress_dirty and now - last_progress_write >= PROGRESS_MIN_INTERVAL_S
                )
                if not (checking or heartbeat_due or progress_due):
                    continue
                watch.check_now = anyio.Event()
                progress = watch.progress
                if progress is not None:
                    progress = with_percent_fallback(progress, time_limit_s)
                    watch.progress_dirty = False
                    last_progress_write = now
                try:
                    owned = await self._db.heartbeat(watch.run, self._worker_id, progress)
                except DB_ERRORS as exc:
                    watch.log.warning(
                        "Heartbeat failed ({}: {}); will retry", type(exc).__name__, exc
                    )
                    continue
                gaps["max"] = max(gaps["max"], now - last_beat)
                watch.heartbeat_ok(now, now - last_beat)
                last_beat = now
                if not owned:
                    why = (
                        "it was cancelled"
                        if watch.cancel_notified
                        else "it was cancelled, reaped as stale or claimed by another worker"
                    )
                    watch.log.warning("Run is no longer ours ({}): stopping the solve", why)
                    tg.start_soon(stop_child, StopReason.NOT_OURS)
                    return

        async def stop_after_grace(tg: anyio.abc.TaskGroup) -> None:
            await self._shutdown.requested.wait()
            remaining = self._shutdown.grace_remaining()
            watch.log.info("Shutdown requested: giving the solve {:.1f}s to finish", remaining)
            await anyio.sleep(remaining)
            watch.log.warning("Shutdown grace period over: stopping the solve")
            tg.start_soon(stop_child, StopReason.SHUTDOWN)

        async with anyio.create_task_group() as tg:
            tg.start_soon(keep_alive, tg)
            tg.start_soon(stop_after_grace, tg)
            while True:
                message = await child.next_message()
                if isinstance(message, ChildExit) or message[0] != "progress":
                    break
                watch.progress = message[1]
                watch.progress_dirty = True
            if stop:
                # Wait for the stop (cancel, then kill) to finish before leaving.
                with anyio.move_on_after(self._cancel_grace_s + 1):
                    await child.wait_exit()
            tg.cancel_scope.cancel()
        return SolveReport(
            message=message, stop_reason=stop[0] if stop else None, max_heartbeat_gap_s=gaps["max"]
        )
