"""Supabase Realtime wake-up source: INSERTs on public.allocation_planner_runs wake the worker.

For deployments whose database connection cannot LISTEN (transaction-mode pooler). A wake-up is
only a hint: the worker still claims through ``planner.claim_run`` and keeps polling.

The ``realtime`` client (2.x) is used for the socket, the join and the postgres_changes
routing, but not trusted to stay alive: it can lose its connection silently, its own heartbeat
never checks for a reply, and its reconnect gives up after ``max_retries``. So each connection
is a *session* built with ``auto_reconnect=False`` and watched by our own watchdog:

- a Phoenix ``heartbeat`` (topic ``phoenix``) with our own ref every ``heartbeat_s``; no
  ``phx_reply`` within ``heartbeat_timeout_s`` is a loss (half-dead socket);
- the channel reporting ``CHANNEL_ERROR`` / ``CLOSED`` / ``TIMED_OUT`` (``phx_error``,
  ``phx_close``, channel-level ``system`` errors, socket closed under the channel);
- the socket closed, or the client's listen task ended.

On a loss the whole client is torn down and a new one built, with exponential backoff and
jitter, forever. Every successful (re)subscribe sends ``{"source": "realtime", "reason":
"resubscribed"}`` so the worker runs a claim pass and finds inserts made during the gap.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import math
import os
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from loguru import logger
from realtime import AsyncRealtimeChannel, AsyncRealtimeClient
from realtime.message import Message, ReplyMessage
from realtime.types import (
    PHOENIX_CHANNEL,
    RealtimePostgresChangesListenEvent,
    RealtimeSubscribeStates,
)

if TYPE_CHECKING:
    from listener.wakeup.base import WakeupEvents

__all__ = [
    "RealtimeStatus",
    "RealtimeWakeup",
    "RealtimeWakeupSource",
    "WakeupEvent",
    "realtime_base_url",
    "realtime_websocket_url",
]

SCHEMA = "public"
TABLE = "allocation_planner_runs"
DEFAULT_TOPIC = "receptor-planner-runs"

OnWakeup = Callable[[dict[str, Any]], Awaitable[None]]


def realtime_base_url(supabase_url: str) -> str:
    """SUPABASE_URL -> the Realtime endpoint the ``realtime`` client takes.

    ``https://<ref>.supabase.co`` -> ``https://<ref>.supabase.co/realtime/v1``; ``ws(s)://``
    and URLs already ending in ``/realtime/v1`` or ``/realtime/v1/websocket`` are accepted.
    The client turns it into ``wss://.../realtime/v1/websocket?apikey=...&vsn=1.0.0``.
    """
    parts = urlsplit(supabase_url.strip())
    if parts.scheme not in ("http", "https", "ws", "wss") or not parts.netloc:
        raise ValueError(f"SUPABASE_URL must be an http(s) URL, got {supabase_url!r}")
    path = parts.path.rstrip("/")
    path = path.removesuffix("/websocket")
    if not path.endswith("/realtime/v1"):
        path = f"{path}/realtime/v1"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def realtime_websocket_url(supabase_url: str, api_key: str, *, redact: bool = False) -> str:
    """The websocket URL the client connects to (``redact`` hides the key, for logs)."""
    client = AsyncRealtimeClient(realtime_base_url(supabase_url), token=api_key)
    url = client.endpoint_url()
    if not redact:
        return url
    parts = urlsplit(url)
    query = urlencode([(k, "REDACTED" if k == "apikey" else v) for k, v in parse_qsl(parts.query)])
    return urlunsplit(parts._replace(query=query))


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


class _PhoenixTap:
    """Receives the messages the client routes to topic ``phoenix`` (heartbeat replies)."""

    def __init__(self, on_reply: Callable[[str | None], None]) -> None:
        self._on_reply = on_reply

    def _handle_message(self, message: Any) -> None:
        if isinstance(message, ReplyMessage):
            self._on_reply(message.ref)


class _ChannelTable(dict):
    """The client's topic -> channel table, plus a tap on topic ``phoenix``.

    ``AsyncRealtimeClient._listen`` routes each incoming message with
    ``self.channels.get(message.topic)`` and drops what no channel claims, heartbeat replies
    included. Answering ``get("phoenix")`` with a tap lets the watchdog see those replies
    without replacing the client's read loop. The tap is never stored, so iteration over the
    channels (rejoin, set_auth, remove_all_channels) is unchanged.
    """

    def __init__(self, tap: _PhoenixTap) -> None:
        super().__init__()
        self._tap = tap

    def get(self, key: Any, default: Any = None) -> Any:
        if key == PHOENIX_CHANNEL:
            return self._tap
        return super().get(key, default)


@dataclass
class _Session:
    """One client, one channel, one connection: never reused after it dies."""

    client: AsyncRealtimeClient | None = None
    channel: AsyncRealtimeChannel | None = None
    dead: asyncio.Event = field(default_factory=asyncio.Event)
    dead_reason: str | None = None
    subscribe_state: RealtimeSubscribeStates | None = None
    subscribe_error: str | None = None
    postgres_ready: asyncio.Event = field(default_factory=asyncio.Event)
    heartbeat_reply: asyncio.Event = field(default_factory=asyncio.Event)
    heartbeat_ref: str | None = None
    heartbeats_ok: int = 0
    retired: bool = False
    hb_counter: int = 0

    def mark_dead(self, reason: str) -> None:
        if self.retired or self.dead.is_set():
            return
        self.dead_reason = reason
        self.dead.set()

    def on_phoenix_reply(self, ref: str | None) -> None:
        if ref is not None and ref == self.heartbeat_ref:
            self.heartbeat_reply.set()


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
        self._source_url = url
        self._base_url = realtime_base_url(url)
        self._api_key = api_key
        self._on_wakeup = on_wakeup
        self.heartbeat_s = float(heartbeat_s)
        self.heartbeat_timeout_s = float(heartbeat_timeout_s or heartbeat_s)
        self.reconnect_min_s = float(min(reconnect_min_s, reconnect_max_s))
        self.reconnect_max_s = float(reconnect_max_s)
        self.connect_timeout_s = float(connect_timeout_s)
        self.topic = topic
        self.status = RealtimeStatus()
        self.events: deque[WakeupEvent] = deque(maxlen=200)
        self._queue_size = queue_size
        self._queue: asyncio.Queue[dict[str, Any]] | None = None
        self._changed: asyncio.Event | None = None
        self._session: _Session | None = None
        self._log = logger.bind(wakeup="realtime")
        self.websocket_url = realtime_websocket_url(url, api_key, redact=True)

    @classmethod
    def from_env(
        cls,
        on_wakeup: Callable[[dict], Awaitable[None]],
        environ: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> RealtimeWakeup:
        """Build from SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY."""
        env = os.environ if environ is None else environ
        url = env.get("SUPABASE_URL", "").strip()
        key = env.get("SUPABASE_SERVICE_ROLE_KEY", "").strip()
        missing = [
            name
            for name, value in (("SUPABASE_URL", url), ("SUPABASE_SERVICE_ROLE_KEY", key))
            if not value
        ]
        if missing:
            raise ValueError(f"PLANNER_WAKEUP=realtime needs {' and '.join(missing)}")
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
                cleanup = asyncio.ensure_future(self._teardown(session, graceful=True))
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
            session = _Session()
            self._session = session
            try:
                await self._open(session)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                await self._teardown(session, graceful=False)
                failures += 1
                failed_in_row += 1
                error = _describe(exc)
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
                continue

            # Subscribed.
            now = time.monotonic()
            self._set(
                connected=True,
                connected_since=time.time(),
                subscriptions=self.status.subscriptions + 1,
                last_error=None,
            )
            if lost_at is not None:
                downtime = now - lost_at
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
            lost_at = None
            failed_in_row = 0
            self._enqueue({"source": "realtime", "reason": "resubscribed"})

            reason = await self._watch(session)

            # Lost.
            self._session = None
            session.retired = True
            lost_at = time.monotonic()
            self._set(
                connected=False,
                connected_since=None,
                losses=self.status.losses + 1,
                last_loss_reason=reason,
            )
            self._record("lost", reason)
            # A session that answered heartbeats was healthy: start the backoff afresh.
            failures = 0 if session.heartbeats_ok > 0 else failures
            failures += 1
            delay = self._backoff(failures)
            log = self._log.bind(
                reason=reason, losses=self.status.losses, retry_in_s=round(delay, 2)
            )
            log.warning(f"Realtime wake-up lost: {reason}; rebuilding the client in {delay:.2f}s")
            await self._teardown(session, graceful=False)
            await asyncio.sleep(delay)

    async def _open(self, session: _Session) -> None:
        """Build a client, connect, join the channel; bounded by ``connect_timeout_s``."""
        client = AsyncRealtimeClient(
            self._base_url,
            token=self._api_key,
            auto_reconnect=False,  # we rebuild instead; its reconnect gives up after retries
            max_retries=1,
            hb_interval=max(15, math.ceil(self.heartbeat_s)),  # its heartbeat; ours is below
            timeout=max(1, math.ceil(self.connect_timeout_s)),
        )
        client.channels = _ChannelTable(_PhoenixTap(session.on_phoenix_reply))
        session.client = client

        channel = client.channel(self.topic)
        channel.on_postgres_changes(
            RealtimePostgresChangesListenEvent.Insert,
            schema=SCHEMA,
            table=TABLE,
            callback=lambda payload: self._on_change(session, payload),
        )
        channel.on_system(lambda payload: self._on_system(session, payload))
        session.channel = channel

        def on_state(state: RealtimeSubscribeStates, error: Exception | None) -> None:
            session.subscribe_state = state
            session.subscribe_error = None if error is None else _describe(error)
            if state != RealtimeSubscribeStates.SUBSCRIBED:
                detail = f": {session.subscribe_error}" if session.subscribe_error else ""
                session.mark_dead(f"channel {state.value}{detail}")

        async with asyncio.timeout(self.connect_timeout_s):
            await client.connect()
            listen_task = getattr(client, "_listen_task", None)
            if listen_task is not None:
                listen_task.add_done_callback(
                    lambda _t: session.mark_dead("socket closed (client listen task ended)")
                )
            await channel.subscribe(on_state)
            if session.subscribe_state != RealtimeSubscribeStates.SUBSCRIBED:
                raise ConnectionError(
                    session.dead_reason or f"join not acknowledged ({session.subscribe_state})"
                )
        # Supabase confirms the postgres_changes subscription with a `system` message
        # ("Subscribed to PostgreSQL"). Report "subscribed" (and wake the worker) only once
        # changes flow, so the claim pass that follows leaves no gap.
        await _wait_any(session.postgres_ready, session.dead, timeout=self.connect_timeout_s)
        if session.dead.is_set():
            raise ConnectionError(session.dead_reason or "lost while subscribing")
        if not session.postgres_ready.is_set():
            self._log.warning(
                "Realtime wake-up: joined, but no 'Subscribed to PostgreSQL' confirmation within "
                f"{self.connect_timeout_s:g}s; is {SCHEMA}.{TABLE} in the supabase_realtime "
                "publication? Continuing (polling still finds runs)"
            )

    async def _watch(self, session: _Session) -> str:
        """Heartbeat and health checks until the session dies; returns why."""
        client = session.client
        assert client is not None
        loop = asyncio.get_running_loop()
        poll = min(1.0, self.heartbeat_s)
        while True:
            if problem := self._problem(session):
                return problem
            session.hb_counter += 1
            ref = f"wd{session.hb_counter}"
            session.heartbeat_ref = ref
            session.heartbeat_reply.clear()
            sent_at = loop.time()
            try:
                async with asyncio.timeout(self.heartbeat_timeout_s):
                    await client.send(
                        Message(topic=PHOENIX_CHANNEL, event="heartbeat", payload={}, ref=ref)
                    )
            except TimeoutError:
                return f"heartbeat could not be sent within {self.heartbeat_timeout_s:g}s"
            except Exception as exc:
                return f"heartbeat send failed: {_describe(exc)}"
            await _wait_any(session.heartbeat_reply, session.dead, timeout=self.heartbeat_timeout_s)
            if session.dead.is_set():
                return session.dead_reason or "lost"
            if not session.heartbeat_reply.is_set():
                return f"no heartbeat reply within {self.heartbeat_timeout_s:g}s"
            session.heartbeats_ok += 1
            self._set(last_heartbeat_rtt_s=loop.time() - sent_at)
            next_at = sent_at + self.heartbeat_s
            while (remaining := next_at - loop.time()) > 0:
                await _wait_any(session.dead, timeout=min(remaining, poll))
                if problem := self._problem(session):
                    return problem

    @staticmethod
    def _problem(session: _Session) -> str | None:
        if session.dead.is_set():
            return session.dead_reason or "lost"
        client, channel = session.client, session.channel
        if client is None or not client.is_connected:
            return "socket closed"
        listen_task = getattr(client, "_listen_task", None)
        if listen_task is None or listen_task.done():
            return "client listen task ended"
        if channel is None or not channel.is_joined:
            state = getattr(getattr(channel, "state", None), "value", "gone")
            return f"channel {state}"
        return None

    async def _teardown(self, session: _Session, *, graceful: bool) -> None:
        """Close the session's client, bounded in time; never raises."""
        session.retired = True
        client = session.client
        if client is None:
            return
        channels = list(client.channels.values())
        ws = getattr(client, "_ws_connection", None)
        try:
            if graceful and ws is not None and client.is_connected:
                # Leave the channel politely so the server drops the subscription now.
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(min(2.0, self.connect_timeout_s)):
                        await client.remove_all_channels()
            ws = getattr(client, "_ws_connection", None)
            if ws is not None:
                # A lost link may never answer a close handshake: don't wait for one.
                with contextlib.suppress(Exception):
                    ws.transport.abort()
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2.0):
                    await client.close()
        finally:
            _cancel_client_timers(channels)

    # ---- callbacks and dispatch ------------------------------------------------------------

    def _on_change(self, session: _Session, payload: Mapping[str, Any]) -> None:
        if session.retired:
            return
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

    def _on_system(self, session: _Session, payload: Any) -> None:
        if getattr(payload, "extension", None) == "postgres_changes":
            session.postgres_ready.set()

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
        """Exponential backoff with jitter: in [cap/2, cap], cap = min * 2^(n-1) <= max."""
        cap = min(self.reconnect_max_s, self.reconnect_min_s * 2 ** min(failures - 1, 30))
        return random.uniform(cap / 2, cap)

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


async def _wait_any(*events: asyncio.Event, timeout: float | None) -> None:
    """Return when any event is set or the timeout passes (never raises TimeoutError)."""
    if any(e.is_set() for e in events):
        return
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)


def _cancel_client_timers(channels: list[Any]) -> None:
    """Stop the rejoin timer and push timeouts a discarded client would otherwise leave behind."""
    for channel in channels:
        with contextlib.suppress(Exception):
            channel.rejoin_timer.reset()
        with contextlib.suppress(Exception):
            channel.join_push.destroy()
        for push in list(getattr(channel, "messages_waiting_for_ack", {}).values()):
            with contextlib.suppress(Exception):
                push.destroy()
        for push in list(getattr(channel, "_push_buffer", [])):
            with contextlib.suppress(Exception):
                push.destroy()
        for task in list(getattr(channel, "_background_tasks", [])):
            task.cancel()


class RealtimeWakeupSource:
    """``PLANNER_WAKEUP=realtime`` as a :class:`listener.wakeup.base.WakeupSource`.

    Inserts become ``events.run_pending(run_id, organization_id, "realtime")``; every
    (re)subscribe becomes ``events.reconnected("realtime")`` (a claim pass). ``wakeup`` is the
    underlying :class:`RealtimeWakeup` (``wakeup.status`` for health and metrics).
    """

    name = "realtime"

    def __init__(self, url: str, api_key: str, **kwargs: Any) -> None:
        self._events: WakeupEvents | None = None
        self.wakeup = RealtimeWakeup(url, api_key, self._deliver, **kwargs)

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, **kwargs: Any
    ) -> RealtimeWakeupSource:
        """From SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY (ValueError naming what is missing)."""
        probe = RealtimeWakeup.from_env(_ignore, environ)
        return cls(probe._source_url, probe._api_key, **kwargs)

    async def run(self, events: WakeupEvents) -> None:
        self._events = events
        await self.wakeup.run()

    async def _deliver(self, hint: dict[str, Any]) -> None:
        events = self._events
        if events is None:
            return
        if hint.get("reason") == "resubscribed":
            events.reconnected(self.name)
            return
        run_id, org_id = hint.get("run_id"), hint.get("organization_id")
        events.run_pending(
            None if run_id is None else str(run_id),
            None if org_id is None else str(org_id),
            self.name,
        )


async def _ignore(_hint: dict[str, Any]) -> None:
    return None


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


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    name = type(exc).__name__
    return f"{name}: {text}" if text else name
