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
from dataclasses import dataclass
from enum import Enum
from typing import Any

import anyio
import anyio.abc

from listener.db import DB_ERRORS, PlannerDatabase
from listener.messages import Ending, Progress
from listener.runs import RunWatch
from listener.shutdown import Shutdown
from listener.solver_process import ChildExit, SolverProcess

PROGRESS_MIN_INTERVAL_S = 1.0


class StopReason(Enum):
    NOT_OURS = "not_ours"  # heartbeat false: cancelled, reaped or claimed by another worker
    SHUTDOWN = "shutdown"  # graceful shutdown ran out of grace


@dataclass(frozen=True)
class SolveReport:
    ending: Ending | ChildExit
    stop_reason: StopReason | None


def with_percent_fallback(progress: dict[str, Any], time_limit_s: float | None) -> dict[str, Any]:
    """Give the UI a bar even when the engine cannot estimate: the share of the time limit."""
    if progress.get("percent") is None and time_limit_s:
        elapsed = float(progress.get("elapsed_s") or 0.0)
        progress = {**progress, "percent": round(min(99.0, 100.0 * elapsed / time_limit_s), 1)}
    return progress


@dataclass(frozen=True)
class SupervisorSettings:
    worker_id: str
    heartbeat_s: float
    cancel_grace_s: float


class SolveSupervisor:
    def __init__(self, db: PlannerDatabase, settings: SupervisorSettings, shutdown: Shutdown):
        self._db = db
        self._settings = settings
        self._shutdown = shutdown

    async def run(
        self, watch: RunWatch, child: SolverProcess, time_limit_s: float | None
    ) -> SolveReport:
        supervision = _Supervision(self._db, self._settings, self._shutdown, watch, child)
        return await supervision.run(time_limit_s)


class _Supervision:
    """One solve's supervision: reads the child's messages while two tasks heartbeat and
    wait for the shutdown grace; the first reason to stop wins."""

    def __init__(
        self,
        db: PlannerDatabase,
        settings: SupervisorSettings,
        shutdown: Shutdown,
        watch: RunWatch,
        child: SolverProcess,
    ) -> None:
        self._db = db
        self._settings = settings
        self._shutdown = shutdown
        self._watch = watch
        self._child = child
        self._stop_reason: StopReason | None = None

    async def run(self, time_limit_s: float | None) -> SolveReport:
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._keep_alive, tg, time_limit_s)
            tg.start_soon(self._stop_after_grace, tg)
            ending = await self._read_until_ending()
            if self._stop_reason is not None:
                # Wait for the stop (cancel, then kill) to finish before leaving.
                with anyio.move_on_after(self._settings.cancel_grace_s + 1):
                    await self._child.wait_exit()
            tg.cancel_scope.cancel()
        return SolveReport(ending=ending, stop_reason=self._stop_reason)

    async def _read_until_ending(self) -> Ending | ChildExit:
        while True:
            message = await self._child.next_message()
            if not isinstance(message, Progress):
                return message
            self._watch.report_progress(message.fields)

    def _stop(self, tg: anyio.abc.TaskGroup, reason: StopReason) -> None:
        if self._stop_reason is None:
            self._stop_reason = reason
            tg.start_soon(self._cancel_then_kill)

    async def _cancel_then_kill(self) -> None:
        child, grace = self._child, self._settings.cancel_grace_s
        child.cancel()
        # Only the reading loop waits on the child's exit (one reader per fd); this task
        # merely enforces the deadline and is cancelled once the child is gone.
        await anyio.sleep(grace)
        if child.running:
            self._watch.log.warning(
                "Solver did not stop within {}s of the cancel message; killing it", grace
            )
            child.kill()

    async def _keep_alive(self, tg: anyio.abc.TaskGroup, time_limit_s: float | None) -> None:
        watch, heartbeat_s = self._watch, self._settings.heartbeat_s
        last_progress_write = 0.0
        while True:
            with anyio.move_on_after(min(PROGRESS_MIN_INTERVAL_S, heartbeat_s)):
                await watch.check_now.wait()
            now = time.monotonic()
            progress_due = (
                watch.progress_dirty and now - last_progress_write >= PROGRESS_MIN_INTERVAL_S
            )
            heartbeat_due = now - watch.last_heartbeat >= heartbeat_s
            if not (watch.take_check_request() or heartbeat_due or progress_due):
                continue
            progress = watch.take_progress()
            if progress is not None:
                progress = with_percent_fallback(progress, time_limit_s)
                last_progress_write = now
            owned = await self._heartbeat(progress, now)
            if owned is False:
                self._stop(tg, StopReason.NOT_OURS)
                return

    async def _heartbeat(self, progress: dict[str, Any] | None, now: float) -> bool | None:
        """True/False: the database's answer (is the run still ours?); None: no answer."""
        watch = self._watch
        try:
            owned = await self._db.heartbeat(watch.run, self._settings.worker_id, progress)
        except DB_ERRORS as exc:
            watch.log.warning("Heartbeat failed ({}: {}); will retry", type(exc).__name__, exc)
            return None
        watch.heartbeat_ok(now)
        if not owned:
            why = (
                "it was cancelled"
                if watch.cancel_notified
                else "it was cancelled, reaped as stale or claimed by another worker"
            )
            watch.log.warning("Run is no longer ours ({}): stopping the solve", why)
        return owned

    async def _stop_after_grace(self, tg: anyio.abc.TaskGroup) -> None:
        await self._shutdown.requested.wait()
        remaining = self._shutdown.grace_remaining()
        self._watch.log.info("Shutdown requested: giving the solve {:.1f}s to finish", remaining)
        await anyio.sleep(remaining)
        self._watch.log.warning("Shutdown grace period over: stopping the solve")
        self._stop(tg, StopReason.SHUTDOWN)
