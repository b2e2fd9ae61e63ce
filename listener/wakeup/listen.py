"""PLANNER_WAKEUP=listen: PostgreSQL LISTEN on a dedicated connection (never a pooled one).

- Reconnects with exponential backoff and jitter; reports `reconnected` after every
  connect so the worker runs a claim pass for whatever was inserted in the gap.
- Self-test: after LISTEN, a NOTIFY sent from a *different* (pooled) connection must come
  back. Behind a transaction-mode pooler it does not (our LISTEN lives on a server
  connection we no longer own), so we warn once and leave the work to polling.
- Every PLANNER_LISTEN_CHECK_S it checks `pg_listening_channels()` and repeats the
  self-test with a timeout, which also catches a half-open TCP connection.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import anyio
import asyncpg
from loguru import logger

from listener import db
from listener.backoff import Backoff
from listener.config import Settings
from listener.sql import query
from listener.wakeup.base import (
    CANCELLATIONS_CHANNEL,
    RUNS_CHANNEL,
    WakeupEvents,
    parse_run_payload,
)

PROBE_TIMEOUT_S = 3.0
# After the pooler warning, try LISTEN again this much later, quietly, in case the first
# failure was transient (a deploy that moved to a direct connection, a slow start).
RETRY_AFTER_POOLER_S = 300.0


class ListenNotEffective(Exception):
    """LISTEN was accepted but notifications do not reach this connection."""


class PgListenSource:
    name = "listen"

    def __init__(self, settings: Settings, *, notify: Callable[[str, str], Awaitable[None]]):
        self._settings = settings
        self._notify = notify
        self._probe_channel = f"planner_probe_{uuid.uuid4().hex[:16]}"
        self._probe_replies: dict[str, anyio.Event] = {}
        self._warned_pooler = False

    async def run(self, events: WakeupEvents) -> None:
        backoff = Backoff(initial_s=0.25, max_s=self._settings.reconnect_max_s)
        while True:
            try:
                try:
                    await self._session(events, backoff)
                finally:
                    events.wakeup_lost(self.name)
                delay = backoff.next_delay()
                logger.warning("LISTEN connection lost; reconnecting in {:.1f}s", delay)
            except ListenNotEffective as exc:
                if not self._warned_pooler:
                    self._warned_pooler = True
                    logger.warning(
                        "LISTEN does not work on this database connection ({}). This is what "
                        "a transaction-mode pooler (Supabase port 6543, PgBouncer "
                        "pool_mode=transaction) does. Continuing by polling every {}s; use a "
                        "direct or session-pooler DATABASE_URL for instant wake-ups.",
                        exc,
                        self._settings.poll_interval_s,
                    )
                delay = RETRY_AFTER_POOLER_S
            except db.DB_ERRORS as exc:
                delay = backoff.next_delay()
                logger.warning(
                    "LISTEN connection failed ({}: {}); retrying in {:.1f}s",
                    type(exc).__name__,
                    exc,
                    delay,
                )
            await anyio.sleep(delay)

    async def _session(self, events: WakeupEvents, backoff: Backoff) -> None:
        """One connection's lifetime: returns when it is lost, raises when it can't work."""
        settings = self._settings
        conn = await db.connect(
            settings.database_url,
            statement_cache_size=settings.statement_cache_size,
            timeout_s=settings.db_timeout_s,
            # Distinct from the pool's sessions, so an operator (or a test) can find the
            # LISTEN session in pg_stat_activity.
            application_name=f"{db.APPLICATION_NAME} listen {settings.worker_id}",
        )
        lost = anyio.Event()
        try:
            conn.add_termination_listener(lambda _conn: lost.set())
            await conn.add_listener(RUNS_CHANNEL, self._make_handler(events.run_pending))
            await conn.add_listener(CANCELLATIONS_CHANNEL, self._make_handler(events.run_cancelled))
            await conn.add_listener(self._probe_channel, self._on_probe_reply)
            if not await self._probe():
                raise ListenNotEffective(
                    "a test notification sent from another connection never arrived"
                )
            backoff.reset()
            logger.info(
                "Listening on {} and {} (backend pid {})",
                RUNS_CHANNEL,
                CANCELLATIONS_CHANNEL,
                conn.get_server_pid(),
            )
            events.reconnected(self.name)
            await self._watch(conn, lost)
        finally:
            conn.terminate()

    async def _watch(self, conn: asyncpg.Connection, lost: anyio.Event) -> None:
        settings = self._settings
        while True:
            with anyio.move_on_after(settings.listen_check_s):
                await lost.wait()
            if lost.is_set() or conn.is_closed():
                return
            with anyio.move_on_after(settings.db_timeout_s) as scope:
                channels = await conn.fetchval(query("listening_channels"))
            if scope.cancelled_caught:
                logger.warning("LISTEN connection did not answer within {}s", settings.db_timeout_s)
                return
            missing = {RUNS_CHANNEL, CANCELLATIONS_CHANNEL} - set(channels)
            if missing:
                logger.warning("LISTEN registration lost for {}", sorted(missing))
                return
            if not await self._probe():
                logger.warning("LISTEN self-test notification did not arrive")
                return

    async def _probe(self) -> bool:
        token = uuid.uuid4().hex
        arrived = self._probe_replies[token] = anyio.Event()
        try:
            with anyio.move_on_after(PROBE_TIMEOUT_S):
                await self._notify(self._probe_channel, token)
                await arrived.wait()
            return arrived.is_set()
        finally:
            self._probe_replies.pop(token, None)

    def _on_probe_reply(self, _conn, _pid, _channel, payload: str) -> None:
        event = self._probe_replies.get(payload)
        if event is not None:
            event.set()

    def _make_handler(self, deliver: Callable[[str | None, str | None, str], None]):
        def handle(_conn, _pid, channel: str, payload: str) -> None:
            run_id, organization_id = parse_run_payload(payload)
            if run_id is None:
                logger.warning("Malformed notification on {}: {!r}", channel, payload[:200])
            deliver(run_id, organization_id, self.name)

        return handle
