"""The worker: wires database, wake-up source, dispatcher, pipeline, signals and health.

Shutdown: the first SIGTERM/SIGINT stops claiming; runs in flight get
PLANNER_SHUTDOWN_GRACE_S to finish (and are committed) or are stopped and released to
PENDING. A second signal kills the solver children and exits at once.
"""

from __future__ import annotations

import os
import signal
import sys
from collections import OrderedDict

import anyio
import asyncpg
from loguru import logger

from listener.backoff import Backoff
from listener.config import Settings
from listener.db import DB_ERRORS, ClaimedRun, PlannerDatabase
from listener.dispatcher import Dispatcher, Doorbell
from listener.health import write_tick
from listener.log_shipper import LogShipper
from listener.pipeline import RunPipeline
from listener.shutdown import Shutdown
from listener.solver_process import kill_all_children, warm_up
from listener.supervisor import RunWatch
from listener.wakeup import WakeupSource, make_source

MAX_HINTS = 1000
HEALTH_TICK_S = 5.0
# Bad configuration, not an outage: retrying would only hide it.
FATAL_CONNECT_ERRORS = (
    asyncpg.InvalidPasswordError,
    asyncpg.InvalidCatalogNameError,
    asyncpg.InvalidAuthorizationSpecificationError,
)


class Worker:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.shutdown = Shutdown(settings.shutdown_grace_s)
        self.doorbell = Doorbell()
        self.active: dict[str, RunWatch] = {}
        # run_id -> organization_id named by its planner_runs notification, checked at claim.
        self._hints: OrderedDict[str, str | None] = OrderedDict()
        self._claiming = anyio.CancelScope()
        self._log = logger.bind(worker_id=settings.worker_id)

    # -- WakeupEvents -------------------------------------------------------------------

    def run_pending(self, run_id: str | None, organization_id: str | None, source: str) -> None:
        if run_id:
            self._hints[run_id] = organization_id
            while len(self._hints) > MAX_HINTS:
                self._hints.popitem(last=False)
        self.doorbell.ring()

    def run_cancelled(self, run_id: str | None, organization_id: str | None, source: str) -> None:
        watch = self.active.get(run_id or "")
        if watch is None:
            return
        if organization_id != str(watch.run.organization_id):
            watch.log.warning(
                "Refused a cancellation notification naming organisation {}: the run belongs "
                "to another organisation",
                organization_id,
            )
            return
        watch.log.info("Cancellation notified via {}; confirming with the database", source)
        watch.request_check(cancelled=True)

    def reconnected(self, source: str) -> None:
        self.doorbell.ring()

    # -- lifecycle ----------------------------------------------------------------------

    async def run(self) -> int:
        async with anyio.create_task_group() as root:
            root.start_soon(self._watch_signals)
            try:
                return await self._serve()
            finally:
                root.cancel_scope.cancel()

    async def _serve(self) -> int:
        settings = self.settings
        db = await self._open_database()
        if db is None:
            return 0 if self.shutdown.requested.is_set() else 2
        shipper = LogShipper(db.write_logs)
        shipper.install()
        pipeline = RunPipeline(db, settings, self.shutdown, shipper)
        try:
            async with anyio.create_task_group() as services:
                services.start_soon(shipper.run)
                services.start_soon(self._tick_health)
                await anyio.to_thread.run_sync(warm_up)
                self._log.info("Solver process server ready")
                services.start_soon(self._run_source, make_source(settings, notify=db.notify))
                async with anyio.create_task_group() as runs:

                    def start_run(run: ClaimedRun) -> None:
                        runs.start_soon(self._process, pipeline, dispatcher, run)

                    dispatcher = Dispatcher(
                        db,
                        worker_id=settings.worker_id,
                        concurrency=settings.concurrency,
                        poll_interval_s=settings.poll_interval_s,
                        doorbell=self.doorbell,
                        on_claimed=start_run,
                    )
                    with self._claiming:
                        await dispatcher.run(self.shutdown.requested)
                    if self.active:
                        self._log.info("Stopped claiming; waiting for {} run(s)", len(self.active))
                services.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                await shipper.flush()
                shipper.uninstall()
                await db.close()
        self._log.info("Worker stopped")
        return 0

    async def _open_database(self) -> PlannerDatabase | None:
        settings = self.settings
        backoff = Backoff(initial_s=0.5, max_s=settings.reconnect_max_s)
        while not self.shutdown.requested.is_set():
            try:
                db = await PlannerDatabase.open(
                    settings.database_url,
                    max_size=settings.concurrency + 2,
                    statement_cache_size=settings.statement_cache_size,
                    timeout_s=settings.db_timeout_s,
                )
            except FATAL_CONNECT_ERRORS as exc:
                self._log.error("Cannot use DATABASE_URL {}: {}", settings.redacted_url(), exc)
                return None
            except DB_ERRORS as exc:
                delay = backoff.next_delay()
                self._log.warning(
                    "Database {} not reachable ({}: {}); retrying in {:.1f}s",
                    settings.redacted_url(),
                    type(exc).__name__,
                    exc,
                    delay,
                )
                with anyio.move_on_after(delay):
                    await self.shutdown.requested.wait()
                continue
            self._log.info(
                "Worker started: database {}, concurrency {}, wake-up {}, heartbeat {}s, poll {}s",
                settings.redacted_url(),
                settings.concurrency,
                settings.wakeup,
                settings.heartbeat_s,
                settings.poll_interval_s,
            )
            return db
        return None

    async def _process(self, pipeline: RunPipeline, dispatcher: Dispatcher, run: ClaimedRun):
        run_id = str(run.id)
        watch = RunWatch(
            run=run,
            log=self._log.bind(run_id=run_id, organization_id=str(run.organization_id)),
        )
        self.active[run_id] = watch
        try:
            hinted_org = self._hints.pop(run_id, None)
            if hinted_org is not None and hinted_org != str(run.organization_id):
                watch.log.warning(
                    "Refused the notification for this run: it named organisation {}, but the "
                    "run row belongs to {}; the run is processed for the row's organisation",
                    hinted_org,
                    run.organization_id,
                )
            await pipeline.process(watch)
        finally:
            del self.active[run_id]
            dispatcher.slots.release()

    async def _run_source(self, source: WakeupSource) -> None:
        try:
            await source.run(self)
        except Exception:
            self._log.exception("Wake-up source {} crashed; continuing by polling", source.name)

    async def _tick_health(self) -> None:
        warned = False
        while True:
            try:
                write_tick(
                    self.settings.health_file,
                    {
                        "worker_id": self.settings.worker_id,
                        "pid": os.getpid(),
                        "active_runs": sorted(self.active),
                        "stopping": self.shutdown.requested.is_set(),
                    },
                )
            except OSError as exc:
                if not warned:
                    warned = True
                    self._log.warning("Cannot write the health file: {}", exc)
            await anyio.sleep(HEALTH_TICK_S)

    async def _watch_signals(self) -> None:
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async for signum in signals:
                name = signal.Signals(signum).name
                if not self.shutdown.requested.is_set():
                    self._log.info(
                        "{} received: no new claims; {} run(s) in flight get {}s to finish "
                        "(send it again to exit at once)",
                        name,
                        len(self.active),
                        self.settings.shutdown_grace_s,
                    )
                    self.shutdown.request()
                    self._claiming.cancel()
                else:
                    self._log.warning("Second {}: killing solver processes and exiting now", name)
                    kill_all_children()
                    sys.stdout.flush()
                    os._exit(128 + signum)
