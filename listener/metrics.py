"""Optional Prometheus metrics (PLANNER_METRICS_PORT; off when unset).

The worker always records into its own `CollectorRegistry` (cheap, no global state); the
HTTP endpoint is started only when a port is configured, on PLANNER_METRICS_HOST
(127.0.0.1 by default: put a sidecar or an explicit 0.0.0.0 in front to scrape from outside).

Metric names and meanings: docs/operations.md ("Metrics"). Every series lives in this
worker's registry, so two workers in one process (tests) never collide.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING
from wsgiref.simple_server import WSGIServer

import anyio
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily

from listener.db import DB_ERRORS

if TYPE_CHECKING:
    from loguru import Logger

FINISH_STATES = ("COMPLETED", "INFEASIBLE", "FAILED", "RELEASED", "ABANDONED", "LEFT")
WAKEUP_SOURCES = ("listen", "realtime", "poll", "reconnect")
SOLVE_BUCKETS = (0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600, float("inf"))
GAP_BUCKETS = (0.5, 1, 2, 3, 5, 7.5, 10, 15, 30, 60, 120, float("inf"))


class Metrics:
    def __init__(self, *, worker_id: str = "", version: str = "", wakeup: str = "") -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.runs_claimed = Counter("planner_runs_claimed", "Runs this worker claimed", registry=r)
        self.runs_finished = _labelled_counter(
            "planner_runs_finished",
            "Runs this worker ended, by final state",
            label="state",
            values=FINISH_STATES,
            registry=r,
        )
        self.solve_seconds = Histogram(
            "planner_solve_seconds",
            "Seconds from claim to the end of the solve",
            buckets=SOLVE_BUCKETS,
            registry=r,
        )
        # The queue figures come from one database snapshot and are exposed as one: a scrape
        # must never see a new depth next to an old GENERATING count.
        self._queue = _QueueSnapshot()
        r.register(self._queue)
        self.queue_refresh_errors = Counter(
            "planner_queue_refresh_errors", "Failed refreshes of the queue figures", registry=r
        )
        self.heartbeat_gap = Histogram(
            "planner_heartbeat_gap_seconds",
            "Seconds between successive successful heartbeats of a run",
            buckets=GAP_BUCKETS,
            registry=r,
        )
        self.heartbeat_lag = Gauge(
            "planner_heartbeat_lag_seconds",
            "Seconds since the oldest last successful heartbeat of this worker's runs",
            registry=r,
        )
        self.wakeups = _labelled_counter(
            "planner_wakeups",
            "Claim passes triggered, by wake-up source",
            label="source",
            values=WAKEUP_SOURCES,
            registry=r,
        )
        self.active_runs = Gauge(
            "planner_active_runs", "Runs this worker is processing now", registry=r
        )
        self.realtime_connected = Gauge(
            "planner_realtime_connected",
            "1 while the Supabase Realtime wake-up is subscribed (realtime only)",
            registry=r,
        )
        info = Gauge(
            "planner_worker_info",
            "Identifies the worker (always 1)",
            ["worker_id", "version", "wakeup"],
            registry=r,
        )
        info.labels(worker_id, version, wakeup).set(1)
        self._server: tuple[WSGIServer, threading.Thread] | None = None

    # -- recording -------------------------------------------------------------------

    def wakeup(self, source: str) -> None:
        self.wakeups.labels(source if source in WAKEUP_SOURCES else "reconnect").inc()

    def run_claimed(self) -> None:
        self.runs_claimed.inc()

    def run_finished(self, state: str | None) -> None:
        if state in FINISH_STATES:
            self.runs_finished.labels(state).inc()

    def queue(self, stats: dict) -> None:
        self._queue.replace(stats)

    def run_ended(self, state: str | None, solve_s: float | None) -> None:
        self.run_finished(state)
        if solve_s is not None:
            self.solve_seconds.observe(solve_s)

    def watch_live(
        self, *, active_runs: Callable[[], float], heartbeat_lag: Callable[[], float]
    ) -> None:
        """Gauges computed at scrape time."""
        self.active_runs.set_function(active_runs)
        self.heartbeat_lag.set_function(heartbeat_lag)

    def watch_realtime(self, connected: Callable[[], bool]) -> None:
        self.realtime_connected.set_function(lambda: 1.0 if connected() else 0.0)

    async def refresh_queue_forever(
        self, fetch: Callable[[], Awaitable[dict]], interval_s: float, log: Logger
    ) -> None:
        """The queue gauges from `planner.queue_stats()`, every `interval_s`."""
        while True:
            try:
                self.queue(await fetch())
            except DB_ERRORS as exc:
                self.queue_refresh_errors.inc()
                log.debug("Queue metrics refresh failed: {}", exc)
            await anyio.sleep(interval_s)

    # -- serving ---------------------------------------------------------------------

    def serve(self, host: str, port: int) -> None:
        """Start the /metrics endpoint in a daemon thread; raises OSError when the port is taken."""
        self._server = start_http_server(port, addr=host, registry=self.registry)

    def serve_or_warn(self, host: str, port: int, log: Logger) -> None:
        """`serve`, but a taken port is logged: metrics must not stop the worker working."""
        try:
            self.serve(host, port)
        except OSError as exc:
            log.error(
                "Cannot serve metrics on {}:{} ({}); continuing without metrics", host, port, exc
            )
            return
        log.info("Prometheus metrics on http://{}:{}/metrics", host, port)

    def close(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        httpd, _thread = server
        httpd.shutdown()
        httpd.server_close()


def lag_since(last_beats: Callable[[], list[float]]) -> Callable[[], float]:
    """now - min(last successful heartbeat) over the live runs, 0 when there are none."""

    def compute() -> float:
        beats = last_beats()
        return max(0.0, time.monotonic() - min(beats)) if beats else 0.0

    return compute


def _labelled_counter(
    name: str,
    documentation: str,
    *,
    label: str,
    values: Iterable[str],
    registry: CollectorRegistry,
) -> Counter:
    """A counter with one label whose every value is exported from the start, at 0."""
    counter = Counter(name, documentation, [label], registry=registry)
    for value in values:
        counter.labels(value)
    return counter


class _QueueSnapshot:
    """planner_queue_depth, planner_queue_oldest_pending_age_seconds and
    planner_runs_generating from the latest `planner.queue_stats()` result, swapped whole."""

    GAUGES = (
        ("planner_queue_depth", "PENDING runs in the database", "pending"),
        (
            "planner_queue_oldest_pending_age_seconds",
            "Age of the oldest PENDING run (0 when the queue is empty)",
            "oldest_pending_age_s",
        ),
        ("planner_runs_generating", "GENERATING runs in the database", "generating"),
    )

    def __init__(self) -> None:
        self._stats: dict = {}

    def replace(self, stats: dict) -> None:
        self._stats = dict(stats)  # one reference swap: a scrape reads old or new, never both

    def collect(self) -> Iterable[GaugeMetricFamily]:
        stats = self._stats
        for name, documentation, key in self.GAUGES:
            yield GaugeMetricFamily(name, documentation, value=float(stats.get(key) or 0))
