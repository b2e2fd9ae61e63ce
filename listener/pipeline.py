"""One claimed run, start to finish: load, validate, solve in a child, check, write.

Every ending goes through the fenced planner API, and every failure leaves a message a
workforce team can act on (on the run row and in planner_execution_logs).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio
import asyncpg

import constraints
from listener.backoff import Backoff
from listener.config import Settings
from listener.db import PlannerDatabase
from listener.log_shipper import LogShipper
from listener.outcomes import (
    completion_payload,
    infeasible_error,
    plan_error_message,
    result_summary,
    timeout_error,
)
from listener.shutdown import Shutdown
from listener.solver_process import ChildExit, SolverProcess
from listener.supervisor import RunWatch, SolveSupervisor, StopReason
from listener.transient import is_transient

T = TypeVar("T")
RETRY_MAX_DELAY_S = 5.0


class RunNotOurs(Exception):
    """A heartbeat between retries was refused: the run was cancelled, reaped or re-claimed."""


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
            worker_id=settings.worker_id,
            heartbeat_s=settings.heartbeat_s,
            cancel_grace_s=settings.cancel_grace_s,
            shutdown=shutdown,
        )

    async def process(self, watch: RunWatch) -> None:
        """Never raises: an unexpected error fails the run, not the worker."""
        try:
            await self._process(watch)
        except Exception as exc:
            watch.log.exception("Internal error while processing the run")
            await self._fail(watch, f"Internal error in the worker: {type(exc).__name__}: {exc}")
        finally:
            await self._shipper.flush()

    async def _process(self, watch: RunWatch) -> None:
        run, log = watch.run, watch.log
        started = time.monotonic()
        log.info("Claimed run (attempt {}, constraints {})", run.attempt, run.constraints)
        if self._shutdown.requested.is_set():
            await self._release(watch)
            return
        try:
            doc = await self._retry(
                lambda: self._db.load_plan(run), "load the allocation round", watch
            )
        except RunNotOurs:
            watch.outcome = "ABANDONED"
            log.info("Run was no longer ours before it was loaded; nothing written")
            return
        except asyncpg.PostgresError as exc:
            await self._fail(watch, f"Could not load the allocation round: {exc}")
            return
        try:
            plan = await anyio.to_thread.run_sync(constraints.load_plan, doc)
        except constraints.PlanError as exc:
            problems = [str(problem) for problem in exc.problems]  # "field: value: message"
            await self._fail(watch, plan_error_message(str(exc)), {"problems": problems})
            return
        time_limit_s = _time_limit(plan)
        child = SolverProcess(doc, self._settings.solve_memory_mb, name=f"solve-{run.id}")
        try:
            await child.start()
            log.bind(child_pid=child.pid).info(
                "Solving in child process {} (time limit {}s)", child.pid, time_limit_s
            )
            report = await self._supervisor.run(watch, child, time_limit_s)
        finally:
            child.close()
        solve_s = round(time.monotonic() - started, 3)
        watch.solve_s = solve_s
        log = log.bind(solve_s=solve_s, max_heartbeat_gap_s=round(report.max_heartbeat_gap_s, 3))
        watch.log = log

        if report.stop_reason is StopReason.NOT_OURS:
            watch.outcome = "ABANDONED"
            log.info("Solve stopped; nothing written")
            return
        if report.stop_reason is StopReason.SHUTDOWN:
            await self._release(watch)
            return
        await self._finish(watch, plan, report.message, time_limit_s)

    async def _finish(self, watch: RunWatch, plan: Any, message: Any, time_limit_s: float | None):
        log, memory_mb = watch.log, self._settings.solve_memory_mb
        if isinstance(message, ChildExit):
            cap = f"{memory_mb} MB" if memory_mb else "no cap"
            await self._fail(
                watch,
                f"The solver process died ({message.describe()}), most likely out of memory "
                f"(PLANNER_SOLVE_MEMORY_MB: {cap}). The worker is fine: make the round smaller "
                "or raise the memory cap, then run again.",
            )
            return
        kind, body = message
        if kind == "error":
            if body.get("kind") == "plan":
                problems = {"problems": body.get("problems", [])}
                await self._fail(watch, plan_error_message(body["message"]), problems)
            elif body.get("kind") == "memory":
                await self._fail(
                    watch,
                    f"The solve ran out of memory ({body['message']}): make the round smaller "
                    "or raise PLANNER_SOLVE_MEMORY_MB.",
                )
            else:
                log.bind(child_traceback=body.get("traceback")).error(
                    "Solver failed: {}", body.get("message")
                )
                await self._fail(watch, f"The solver failed: {body.get('message')}")
            return

        result: dict[str, Any] = body
        status = result.get("status")
        log = log.bind(status=status, objective=result.get("objective"))
        watch.log = log
        if status in ("OPTIMAL", "FEASIBLE"):
            await self._complete(watch, plan, result)
        elif status == "INFEASIBLE":
            explanation = list(result.get("explanation") or [])
            error = infeasible_error(explanation)
            log.bind(explanation=explanation).warning("No feasible plan: {}", error)
            await self._shipper.flush()
            owned = await self._write(
                watch, "finish_run", "INFEASIBLE", result_summary(result), error
            )
            if owned:
                log.info("Run INFEASIBLE")
        elif status == "TIMEOUT":
            await self._fail(watch, timeout_error(time_limit_s), result_summary(result))
        else:
            log.error("The solver stopped with status {} although nobody cancelled it", status)
            await self._fail(watch, f"The solver stopped unexpectedly (status {status}).")

    async def _complete(self, watch: RunWatch, plan: Any, result: dict[str, Any]) -> None:
        lines = [constraints.SolutionLine.from_json(line) for line in result.get("lines") or []]
        report = await anyio.to_thread.run_sync(constraints.check, plan, lines)
        if report.violations:
            violations = list(report.violations)
            await self._fail(
                watch,
                "The generated lines failed the independent check, so nothing was written:\n- "
                + "\n- ".join(violations[:20]),
                {"violations": violations},
            )
            return
        summary = result_summary(result)
        watch.log.info("Solution checked ({} lines); writing", len(lines))
        await self._shipper.flush()
        try:
            owned = await self._write(watch, "complete_run", completion_payload(lines), summary)
        except asyncpg.PostgresError as exc:
            await self._fail(watch, f"The database refused the generated lines: {exc}")
            return
        if owned:
            watch.log.info("Run COMPLETED with {} lines", len(lines))

    async def _release(self, watch: RunWatch) -> None:
        try:
            released = await self._retry(
                lambda: self._db.release_run(watch.run, self._settings.worker_id),
                "release the run",
                watch,
            )
        except RunNotOurs:
            released = False
        watch.outcome = "RELEASED" if released else "ABANDONED"
        watch.log.info(
            "Released the run to PENDING for another worker"
            if released
            else "Run was no longer ours at release; nothing written"
        )

    async def _fail(self, watch: RunWatch, error: str, result: dict | None = None) -> None:
        watch.log.bind(details=result).error("Run FAILED: {}", error)
        await self._shipper.flush()
        try:
            if await self._write(watch, "finish_run", "FAILED", result, error):
                return
        except Exception:
            watch.log.exception("Could not record the failure on the run row")

    async def _write(self, watch: RunWatch, method: str, *args: Any) -> bool:
        """A fenced final write; False (logged) when the run is no longer ours."""
        call = getattr(self._db, method)
        try:
            owned = await self._retry(
                lambda: call(watch.run, self._settings.worker_id, *args),
                method.replace("_", " "),
                watch,
            )
        except RunNotOurs:
            owned = False
        if owned:
            watch.outcome = "COMPLETED" if method == "complete_run" else str(args[0])
        else:
            watch.outcome = "ABANDONED"
            watch.log.warning(
                "The database refused our {}: the run is no longer ours (cancelled, reaped or "
                "re-claimed); nothing written",
                method,
            )
        return bool(owned)

    async def _retry(self, action: Callable[[], Awaitable[T]], what: str, watch: RunWatch) -> T:
        """Retry through transient faults (`listener.transient`) for as long as the run can
        still be ours: there is no time budget, a finished plan is held until it is written.
        Between attempts a heartbeat keeps the run fresh (so the reaper leaves it alone once
        the database is back) and proves ownership: a refused heartbeat raises RunNotOurs.
        Any other error is the database's answer and is raised at once."""
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
            await anyio.sleep(delay)
            if await self._heartbeat_refused(watch):
                raise RunNotOurs(what)

    async def _heartbeat_refused(self, watch: RunWatch) -> bool:
        """True only when the database answered that the run is not ours; an unreachable
        database proves nothing (the next retry will tell)."""
        try:
            owned = await self._db.heartbeat(watch.run, self._settings.worker_id, None)
        except Exception as exc:
            if is_transient(exc):
                return False
            raise
        now = time.monotonic()
        watch.heartbeat_ok(now, now - watch.last_heartbeat)
        return not owned


def _time_limit(plan: Any) -> float | None:
    params = getattr(plan, "params", None)
    if isinstance(params, dict):
        value = params.get("time_limit_s")
    else:
        value = getattr(params, "time_limit_s", None)
    return float(value) if value else None
