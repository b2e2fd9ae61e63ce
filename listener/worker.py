"""The worker: wires database, wake-up source, dispatcher, pipeline, registry and health.

Shutdown: the first SIGTERM/SIGINT stops claiming; runs in flight get
PLANNER_SHUTDOWN_GRACE_S to finish (and are committed) or are stopped and released to
PENDING. A second signal kills the solver children and exits at once (`shutdown.py`).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from importlib import metadata
from typing import Any
from uuid import UUID

import anyio
import anyio.abc
from loguru import logger

from listener.backoff import Backoff
from listener.config import Settings
from listener.connect import open_database
from listener.db import ClaimedRun, PlannerDatabase
from listener.dispatcher import Dispatcher, Doorbell
from listener.health import tick_forever
from listener.log_shipper import LogShipper
from listener.metrics import Metrics, lag_since
from listener.pipeline import RunPipeline
from listener.registry import Registry
from listener.runs import ActiveRuns
from listener.shutdown import Shutdown, handle_signals
from listener.solver_process import warm_up
from listener.wakeup import WakeupSource, make_source
from listener.wakeup.base import ReportsConnection
from listener.wakeup.handler import WakeupHandler

# The tick file is rewritten this often (or every PLANNER_HEARTBEAT_S when shorter).
HEALTH_TICK_S = 5.0


class Worker:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.shutdown = Shutdown(settings.shutdown_grace_s)
        self.doorbell = Doorbell()
        self._claiming = anyio.CancelScope()
        self._log = logger.bind(worker_id=settings.worker_id)
        self.version = worker_version()
        self.started_at = datetime.now(UTC)
        self.metrics = Metrics(
            worker_id=settings.worker_id, version=self.version, wakeup=settings.wakeup
        )
        self.runs = ActiveRuns(
            self._log,
            on_heartbeat_gap=self.metrics.heartbeat_gap.observe,
            on_change=self._runs_changed,
        )
        self.metrics.watch_live(
            active_runs=lambda: float(len(self.runs)),
            heartbeat_lag=lag_since(self.runs.last_heartbeats),
        )
        self.wakeups = WakeupHandler(self.runs, self.doorbell, self.metrics)
        self._registry: Registry | None = None

    async def run(self) -> int:
        settings = self.settings
        if settings.metrics_port is not None:
            self.metrics.serve_or_warn(settings.metrics_host, settings.metrics_port, self._log)
        try:
            async with anyio.create_task_group() as root:
                root.start_soon(handle_signals, self.shutdown, self._on_signal, self._log)
                # From the first moment and whatever the database does: health reflects
                # this event loop, not the database (docs/operations.md, "Health").
                interval = min(HEALTH_TICK_S, settings.heartbeat_s)
                root.start_soon(
                    tick_forever, settings.health_file, interval, self._health, self._log
                )
                try:
                    code = await self._serve()
                finally:
                    root.cancel_scope.cancel()
        finally:
            self.metrics.close()
        return code

    async def _serve(self) -> int:
        db = await open_database(self.settings, self.shutdown.requested, self._log)
        if db is None:
            return 0 if self.shutdown.requested.is_set() else 2
        shipper = LogShipper(db.write_logs)
        shipper.install()
        registry = self._registry = self._make_registry(db)
        try:
            async with anyio.create_task_group() as services:
                services.start_soon(shipper.run)
                services.start_soon(registry.run)
                await self._start_services(services, db)
                await self._claim_until_shutdown(
                    db, RunPipeline(db, self.settings, self.shutdown, shipper)
                )
                services.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                await registry.deregister(self.settings.db_timeout_s)
                await shipper.flush()
                shipper.uninstall()
                await db.close()
        self._log.info("Worker stopped")
        return 0

    async def _start_services(self, services: anyio.abc.TaskGroup, db: PlannerDatabase) -> None:
        settings = self.settings
        if settings.metrics_port is not None:
            services.start_soon(
                self.metrics.refresh_queue_forever,
                db.queue_stats,
                settings.metrics_refresh_s,
                self._log,
            )
        await anyio.to_thread.run_sync(warm_up)
        self._log.info("Solver process server ready")
        services.start_soon(self._supervise_source, db)

    async def _claim_until_shutdown(self, db: PlannerDatabase, pipeline: RunPipeline) -> None:
        """Claim until shutdown, then wait for the runs in flight (they end the task group)."""
        settings = self.settings
        async with anyio.create_task_group() as runs:
            dispatcher = Dispatcher(
                db,
                worker_id=settings.worker_id,
                concurrency=settings.concurrency,
                poll_interval_s=settings.poll_interval_s,
                doorbell=self.doorbell,
                on_claimed=lambda run: runs.start_soon(self._process, pipeline, dispatcher, run),
                on_poll=lambda: self.metrics.wakeup("poll"),
            )
            with self._claiming:
                await dispatcher.run(self.shutdown.requested)
            if len(self.runs):
                self._log.info("Stopped claiming; waiting for {} run(s)", len(self.runs))

    async def _process(
        self, pipeline: RunPipeline, dispatcher: Dispatcher, run: ClaimedRun
    ) -> None:
        self.metrics.run_claimed()
        try:
            with self.runs.track(run) as watch:
                self.wakeups.refuse_forged_hints(watch)
                outcome = await pipeline.process(watch)
            self.metrics.run_ended(outcome.state, outcome.solve_s)
        finally:
            dispatcher.slots.release()

    async def _supervise_source(self, db: PlannerDatabase) -> None:
        """Run the wake-up source for ever: whatever it raises, log it and build a new one
        after a backoff (polling carries on meanwhile). Returning is the source's own
        decision to stop (the poll-only source does so at once)."""
        backoff = Backoff(initial_s=1.0, max_s=max(1.0, self.settings.reconnect_max_s))
        watched = False
        while True:
            source: WakeupSource = make_source(self.settings, notify=db.notify)
            connected = source.is_connected if isinstance(source, ReportsConnection) else None
            if connected is not None and not watched:  # the gauge is registered once
                self.metrics.watch_realtime(connected)
                watched = True
            self.wakeups.follow_connection(connected)
            try:
                await source.run(self.wakeups)
                return
            except Exception:
                if self.wakeups.live:  # it had worked: start the backoff over
                    backoff.reset()
                self.wakeups.wakeup_lost(source.name)
                delay = backoff.next_delay()
                self._log.exception(
                    "Wake-up source {} crashed; polling alone, rebuilding it in {:.1f}s",
                    source.name,
                    delay,
                )
            await anyio.sleep(delay)

    def _make_registry(self, db: PlannerDatabase) -> Registry:
        settings = self.settings
        return Registry(
            db,
            worker_id=settings.worker_id,
            version=self.version,
            started_at=self.started_at,
            interval_s=min(settings.heartbeat_s, settings.poll_interval_s),
            state=self._registry_state,
            polling_alone=lambda: self.wakeups.polling_alone,
            log=self._log,
        )

    def _registry_state(self) -> tuple[UUID | None, str]:
        current = self.runs.oldest()
        if self.shutdown.requested.is_set():
            return current, "stopping"
        return current, "solving" if current else "idle"

    def _runs_changed(self) -> None:
        if self._registry is not None:
            self._registry.changed()

    def _health(self) -> dict[str, Any]:
        return {
            "worker_id": self.settings.worker_id,
            "pid": os.getpid(),
            "active_runs": self.runs.ids(),
            "stopping": self.shutdown.requested.is_set(),
            "database_ok": None if self._registry is None else self._registry.database_ok,
            "wakeup": self.settings.wakeup,
            "polling_alone": self.wakeups.polling_alone,
        }

    def _on_signal(self, name: str) -> None:
        self._log.info(
            "{} received: no new claims; {} run(s) in flight get {}s to finish "
            "(send it again to exit at once)",
            name,
            len(self.runs),
            self.settings.shutdown_grace_s,
        )
        self._claiming.cancel()
        self._runs_changed()


def worker_version() -> str:
    try:
        return metadata.version("receptor-planner")
    except metadata.PackageNotFoundError:
        return "unknown"
