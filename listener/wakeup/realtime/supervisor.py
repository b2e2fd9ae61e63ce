"""`RealtimeWakeup`: subscribe, watch, rebuild on loss, forever; and hand each hint on.

On a loss the whole client is torn down and a new session built, with exponential backoff and
jitter. Every successful (re)subscribe sends ``{"source": "realtime", "reason":
"resubscribed"}`` so the worker runs a claim pass and finds inserts made during the gap.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from loguru import logger

from listener.backoff import Backoff
from listener.config import realtime_credentials
from listener.wakeup.realtime.connection import (
    DEFAULT_TOPIC,
    SCHEMA,
    TABLE,
    Session,
    SessionSettings,
    describe_error,
    realtime_base_url,
    realtime_websocket_url,
)


@dataclass
class RealtimeStatus:
    """Live state of the source, for tests, ``status`` output and metrics."""

    connected: bool = False  # subscribed and answering heartbeats
    losses: int = 0  # healthy subscriptions that were lost
    recoveries: int = 0  # re-subscriptions after a loss
    subscriptions: int = 0  # successful subscribes, the first one included
    failed_attempts: int = 0  # connect/subscribe attempts that failed
    inserts: int = 0  # insert hints received
    wakeups_dropped: int = 0  # hints dropped because the queue was full
    last_loss_reason: str | None = None
    last_error: str | None = None
    last_heartbeat_rtt_s: float | None = None
    connected_since: float | None = None  # time.time() of the current subscription


@dataclass(frozen=True)
class WakeupEvent:
    """One entry of :attr:`RealtimeWakeup.events` (``kind``: subscribed, lost, recovered,
    attempt_failed, insert)."""

    kind: str
    at: float
    detail: str = ""


class RealtimeWakeup:
    """Wake the worker on INSERTs into public.allocation_planner_runs via Supabase Realtime.

    ``on_wakeup`` is awaited with ``{"run_id", "organization_id", "source": "realtime"}`` for
    each insert, and with ``{"source": "realtime", "reason": "resubscribed"}`` after every
    successful (re)subscribe. Calls are made one at a time from a single task; an exception
    from ``on_wakeup`` is logged and does not stop the source.

    ``run()`` runs until cancelled (asyncio, or anyio on the asyncio backend: the ``realtime``
    package is asyncio-only). :attr:`status` and :attr:`events` describe what happened.
    """

    def __init__(
        self,
        url: str,
        api_key: str,
        on_wakeup: Callable[[dict], Awaitable[None]],
        *,
        heartbeat_s: float = 15,
        reconnect_max_s: float = 30,
        heartbeat_timeout_s: float | None = None,
        reconnect_min_s: float = 1.0,
        connect_timeout_s: float = 10.0,
        topic: str = DEFAULT_TOPIC,
        queue_size: int = 1000,
    ) -> None:
        if not api_key:
            raise ValueError("the Realtime wake-up needs the service role key (api_key is empty)")
        if heartbeat_s <= 0 or reconnect_max_s <= 0 or reconnect_min_s <= 0:
            raise ValueError("heartbeat_s, reconnect_min_s and reconnect_max_s must be positive")
        self._base_url = realtime_base_url(url)
        self._api_key = api_key
        self._on_wakeup = on_wakeup
        self.heartbeat_s = float(heartbeat_s)
        self.heartbeat_timeout_s = float(heartbeat_timeout_s or heartbeat_s)
        self.reconnect_min_s = float(min(reconnect_min_s, reconnect_max_s))
        self.reconnect_max_s = float(reconnect_max_s)
        self._reconnect = Backoff(initial_s=self.reconnect_min_s, max_s=self.reconnect_max_s)
        self.connect_timeout_s = float(connect_timeout_s)
        self.topic = topic
        self.status = RealtimeStatus()
        self.events: deque[WakeupEvent] = deque(maxlen=200)
        self._queue_size = queue_size
        self._queue: asyncio.Queue[dict[str, Any]] | None = None
        self._changed: asyncio.Event | None = None
        self._session: Session | None = None
        self._log = logger.bind(wakeup="realtime")
        self.websocket_url = realtime_websocket_url(url, api_key, redact=True)

    @classmethod
    def from_env(
        cls,
        on_wakeup: Callable[[dict], Awaitable[None]],
        environ: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> RealtimeWakeup:
        """Build from SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY, parsed by `listener.config`."""
        url, key = realtime_credentials(environ)
        return cls(url, key, on_wakeup, **kwargs)

    # ---- public surface --------------------------------------------------------------------

    async def wait_for(
        self, predicate: Callable[[RealtimeStatus], bool], timeout: float
    ) -> RealtimeStatus:
        """Wait until ``predicate(status)`` holds (checked on every status change)."""
        changed = self._changed_event()
        async with asyncio.timeout(timeout):
            while not predicate(self.status):
                changed.clear()
                await changed.wait()
        return self.status

    async def run(self) -> None:
        """Subscribe, watch, rebuild on loss; forever, until cancelled."""
        _route_realtime_logging()
        self._queue = asyncio.Queue(maxsize=self._queue_size)
        self._changed_event()
        dispatcher = asyncio.create_task(self._dispatch(), name="realtime-wakeup-dispatch")
        try:
            await self._supervise()
        finally:
            dispatcher.cancel()
            session, self._session = self._session, None
            self._set(connected=False, connected_since=None)
            if session is not None:
                # Shielded: a cancelled run() must still close its socket, bounded in time.
                cleanup = asyncio.ensure_future(session.teardown(graceful=True))
                with contextlib.suppress(BaseException):
                    await asyncio.shield(cleanup)
            with contextlib.suppress(BaseException):
                await dispatcher

    # ---- supervision -----------------------------------------------------------------------

    async def _supervise(self) -> None:
        failures = 0  # consecutive attempts that did not end in a healthy session
        lost_at: float | None = None  # monotonic time of the last loss, until recovered
        failed_in_row = 0  # failed attempts since the last successful subscribe
        while True:
            session = self._new_session()
            self._session = session
            try:
                await session.open()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                await session.teardown(graceful=False)
                failures += 1
                failed_in_row += 1
                await self._attempt_failed(describe_error(exc), failures, failed_in_row)
                continue
            self._subscribed(lost_at, failed_in_row)
            lost_at, failed_in_row = None, 0
            reason = await session.watch()
            lost_at = time.monotonic()
            # A session that answered heartbeats was healthy: start the backoff afresh.
            failures = (0 if session.heartbeats_ok > 0 else failures) + 1
            await self._lost(session, reason, failures)

    async def _attempt_failed(self, error: str, failures: int, failed_in_row: int) -> None:
        self._set(failed_attempts=self.status.failed_attempts + 1, last_error=error)
        self._record("attempt_failed", error)
        delay = self._backoff(failures)
        log = self._log.bind(attempt=failed_in_row, retry_in_s=round(delay, 2), error=error)
        message = (
            f"Realtime wake-up: connect/subscribe attempt {failed_in_row} failed: {error}; "
            f"retrying in {delay:.2f}s"
        )
        if failed_in_row == 1 or failed_in_row % 10 == 0:
            log.warning(message)
        else:
            log.debug(message)
        await asyncio.sleep(delay)

    def _subscribed(self, lost_at: float | None, failed_in_row: int) -> None:
        self._set(
            connected=True,
            connected_since=time.time(),
            subscriptions=self.status.subscriptions + 1,
            last_error=None,
        )
        if lost_at is not None:
            downtime = time.monotonic() - lost_at
            self._set(recoveries=self.status.recoveries + 1)
            self._record("recovered", f"after {downtime:.1f}s")
            self._log.bind(
                downtime_s=round(downtime, 3),
                attempts=failed_in_row + 1,
                recoveries=self.status.recoveries,
            ).info(
                f"Realtime wake-up recovered: resubscribed to {SCHEMA}.{TABLE} INSERTs "
                f"after {downtime:.1f}s ({failed_in_row + 1} attempt(s))"
            )
        else:
            self._record("subscribed", self.websocket_url)
            self._log.bind(url=self.websocket_url).info(
                f"Realtime wake-up subscribed to {SCHEMA}.{TABLE} INSERTs"
            )
        self._enqueue({"source": "realtime", "reason": "resubscribed"})

    async def _lost(self, session: Session, reason: str, failures: int) -> None:
        self._session = None
        session.retired = True
        self._set(
            connected=False,
            connected_since=None,
            losses=self.status.losses + 1,
            last_loss_reason=reason,
        )
        self._record("lost", reason)
        delay = self._backoff(failures)
        log = self._log.bind(reason=reason, losses=self.status.losses, retry_in_s=round(delay, 2))
        log.warning(f"Realtime wake-up lost: {reason}; rebuilding the client in {delay:.2f}s")
        await session.teardown(graceful=False)
        await asyncio.sleep(delay)

    def _new_session(self) -> Session:
        settings = SessionSettings(
            base_url=self._base_url,
            api_key=self._api_key,
            topic=self.topic,
            heartbeat_s=self.heartbeat_s,
            heartbeat_timeout_s=self.heartbeat_timeout_s,
            connect_timeout_s=self.connect_timeout_s,
        )
        return Session(
            settings,
            on_insert=self._on_insert,
            on_heartbeat=lambda rtt_s: self._set(last_heartbeat_rtt_s=rtt_s),
        )

    # ---- hints and dispatch ----------------------------------------------------------------

    def _on_insert(self, payload: Mapping[str, Any]) -> None:
        data = payload.get("data") or {}
        record = data.get("record") or {}
        hint = {
            "run_id": record.get("id"),
            "organization_id": record.get("organization_id"),
            "source": "realtime",
        }
        self._set(inserts=self.status.inserts + 1)
        self._record("insert", str(hint["run_id"]))
        self._log.bind(run_id=hint["run_id"], organization_id=hint["organization_id"]).debug(
            "Realtime wake-up: run inserted"
        )
        self._enqueue(hint)

    def _enqueue(self, hint: dict[str, Any]) -> None:
        queue = self._queue
        if queue is None:
            return
        try:
            queue.put_nowait(hint)
        except asyncio.QueueFull:
            # Hints only: a full queue means a wake-up is already pending.
            self._set(wakeups_dropped=self.status.wakeups_dropped + 1)

    async def _dispatch(self) -> None:
        assert self._queue is not None
        while True:
            hint = await self._queue.get()
            try:
                result = self._on_wakeup(hint)
                if inspect.isawaitable(result):
                    await result
            except asyncio.CancelledError:
                raise
            except Exception:
                log = self._log.opt(exception=True)
                log.error(f"Realtime wake-up: on_wakeup failed for {hint}")

    # ---- helpers ---------------------------------------------------------------------------

    def _backoff(self, failures: int) -> float:
        """The wait after `failures` failures in a row: in [cap/2, cap], cap = min * 2^(n-1),
        at most reconnect_max_s."""
        return self._reconnect.delay(failures - 1)

    def _changed_event(self) -> asyncio.Event:
        if self._changed is None:
            self._changed = asyncio.Event()
        return self._changed

    def _set(self, **changes: Any) -> None:
        for key, value in changes.items():
            setattr(self.status, key, value)
        if self._changed is not None:
            self._changed.set()

    def _record(self, kind: str, detail: str = "") -> None:
        self.events.append(WakeupEvent(kind, time.time(), detail))
        if self._changed is not None:
            self._changed.set()


class _ToLoguru(logging.Handler):
    """Forwards the ``realtime`` package's stdlib log records to loguru at DEBUG.

    It logs ERROR on every failed connect and every closed socket; our watchdog already
    reports those as one warning per loss and one info per recovery, and without a handler
    Python's last-resort handler would print them as plain text into the JSON log stream.
    """

    def emit(self, record: logging.LogRecord) -> None:
        logger.bind(wakeup="realtime", library=record.name).debug(
            f"{record.levelname.lower()}: {record.getMessage()}"
        )


def _route_realtime_logging() -> None:
    lib = logging.getLogger("realtime")
    if not any(isinstance(h, _ToLoguru) for h in lib.handlers):
        lib.addHandler(_ToLoguru())
        lib.propagate = False
