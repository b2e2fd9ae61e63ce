"""The worker: wires database, wake-up source, dispatcher, pipeline, signals and health.

Shutdown: the first SIGTERM/SIGINT stops claiming; runs in flight get
PLANNER_SHUTDOWN_GRACE_S to finish (and are committed) or are stopped and released to
PENDING. A second signal kills the solver children and exits at once.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata

import anyio
import asyncpg
from loguru import logger

from listener.backoff import Backoff
from listener.config import Settings
from listener.db import DB_ERRORS, ClaimedRun, PlannerDatabase
from listener.dispatcher import Dispatcher, Doorbell
from listener.health import write_tick
from listener.log_shipper import LogShipper
from listener.metrics import Metrics, lag_since
from listener.pipeline import RunPipeline
from listener.shutdown import Shutdown
from listener.solver_process import kill_all_children, warm_up
from listener.supervisor import RunWatch
from listener.wakeup import WakeupSource, make_source

MAX_HINTS = 1000
# The tick file is rewritten this often (or every PLANNER_HEARTBEAT_S when shorter).
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
        # Every organisation named, so a forged notification is not hidden by a genuine one
        # arriving after it (or the other way round).
        self._hints: OrderedDict[str, set[str | None]] = OrderedDict()
        self._claiming = anyio.CancelScope()
        self._log = logger.bind(worker_id=settings.worker_id)
        self.version = worker_version()
        self.started_at = datetime.now(UTC)
        self.metrics = Metrics(
            worker_id=settings.worker_id, version=self.version, wakeup=settings.wakeup
        )
        self.metrics.watch_live(
            active_runs=lambda: float(len(self.active)),
            heartbeat_lag=lag_since(lambda: [w.last_heartbeat for w in self.active.values()]),
        )
        # Wakes the registry loop early (a run started or ended, shutdown began).
        self._registry_dirty = anyio.Event()
        self._db_ok: bool | None = None  # last registry call succeeded (tick file, info only)
        # The push wake-up source is connected; False = this worker runs on polling alone.
        self._wakeup_live = False
        self._wakeup_connected: Callable[[], bool] | None = None  # a source's own status

    # -- WakeupEvents -------------------------------------------------------------------

    def run_pending(self, run_id: str | None, organization_id: str | None, source: str) -> None:
        self.metrics.wakeup(source)
        if run_id:
            self._hints.setdefault(run_id, set()).add(organization_id)
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
        self._wakeup_live = True
        self.metrics.wakeup("reconnect")
        self.doorbell.ring()

    def wakeup_lost(self, source: str) -> None:
        """The source lost its connection (or crashed): polling alone until it is back."""
        self._wakeup_live = False

    @property
    def polling_alone(self) -> bool:
        connected = self._wakeup_connected
        return not (connected() if connected is not None else self._wakeup_live)

    # -- lifecycle ----------------------------------------------------------------------

    async def run(self) -> int:
        self._start_metrics()
        try:
            return await self._run()
        finally:
            self.metrics.close()

    async def _run(self) -> int:
        async with anyio.create_task_group() as root:
            root.start_soon(self._watch_signals)
            # From the first moment and whatever the database does: health reflects this
            # event loop, not the database (docs/operations.md, "Health").
            root.start_soon(self._tick_health)
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
                services.start_soon(self._keep_registered, db)
                if settings.metrics_port is not None:
                    services.start_soon(self._refresh_queue_metrics, db)
                await anyio.to_thread.run_sync(warm_up)
                self._log.info("Solver process server ready")
                services.start_soon(self._run_source, db)
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
                        on_poll=lambda: self.metrics.wakeup("poll"),
                    )
                    with self._claiming:
                        await dispatcher.run(self.shutdown.requested)
                    if self.active:
                        self._log.info("Stopped claiming; waiting for {} run(s)", len(self.active))
                services.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                await self._deregister(db)
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
            on_heartbeat_gap=self.metrics.heartbeat_gap.observe,
        )
        self.active[run_id] = watch
        self.metrics.run_claimed()
        self._registry_dirty.set()
        try:
            for hinted_org in sorted(
                org or "none" for org in self._hints.pop(run_id, set())
                if org != str(run.organization_id)
            ):  # fmt: skip
                watch.log.warning(
                    "Refused the notification for this run: it named organisation {}, but the "
                    "run row belongs to {}; the run is processed for the row's organisation",
                    hinted_org,
                    run.organization_id,
                )
            await pipeline.process(watch)
        finally:
            del self.active[run_id]
            self.metrics.run_finished(watch.outcome)
            if watch.solve_s is not None:
                self.metrics.solve_seconds.observe(watch.solve_s)
            self._registry_dirty.set()
            dispatcher.slots.release()

    async def _run_source(self, db: PlannerDatabase) -> None:
        """Supervise the wake-up source for ever: whatever it raises, log it and build a new
        one after a backoff (polling carries on meanwhile). Returning is its own decision
        to give up (the poll-only source does so at once)."""
        backoff = Backoff(initial_s=1.0, max_s=max(1.0, self.settings.reconnect_max_s))
        while True:
            source: WakeupSource = make_source(self.settings, notify=db.notify)
            self._watch_source(source)
            try:
                await source.run(self)
                return
            except Exception:
                if self._wakeup_live:  # it had worked: start the backoff over
                    backoff.reset()
                self.wakeup_lost(source.name)
                delay = backoff.next_delay()
                self._log.exception(
                    "Wake-up source {} crashed; polling alone, rebuilding it in {:.1f}s",
                    source.name,
                    delay,
                )
            await anyio.sleep(delay)

    async def _tick_health(self) -> None:
        """Rewrite the tick file from this event loop. It never waits on the database: a
        solve runs in another process and database calls in other tasks, so the tick stops
        only when the loop itself is stuck or the process is gone."""
        warned = False
        interval = min(HEALTH_TICK_S, self.settings.heartbeat_s)
        while True:
            try:
                write_tick(
                    self.settings.health_file,
                    {
                        "worker_id": self.settings.worker_id,
                        "pid": os.getpid(),
                        "active_runs": sorted(self.active),
                        "stopping": self.shutdown.requested.is_set(),
                        "database_ok": self._db_ok,
                        "wakeup": self.settings.wakeup,
                        "polling_alone": self.polling_alone,
                        "tick_interval_s": interval,
                    },
                )
            except OSError as exc:
                if not warned:
                    warned = True
                    self._log.warning("Cannot write the health file: {}", exc)
            await anyio.sleep(interval)

    # -- registry and metrics -----------------------------------------------------------

    def _registry_state(self) -> tuple[str | None, str]:
        current = next(iter(self.active), None)  # the oldest run in flight
        if self.shutdown.requested.is_set():
            return current, "stopping"
        return current, "solving" if current else "idle"

    async def _keep_registered(self, db: PlannerDatabase) -> None:
        """Register in planner_workers, then refresh the entry every heartbeat interval
        (and at once when a run starts or ends). Database trouble is logged once per outage
        and never stops the worker."""
        settings = self.settings
        interval = min(settings.heartbeat_s, settings.poll_interval_s)
        registered = False
        failing = False
        while True:
            self._registry_dirty = anyio.Event()
            just_registered = not registered
            try:
                if not registered:
                    clash = await db.register_worker(
                        settings.worker_id,
                        socket.gethostname(),
                        os.getpid(),
                        self.version,
                        self.started_at,
                    )
                    registered = True
                    if clash:
                        self._log.warning(
                            "Worker id {} was registered by another process seen within "
                            "stale_after (a previous run of this container, or a second worker "
                            "with the same id: PLANNER_WORKER_ID must be unique)",
                            settings.worker_id,
                        )
                    self._log.info("Registered in planner_workers (version {})", self.version)
                current, state = self._registry_state()
                if not await db.worker_seen(settings.worker_id, current, state, self.polling_alone):
                    self._log.info("Registry entry was swept; registering again")
                    registered = False
                    if not just_registered:
                        continue
                if failing:
                    self._log.info("Registry refreshed again")
                failing = False
                self._db_ok = True
            except DB_ERRORS as exc:
                self._db_ok = False
                if not failing:
                    failing = True
                    self._log.warning(
                        "Could not refresh the worker registry ({}: {}); will retry every {}s",
                        type(exc).__name__,
                        exc,
                        interval,
                    )
            with anyio.move_on_after(interval):
                await self._registry_dirty.wait()

    async def _deregister(self, db: PlannerDatabase) -> None:
        with anyio.move_on_after(self.settings.db_timeout_s):
            try:
                await db.deregister_worker(self.settings.worker_id)
                self._log.info("Deregistered from planner_workers")
                return
            except DB_ERRORS as exc:
                self._log.warning(
                    "Could not deregister ({}: {}); the database sweeps the entry after "
                    "stale_after",
                    type(exc).__name__,
                    exc,
                )
                return
        self._log.warning("Deregistering timed out; the database sweeps the entry later")

    def _start_metrics(self) -> None:
        settings = self.settings
        if settings.metrics_port is None:
            return
        try:
            self.metrics.serve(settings.metrics_host, settings.metrics_port)
        except OSError as exc:
            # Metrics are optional: a taken port must not stop the worker from working.
            self._log.error(
                "Cannot serve metrics on {}:{} ({}); continuing without metrics",
                settings.metrics_host,
                settings.metrics_port,
                exc,
            )
            return
        self._log.info(
            "Prometheus metrics on http://{}:{}/metrics",
            settings.metrics_host,
            settings.metrics_port,
        )

    def _watch_source(self, source: WakeupSource) -> None:
        wakeup = getattr(source, "wakeup", None)
        status = getattr(wakeup, "status", None)
        if status is not None and hasattr(status, "connected"):
            self._wakeup_connected = lambda: bool(wakeup.status.connected)
            self.metrics.watch_live(
                active_runs=lambda: float(len(self.active)),
                heartbeat_lag=lag_since(lambda: [w.last_heartbeat for w in self.active.values()]),
                realtime_connected=lambda: 1.0 if wakeup.status.connected else 0.0,
            )

    async def _refresh_queue_metrics(self, db: PlannerDatabase) -> None:
        while True:
            try:
                self.metrics.queue(await db.queue_stats())
            except DB_ERRORS as exc:
                self.metrics.queue_refresh_errors.inc()
                self._log.debug("Queue metrics refresh failed: {}", exc)
            await anyio.sleep(self.settings.metrics_refresh_s)

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
                    self._registry_dirty.set()
                else:
                    self._log.warning("Second {}: killing solver processes and exiting now", name)
                    kill_all_children()
                    sys.stdout.flush()
                    os._exit(128 + signum)


def worker_version() -> str:
    try:
        return metadata.version("receptor-planner")
    except metadata.PackageNotFoundError:
        return "unknown"
