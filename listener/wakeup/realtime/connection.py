"""One Realtime connection (a *session*) and the watchdog that decides it is dead.

A session is one ``realtime`` client with ``auto_reconnect=False``, one channel and one socket,
never reused after it dies. It is dead when our own Phoenix heartbeat gets no reply, when the
channel reports an error or close, or when the socket or the client's listen task ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from loguru import logger
from realtime import AsyncRealtimeChannel, AsyncRealtimeClient
from realtime.message import Message, ReplyMessage
from realtime.types import (
    PHOENIX_CHANNEL,
    RealtimePostgresChangesListenEvent,
    RealtimeSubscribeStates,
)

SCHEMA = "public"
TABLE = "allocation_planner_runs"
DEFAULT_TOPIC = "receptor-planner-runs"


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


@dataclass(frozen=True)
class SessionSettings:
    base_url: str  # from realtime_base_url
    api_key: str
    topic: str
    heartbeat_s: float
    heartbeat_timeout_s: float
    connect_timeout_s: float


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
class Session:
    """One client, one channel, one connection: never reused after it dies.

    ``on_insert(payload)`` gets each INSERT while the session is not retired;
    ``on_heartbeat(rtt_s)`` each answered heartbeat.
    """

    settings: SessionSettings
    on_insert: Callable[[Mapping[str, Any]], None]
    on_heartbeat: Callable[[float], None]
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

    async def open(self) -> None:
        """Build a client, connect, join the channel; bounded by ``connect_timeout_s``."""
        settings = self.settings
        client = AsyncRealtimeClient(
            settings.base_url,
            token=settings.api_key,
            auto_reconnect=False,  # we rebuild instead; its reconnect gives up after retries
            max_retries=1,
            hb_interval=max(15, math.ceil(settings.heartbeat_s)),  # its heartbeat; ours is below
            timeout=max(1, math.ceil(settings.connect_timeout_s)),
        )
        client.channels = _ChannelTable(_PhoenixTap(self.on_phoenix_reply))
        self.client = client

        channel = client.channel(settings.topic)
        channel.on_postgres_changes(
            RealtimePostgresChangesListenEvent.Insert,
            schema=SCHEMA,
            table=TABLE,
            callback=self._on_change,
        )
        channel.on_system(self._on_system)
        self.channel = channel

        def on_state(state: RealtimeSubscribeStates, error: Exception | None) -> None:
            self.subscribe_state = state
            self.subscribe_error = None if error is None else describe_error(error)
            if state != RealtimeSubscribeStates.SUBSCRIBED:
                detail = f": {self.subscribe_error}" if self.subscribe_error else ""
                self.mark_dead(f"channel {state.value}{detail}")

        async with asyncio.timeout(settings.connect_timeout_s):
            await client.connect()
            listen_task = getattr(client, "_listen_task", None)
            if listen_task is not None:
                listen_task.add_done_callback(
                    lambda _t: self.mark_dead("socket closed (client listen task ended)")
                )
            await channel.subscribe(on_state)
            if self.subscribe_state != RealtimeSubscribeStates.SUBSCRIBED:
                raise ConnectionError(
                    self.dead_reason or f"join not acknowledged ({self.subscribe_state})"
                )
        # Supabase confirms the postgres_changes subscription with a `system` message
        # ("Subscribed to PostgreSQL"). Report "subscribed" (and wake the worker) only once
        # changes flow, so the claim pass that follows leaves no gap.
        await wait_any(self.postgres_ready, self.dead, timeout=settings.connect_timeout_s)
        if self.dead.is_set():
            raise ConnectionError(self.dead_reason or "lost while subscribing")
        if not self.postgres_ready.is_set():
            logger.bind(wakeup="realtime").warning(
                "Realtime wake-up: joined, but no 'Subscribed to PostgreSQL' confirmation within "
                f"{settings.connect_timeout_s:g}s; is {SCHEMA}.{TABLE} in the supabase_realtime "
                "publication? Continuing (polling still finds runs)"
            )

    async def watch(self) -> str:
        """Heartbeat and health checks until the session dies; returns why."""
        client = self.client
        assert client is not None
        timeout_s = self.settings.heartbeat_timeout_s
        loop = asyncio.get_running_loop()
        poll = min(1.0, self.settings.heartbeat_s)
        while True:
            if problem := self.problem():
                return problem
            self.hb_counter += 1
            ref = f"wd{self.hb_counter}"
            self.heartbeat_ref = ref
            self.heartbeat_reply.clear()
            sent_at = loop.time()
            try:
                async with asyncio.timeout(timeout_s):
                    await client.send(
                        Message(topic=PHOENIX_CHANNEL, event="heartbeat", payload={}, ref=ref)
                    )
            except TimeoutError:
                return f"heartbeat could not be sent within {timeout_s:g}s"
            except Exception as exc:
                return f"heartbeat send failed: {describe_error(exc)}"
            await wait_any(self.heartbeat_reply, self.dead, timeout=timeout_s)
            if self.dead.is_set():
                return self.dead_reason or "lost"
            if not self.heartbeat_reply.is_set():
                return f"no heartbeat reply within {timeout_s:g}s"
            self.heartbeats_ok += 1
            self.on_heartbeat(loop.time() - sent_at)
            next_at = sent_at + self.settings.heartbeat_s
            while (remaining := next_at - loop.time()) > 0:
                await wait_any(self.dead, timeout=min(remaining, poll))
                if problem := self.problem():
                    return problem

    def problem(self) -> str | None:
        """Why the session is dead, or None while it looks alive."""
        if self.dead.is_set():
            return self.dead_reason or "lost"
        client, channel = self.client, self.channel
        if client is None or not client.is_connected:
            return "socket closed"
        listen_task = getattr(client, "_listen_task", None)
        if listen_task is None or listen_task.done():
            return "client listen task ended"
        if channel is None or not channel.is_joined:
            state = getattr(getattr(channel, "state", None), "value", "gone")
            return f"channel {state}"
        return None

    async def teardown(self, *, graceful: bool) -> None:
        """Close the session's client, bounded in time; never raises."""
        self.retired = True
        client = self.client
        if client is None:
            return
        channels = list(client.channels.values())
        ws = getattr(client, "_ws_connection", None)
        try:
            if graceful and ws is not None and client.is_connected:
                # Leave the channel politely so the server drops the subscription now.
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(min(2.0, self.settings.connect_timeout_s)):
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

    def _on_change(self, payload: Mapping[str, Any]) -> None:
        if not self.retired:
            self.on_insert(payload)

    def _on_system(self, payload: Any) -> None:
        if getattr(payload, "extension", None) == "postgres_changes":
            self.postgres_ready.set()


async def wait_any(*events: asyncio.Event, timeout: float | None) -> None:
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


def describe_error(exc: BaseException) -> str:
    text = str(exc).strip()
    name = type(exc).__name__
    return f"{name}: {text}" if text else name
