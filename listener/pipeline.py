"""One claimed run, start to finish: load, validate, solve in a child, check, write.

Every ending goes through the fenced planner API, and every failure leaves a message a
workforce team can act on (on the run row and in planner_execution_logs).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio
import asyncpg

import constraints
from constraints.changes import relabel_and_report
from constraints.plan import Plan
from listener.backoff import Backoff
from listener.config import Settings
from listener.db import PlannerDatabase
from listener.log_shipper import LogShipper
from listener.messages import Crashed, Ending, OutOfMemory, PlanRejected, Solved
from listener.outcomes import (
    completion_payload,
    infeasible_error,
    plan_error_message,
    result_summary,
    timeout_error,
)
from listener.runs import RunWatch
from listener.shutdown import Shutdown
from listener.solver_process import ChildExit, SolverProcess
from listener.supervisor import SolveReport, SolveSupervisor, StopReason, SupervisorSettings
from listener.transient import is_transient

T = TypeVar("T")
RETRY_MAX_DELAY_S = 5.0


class RunNotOurs(Exception):
    """A heartbeat between retries was refused: the run was cancelled, reaped or re-claimed."""


class GraceExpired(Exception):
    """The worker is shutting down and its grace ran out while it still held the run."""


@dataclass(frozen=True)
class RunOutcome:
    """How the run ended for this worker. `state`: COMPLETED, INFEASIBLE, FAILED (written),
    RELEASED (handed back to PENDING), ABANDONED (no longer ours, nothing written), LEFT (the
    shutdown grace ran out during a database fault: the run stays GENERATING and the reaper
    hands it back), or None when not even the failure could be recorded. `solve_s`: claim to
    end of the solve."""

    state: str | None
    solve_s: float | None = None


class RunPipeline:
    def __init__(
        self, db: PlannerDatabase, settings: Settings, shutdown: Shutdown, shipper: LogShipper
    ):
        self._db = db
        self._settings = settings
        self._shipper = shipper
        self._shutdown = shutdown
        self._supervisor = SolveSupervisor(
            db,
            SupervisorSettings(
                worker_id=settings.worker_id,
                heartbeat_s=settings.heartbeat_s,
                cancel_grace_s=settings.cancel_grace_s,
            ),
            shutdown,
        )

    async def process(self, watch: RunWatch) -> RunOutcome:
        """Never raises: an unexpected error fails the run, not the worker."""
        try:
            return await self._process(watch)
        except Exception as exc:
            watch.log.exception("Internal error while processing the run")
            error = f"Internal error in the worker: {type(exc).__name__}: {exc}"
            return RunOutcome(await self._fail(watch, error))
        finally:
            await self._shipper.flush()

    async def _process(self, watch: RunWatch) -> RunOutcome:
        run = watch.run
        started = time.monotonic()
        watch.log.info("Claimed run (attempt {}, constraints {})", run.attempt, run.constraints)
        if self._shutdown.requested.is_set():
            return RunOutcome(await self._release(watch))
        try:
            doc = await self._retry(
                lambda: self._db.load_plan(run), "load the allocation round", watch
            )
        except RunNotOurs:
            watch.log.info("Run was no longer ours before it was loaded; nothing written")
            return RunOutcome("ABANDONED")
        except GraceExpired:
            return RunOutcome(self._leave(watch, "load the allocation round"))
        except asyncpg.PostgresError as exc:
            return RunOutcome(
                await self._fail(watch, f"Could not load the allocation round: {exc}")
            )
        try:
            plan = await anyio.to_thread.run_sync(constraints.load_plan, doc)
        except constraints.PlanError as exc:
            problems = [str(problem) for problem in exc.problems]  # "field: value: message"
            error = plan_error_message(str(exc))
            return RunOutcome(await self._fail(watch, error, {"problems": problems}))
        time_limit_s = _time_limit(plan)
        report = await self._solve(watch, doc, time_limit_s)
        solve_s = round(time.monotonic() - started, 3)
        watch.bind(solve_s=solve_s, max_heartbeat_gap_s=round(watch.max_heartbeat_gap_s, 3))
        return RunOutcome(await self._conclude(watch, plan, report, time_limit_s), solve_s)

    async def _solve(
        self, watch: RunWatch, doc: dict[str, Any], time_limit_s: float | None
    ) -> SolveReport:
        child = SolverProcess(doc, self._settings.solve_memory_mb, name=f"solve-{watch.run.id}")
        try:
            await child.start()
            watch.log.bind(child_pid=child.pid).info(
                "Solving in child process {} (time limit {}s)", child.pid, time_limit_s
            )
            return await self._supervisor.run(watch, child, time_limit_s)
        finally:
            child.close()

    async def _conclude(
        self, watch: RunWatch, plan: Plan, report: SolveReport, time_limit_s: float | None
    ) -> str | None:
        if report.stop_reason is StopReason.NOT_OURS:
            watch.log.info("Solve stopped; nothing written")
            return "ABANDONED"
        if report.stop_reason is StopReason.SHUTDOWN:
            return await self._release(watch)
        return await self._record_ending(watch, plan, report.ending, time_limit_s)

    async def _record_ending(
        self, watch: RunWatch, plan: Plan, ending: Ending | ChildExit, time_limit_s: float | None
    ) -> str | None:
        match ending:
            case Solved(result=result):
                return await self._record_result(watch, plan, result, time_limit_s)
            case ChildExit():
                memory_mb = self._settings.solve_memory_mb
                cap = f"{memory_mb} MB" if memory_mb else "no cap"
                return await self._fail(
                    watch,
                    f"The solver process died ({ending.describe()}), most likely out of memory "
                    f"(PLANNER_SOLVE_MEMORY_MB: {cap}). The worker is fine: make the round "
                    "smaller or raise the memory cap, then run again.",
                )
            case PlanRejected(message=message, problems=problems):
                return await self._fail(watch, plan_error_message(message), {"problems": problems})
            case OutOfMemory(message=message):
                return await self._fail(
                    watch,
                    f"The solve ran out of memory ({message}): make the round smaller "
                    "or raise PLANNER_SOLVE_MEMORY_MB.",
                )
            case Crashed(message=message, traceback=child_traceback):
                watch.log.bind(child_traceback=child_traceback).error("Solver failed: {}", message)
                return await self._fail(watch, f"The solver failed: {message}")

    async def _record_result(
        self, watch: RunWatch, plan: Plan, result: dict[str, Any], time_limit_s: float | None
    ) -> str | None:
        status = result.get("status")
        watch.bind(status=status, objective=result.get("objective"))
        if status in ("OPTIMAL", "FEASIBLE"):
            return await self._complete(watch, plan, result)
        if status == "INFEASIBLE":
            return await self._infeasible(watch, result)
        if status == "TIMEOUT":
            return await self._fail(watch, timeout_error(time_limit_s), result_summary(result))
        watch.log.error("The solver stopped with status {} although nobody cancelled it", status)
        return await self._fail(watch, f"The solver stopped unexpectedly (status {status}).")

    async def _infeasible(self, watch: RunWatch, result: dict[str, Any]) -> str:
        explanation = list(result.get("explanation") or [])
        error = infeasible_error(explanation)
        watch.log.bind(explanation=explanation).warning("No feasible plan: {}", error)
        await self._shipper.flush()
        state = await self._finish(watch, "INFEASIBLE", result_summary(result), error)
        if state == "INFEASIBLE":
            watch.log.info("Run INFEASIBLE")
        return state

    async def _complete(self, watch: RunWatch, plan: Plan, result: dict[str, Any]) -> str | None:
        lines = [constraints.SolutionLine.from_json(line) for line in result.get("lines") or []]
        report = await anyio.to_thread.run_sync(constraints.check, plan, lines)
        if report.violations:
            violations = list(report.violations)
            return await self._fail(
                watch,
                "The generated lines failed the independent check, so nothing was written:\n- "
                + "\n- ".join(violations[:20]),
                {"violations": violations},
            )
        # Paired lines take their current line's label, so complete_run keeps their rows.
        lines, changes = await anyio.to_thread.run_sync(relabel_and_report, plan, lines)
        summary = result_summary(result)
        summary["changes"] = changes.to_json()
        watch.log.info("Solution checked ({} lines); writing", len(lines))
        await self._shipper.flush()
        payload = completion_payload(lines)
        run, worker_id = watch.run, self._settings.worker_id
        try:
            state = await self._fenced(
                watch,
                "complete_run",
                lambda: self._db.complete_run(run, worker_id, payload, summary),
                "COMPLETED",
            )
        except asyncpg.PostgresError as exc:
            return await self._fail(watch, f"The database refused the generated lines: {exc}")
        if state == "COMPLETED":
            watch.log.info("Run COMPLETED with {} lines", len(lines))
        return state

    async def _finish(
        self, watch: RunWatch, state: str, result: dict[str, Any] | None, error: str
    ) -> str:
        run, worker_id = watch.run, self._settings.worker_id
        return await self._fenced(
            watch,
            "finish_run",
            lambda: self._db.finish_run(run, worker_id, state, result, error),
            state,
        )

    async def _release(self, watch: RunWatch) -> str:
        run, worker_id = watch.run, self._settings.worker_id
        try:
            released = await self._retry(
                lambda: self._db.release_run(run, worker_id), "release the run", watch
            )
        except RunNotOurs:
            released = False
        except GraceExpired:
            return self._leave(watch, "release the run")
        watch.log.info(
            "Released the run to PENDING for another worker"
            if released
            else "Run was no longer ours at release; nothing written"
        )
        return "RELEASED" if released else "ABANDONED"

    async def _fail(
        self, watch: RunWatch, error: str, result: dict[str, Any] | None = None
    ) -> str | None:
        watch.log.bind(details=result).error("Run FAILED: {}", error)
        await self._shipper.flush()
        try:
            return await self._finish(watch, "FAILED", result, error)
        except Exception:
            watch.log.exception("Could not record the failure on the run row")
            return None

    async def _fenced(
        self, watch: RunWatch, function: str, write: Callable[[], Awaitable[bool]], state: str
    ) -> str:
        """A fenced final write through `planner.<function>`: `state` when written, ABANDONED
        (logged) when the run is no longer ours."""
        try:
            written = await self._retry(write, function.replace("_", " "), watch)
        except RunNotOurs:
            written = False
        except GraceExpired:
            return self._leave(watch, function.replace("_", " "))
        if written:
            return state
        watch.log.warning(
            "The database refused our {}: the run is no longer ours (cancelled, reaped or "
            "re-claimed); nothing written",
            function,
        )
        return "ABANDONED"

    async def _retry(self, action: Callable[[], Awaitable[T]], what: str, watch: RunWatch) -> T:
        """Retry through transient faults (`listener.transient`) for as long as the run can
        still be ours: there is no time budget, a finished plan is held until it is written.
        Between attempts a heartbeat keeps the run fresh (so the reaper leaves it alone once
        the database is back) and proves ownership: a refused heartbeat raises RunNotOurs.
        Once a shutdown is requested the holding is bounded by PLANNER_SHUTDOWN_GRACE_S:
        past it GraceExpired is raised (an operator's SIGTERM must end the process; the run
        stays GENERATING and the reaper hands it back). Any other error is the database's
        answer and is raised at once."""
        backoff = Backoff(initial_s=0.25, max_s=RETRY_MAX_DELAY_S)
        while True:
            try:
                return await action()
            except Exception as exc:
                if not is_transient(exc):
                    raise
                delay = backoff.next_delay()
                watch.log.warning(
                    "Could not {} ({}: {}); holding the run and retrying in {:.1f}s",
                    what,
                    type(exc).__name__,
                    exc,
                    delay,
                )
            await self._pause(delay)
            if self._grace_spent():
                raise GraceExpired(what)
            if await self._heartbeat_refused(watch):
                raise RunNotOurs(what)

    def _grace_spent(self) -> bool:
        return self._shutdown.requested.is_set() and self._shutdown.grace_remaining() <= 0

    async def _pause(self, delay: float) -> None:
        """Sleep `delay` between retries, cut short at the end of a shutdown grace (a
        SIGTERM arriving mid-sleep shortens it too)."""
        until = time.monotonic() + delay
        if not self._shutdown.requested.is_set():
            with anyio.move_on_after(delay):
                await self._shutdown.requested.wait()
        rest = min(until - time.monotonic(), self._shutdown.grace_remaining())
        if rest > 0:
            await anyio.sleep(rest)

    def _leave(self, watch: RunWatch, what: str) -> str:
        watch.log.warning(
            "Shutdown grace ({}s) over while trying to {}; leaving the run GENERATING (attempt "
            "{}): the reaper hands it back to PENDING once stale, nothing is lost",
            self._shutdown.grace_s,
            what,
            watch.run.attempt,
        )
        return "LEFT"

    async def _heartbeat_refused(self, watch: RunWatch) -> bool:
        """True only when the database answered that the run is not ours; an unreachable
        database proves nothing (the next retry will tell)."""
        try:
            owned = await self._db.heartbeat(watch.run, self._settings.worker_id, None)
        except Exception as exc:
            if is_transient(exc):
                return False
            raise
        watch.heartbeat_ok(time.monotonic())
        return not owned


def _time_limit(plan: Plan) -> float | None:
    value = plan.params.time_limit_s
    return float(value) if value else None
