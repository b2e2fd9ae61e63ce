"""The Supabase Realtime wake-up source against a Phoenix-channel fake of Supabase Realtime.

Every wait is event-driven and bounded; heartbeats are 0.2 s so losses show up fast.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import anyio
import pytest
from loguru import logger

from listener.wakeup.realtime import (
    RealtimeStatus,
    RealtimeWakeup,
    RealtimeWakeupSource,
    realtime_base_url,
    realtime_websocket_url,
)
from tests.fakes.phoenix_realtime import PhoenixRealtimeServer

pytestmark = [
    pytest.mark.timeout(60),
    # realtime 2.34's client reads ConnectionClosed.code/.reason, deprecated in websockets 13.1.
    pytest.mark.filterwarnings("ignore:ConnectionClosed.code is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:ConnectionClosed.reason is deprecated:DeprecationWarning"),
]

KEY = "test-service-role-key"
HEARTBEAT_S = 0.2
HEARTBEAT_TIMEOUT_S = 0.2
FAST: dict[str, Any] = {
    "heartbeat_s": HEARTBEAT_S,
    "heartbeat_timeout_s": HEARTBEAT_TIMEOUT_S,
    "reconnect_min_s": 0.02,
    "reconnect_max_s": 0.1,
    "connect_timeout_s": 2.0,
}
WAIT_S = 5.0
RESUBSCRIBED = {"source": "realtime", "reason": "resubscribed"}
RUN: dict[str, Any] = {
    "id": "6f1c1f1e-9a43-4c55-9a43-1d2b3c4d5e6f",
    "organization_id": "0b7c0b7c-1111-4222-8333-944455556666",
    "allocation_run_id": "a1a1a1a1-2222-4333-8444-955566667777",
    "constraints": ["VIC_PGY2", "NO_NIGHTS"],
    "params": {"min_lines": 10, "max_lines": 20},
    "state": "PENDING",
    "attempt": 0,
    "created_at": "2027-01-05T09:00:00+00:00",
}


class Hints:
    """An `on_wakeup` that records hints and lets a test wait for them."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self._changed = asyncio.Event()

    async def __call__(self, hint: dict[str, Any]) -> None:
        self.items.append(hint)
        self._changed.set()

    @property
    def resubscribes(self) -> int:
        return sum(1 for h in self.items if h == RESUBSCRIBED)

    @property
    def inserts(self) -> list[dict[str, Any]]:
        return [h for h in self.items if "run_id" in h]

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = WAIT_S) -> None:
        async with asyncio.timeout(timeout):
            while not predicate():
                self._changed.clear()
                await self._changed.wait()


@pytest.fixture
async def server() -> AsyncIterator[PhoenixRealtimeServer]:
    srv = PhoenixRealtimeServer(api_key=KEY)
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


@pytest.fixture
def hints() -> Hints:
    return Hints()


@pytest.fixture
def wakeup_logs() -> Iterator[list[dict[str, Any]]]:
    records: list[Any] = []
    handler = logger.add(
        lambda message: records.append(message.record),
        level="DEBUG",
        filter=lambda record: record["extra"].get("wakeup") == "realtime",
    )
    try:
        yield records
    finally:
        logger.remove(handler)


@contextlib.asynccontextmanager
async def running(wakeup: RealtimeWakeup) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(wakeup.run())
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, WAIT_S)


def make(server: PhoenixRealtimeServer, hints: Hints, **overrides: Any) -> RealtimeWakeup:
    return RealtimeWakeup(server.url, KEY, hints, **{**FAST, **overrides})


async def insert_and_expect(
    server: PhoenixRealtimeServer, hints: Hints, run_id: str
) -> dict[str, Any]:
    before = len(hints.inserts)
    assert await server.push_insert({**RUN, "id": run_id}) == 1
    await hints.wait_until(lambda: len(hints.inserts) > before)
    return hints.inserts[-1]


# ---- URLs and configuration ------------------------------------------------------------------


def test_supabase_url_maps_to_the_documented_websocket_url() -> None:
    assert realtime_base_url("https://abc.supabase.co") == "https://abc.supabase.co/realtime/v1"
    assert realtime_base_url("http://127.0.0.1:54321/") == "http://127.0.0.1:54321/realtime/v1"
    assert realtime_base_url("wss://h/realtime/v1/websocket") == "wss://h/realtime/v1"
    assert (
        realtime_websocket_url("https://abc.supabase.co", "k")
        == "wss://abc.supabase.co/realtime/v1/websocket?apikey=k&vsn=1.0.0"
    )
    assert (
        realtime_websocket_url("http://127.0.0.1:54321", "secret", redact=True)
        == "ws://127.0.0.1:54321/realtime/v1/websocket?apikey=REDACTED&vsn=1.0.0"
    )
    with pytest.raises(ValueError):
        realtime_base_url("postgresql://db/postgres")


def test_from_env_names_what_is_missing(hints: Hints) -> None:
    with pytest.raises(ValueError, match="SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY"):
        RealtimeWakeup.from_env(hints, environ={})
    with pytest.raises(ValueError, match="SUPABASE_SERVICE_ROLE_KEY"):
        RealtimeWakeup.from_env(hints, environ={"SUPABASE_URL": "https://abc.supabase.co"})
    wakeup = RealtimeWakeup.from_env(
        hints,
        environ={"SUPABASE_URL": "https://abc.supabase.co", "SUPABASE_SERVICE_ROLE_KEY": "k"},
    )
    assert wakeup.websocket_url.startswith("wss://abc.supabase.co/realtime/v1/websocket?")


def test_backoff_is_exponential_jittered_and_capped(hints: Hints) -> None:
    wakeup = RealtimeWakeup("http://127.0.0.1:1", KEY, hints, reconnect_min_s=1, reconnect_max_s=30)
    for failures, cap in [(1, 1), (2, 2), (3, 4), (5, 16), (6, 30), (50, 30)]:
        delays = [wakeup._backoff(failures) for _ in range(200)]
        assert all(cap / 2 <= d <= cap for d in delays)
        assert len(set(delays)) > 1  # jittered


# ---- the happy path --------------------------------------------------------------------------


async def test_insert_wakes_the_worker_with_run_and_organization(
    server: PhoenixRealtimeServer, hints: Hints
) -> None:
    wakeup = make(server, hints)
    async with running(wakeup):
        await wakeup.wait_for(lambda s: s.connected, WAIT_S)
        await hints.wait_until(lambda: hints.resubscribes == 1)

        # What went over the wire is what Supabase documents.
        handshake = server.handshakes[-1]
        assert handshake["path"] == "/realtime/v1/websocket"
        assert handshake["apikey"] == KEY
        assert handshake["vsn"] == "1.0.0"
        join = server.received_events("phx_join")[-1]
        assert join["topic"] == "realtime:receptor-planner-runs"
        assert join["ref"]
        assert join["payload"]["access_token"] == KEY
        assert join["payload"]["config"]["postgres_changes"] == [
            {"event": "INSERT", "schema": "public", "table": "allocation_planner_runs"}
        ]

        hint = await insert_and_expect(server, hints, RUN["id"])
        assert hint == {
            "run_id": RUN["id"],
            "organization_id": RUN["organization_id"],
            "source": "realtime",
        }
        # Other tables are not subscribed: nothing is delivered.
        assert await server.push_insert({"id": 1}, table="job_lines") == 0

        # Our watchdog heartbeats are answered.
        await server.wait_until(lambda: server.heartbeats_answered >= 2, WAIT_S)
        assert wakeup.status.connected
        assert wakeup.status.losses == 0
        assert wakeup.status.recoveries == 0
        assert wakeup.status.inserts == 1
        await wakeup.wait_for(lambda s: s.last_heartbeat_rtt_s is not None, WAIT_S)
        assert [e.kind for e in wakeup.events][:2] == ["subscribed", "insert"]


async def test_on_wakeup_errors_do_not_stop_the_source(server: PhoenixRealtimeServer) -> None:
    seen: list[dict[str, Any]] = []
    got_second = asyncio.Event()

    async def flaky(hint: dict[str, Any]) -> None:
        seen.append(hint)
        if hint.get("run_id") == "second":
            got_second.set()
        raise RuntimeError("worker hiccup")

    wakeup = RealtimeWakeup(server.url, KEY, flaky, **FAST)
    async with running(wakeup):
        await wakeup.wait_for(lambda s: s.connected, WAIT_S)
        assert await server.push_insert({**RUN, "id": "first"}) == 1
        assert await server.push_insert({**RUN, "id": "second"}) == 1
        await asyncio.wait_for(got_second.wait(), WAIT_S)
        assert [h.get("run_id") for h in seen] == [None, "first", "second"]
        assert wakeup.status.connected


# ---- losses and recoveries -------------------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    [None, 1000, 1001, 1011],
    ids=["tcp-abort", "close-1000", "close-1001", "close-1011"],
)
async def test_rebuilds_after_the_server_drops_the_connection(
    server: PhoenixRealtimeServer, hints: Hints, code: int | None
) -> None:
    wakeup = make(server, hints)
    async with running(wakeup):
        await wakeup.wait_for(lambda s: s.connected, WAIT_S)
        await server.drop_connections(code=code)
        await wakeup.wait_for(lambda s: s.recoveries == 1 and s.connected, WAIT_S)
        assert wakeup.status.losses == 1
        assert server.connections_total == 2
        await insert_and_expect(server, hints, "after-drop")
        assert hints.resubscribes == 2


@pytest.mark.parametrize("abrupt", [False, True], ids=["graceful-stop", "crash"])
async def test_survives_a_server_restart_on_the_same_port(
    server: PhoenixRealtimeServer, hints: Hints, abrupt: bool
) -> None:
    wakeup = make(server, hints)
    port = server.port
    async with running(wakeup):
        await wakeup.wait_for(lambda s: s.connected, WAIT_S)
        await insert_and_expect(server, hints, "before-restart")

        await server.stop(abrupt=abrupt)
        await wakeup.wait_for(lambda s: s.losses == 1 and not s.connected, WAIT_S)
        # More failed attempts than the realtime client's own max_retries (5): we never give up.
        await wakeup.wait_for(lambda s: s.failed_attempts >= 7, WAIT_S)
        assert not wakeup.status.connected

        await server.start()
        assert server.port == port
        await wakeup.wait_for(lambda s: s.recoveries == 1 and s.connected, WAIT_S)
        await insert_and_expect(server, hints, "after-restart")
        assert hints.resubscribes == 2


async def test_detects_a_silent_loss_within_heartbeat_plus_timeout(
    server: PhoenixRealtimeServer, hints: Hints
) -> None:
    wakeup = make(server, hints)
    async with running(wakeup):
        await wakeup.wait_for(lambda s: s.connected, WAIT_S)
        await server.wait_until(lambda: server.heartbeats_answered >= 1, WAIT_S)

        # Half-dead: the socket stays open, heartbeats go unanswered.
        server.answer_heartbeats = False
        started = time.monotonic()
        await wakeup.wait_for(lambda s: s.losses == 1, WAIT_S)
        elapsed = time.monotonic() - started
        server.answer_heartbeats = True
        assert elapsed <= HEARTBEAT_S + HEARTBEAT_TIMEOUT_S + 0.25, elapsed
        assert "no heartbeat reply" in (wakeup.status.last_loss_reason or "")

        # The half-dead connection is abandoned and a new client subscribes.
        await wakeup.wait_for(lambda s: s.recoveries >= 1 and s.connected, WAIT_S)
        await server.wait_until(lambda: server.connections == 1, WAIT_S)
        assert server.connections_total >= 2
        await insert_and_expect(server, hints, "after-silence")
        assert hints.resubscribes >= 2


@pytest.mark.parametrize("failure", ["close_channels", "error_channels", "system_error"])
async def test_rebuilds_after_a_channel_level_failure(
    server: PhoenixRealtimeServer, hints: Hints, failure: str
) -> None:
    wakeup = make(server, hints)
    async with running(wakeup):
        await wakeup.wait_for(lambda s: s.connected, WAIT_S)
        await getattr(server, failure)()
        await wakeup.wait_for(lambda s: s.recoveries == 1 and s.connected, WAIT_S)
        assert wakeup.status.losses == 1
        assert "channel" in (wakeup.status.last_loss_reason or "")
        await insert_and_expect(server, hints, f"after-{failure}")
        assert hints.resubscribes == 2


async def test_logs_each_loss_as_warning_and_each_recovery_as_info(
    server: PhoenixRealtimeServer, hints: Hints, wakeup_logs: list[dict[str, Any]]
) -> None:
    wakeup = make(server, hints)
    async with running(wakeup):
        await wakeup.wait_for(lambda s: s.connected, WAIT_S)
        await server.drop_connections()
        await wakeup.wait_for(lambda s: s.recoveries == 1 and s.connected, WAIT_S)
        server.answer_heartbeats = False
        await wakeup.wait_for(lambda s: s.losses == 2, WAIT_S)
        server.answer_heartbeats = True
        await wakeup.wait_for(lambda s: s.recoveries >= 2 and s.connected, WAIT_S)

    losses = [r for r in wakeup_logs if "wake-up lost" in r["message"]]
    recoveries = [r for r in wakeup_logs if "wake-up recovered" in r["message"]]
    assert len(losses) == wakeup.status.losses >= 2
    assert len(recoveries) == wakeup.status.recoveries >= 2
    assert {r["level"].name for r in losses} == {"WARNING"}
    assert {r["level"].name for r in recoveries} == {"INFO"}
    assert all(r["extra"]["wakeup"] == "realtime" for r in losses + recoveries)
    assert "no heartbeat reply" in losses[1]["extra"]["reason"]
    assert all("downtime_s" in r["extra"] for r in recoveries)
    # The service role key never reaches the logs.
    assert not any(KEY in r["message"] or KEY in str(r["extra"]) for r in wakeup_logs)


async def test_every_resubscribe_wakes_the_worker_for_a_claim_pass(
    server: PhoenixRealtimeServer, hints: Hints
) -> None:
    wakeup = make(server, hints)
    async with running(wakeup):
        await hints.wait_until(lambda: hints.resubscribes == 1)
        assert hints.items[0] == RESUBSCRIBED
        for expected in (2, 3):
            await server.drop_connections()
            await wakeup.wait_for(subscriptions_reach(expected), WAIT_S)
            await hints.wait_until(lambda: hints.resubscribes == wakeup.status.subscriptions)
        assert server.joins == 3
        assert [h for h in hints.items if h == RESUBSCRIBED] == [RESUBSCRIBED] * 3


def subscriptions_reach(n: int) -> Callable[[RealtimeStatus], bool]:
    return lambda status: status.subscriptions >= n


async def test_subscribes_even_without_the_postgres_confirmation(
    server: PhoenixRealtimeServer, hints: Hints, wakeup_logs: list[dict[str, Any]]
) -> None:
    server.send_system_ok = False
    wakeup = make(server, hints, connect_timeout_s=0.3)
    async with running(wakeup):
        await hints.wait_until(lambda: hints.resubscribes == 1)
        assert wakeup.status.connected
        await insert_and_expect(server, hints, "unconfirmed")
    assert any("Subscribed to PostgreSQL" in r["message"] for r in wakeup_logs)


async def test_keeps_retrying_when_the_key_is_refused(
    server: PhoenixRealtimeServer, hints: Hints, wakeup_logs: list[dict[str, Any]]
) -> None:
    wakeup = RealtimeWakeup(server.url, "wrong-key", hints, **FAST)
    async with running(wakeup):
        await wakeup.wait_for(lambda s: s.failed_attempts >= 3, WAIT_S)
        assert not wakeup.status.connected
        assert wakeup.status.subscriptions == 0
        assert "401" in (wakeup.status.last_error or "")
    assert hints.items == []
    warnings = [r for r in wakeup_logs if r["level"].name == "WARNING"]
    assert warnings and "attempt 1 failed" in warnings[0]["message"]
    assert not any("wrong-key" in r["message"] for r in wakeup_logs)


# ---- shutdown --------------------------------------------------------------------------------


async def test_cancel_leaves_the_channel_and_closes_the_socket(
    server: PhoenixRealtimeServer, hints: Hints
) -> None:
    before = asyncio.all_tasks()
    wakeup = make(server, hints)
    task = asyncio.create_task(wakeup.run())
    await wakeup.wait_for(lambda s: s.connected, WAIT_S)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, WAIT_S)
    assert not wakeup.status.connected
    assert server.received_events("phx_leave")
    await server.wait_until(lambda: server.connections == 0, WAIT_S)
    await server.stop()
    await asyncio.sleep(0)  # let cancelled timers finish unwinding
    leftover = [t for t in asyncio.all_tasks() - before if not t.done()]
    assert leftover == [], leftover


async def test_runs_in_an_anyio_task_group(server: PhoenixRealtimeServer, hints: Hints) -> None:
    wakeup = make(server, hints)
    with anyio.fail_after(WAIT_S * 2):
        async with anyio.create_task_group() as tg:
            tg.start_soon(wakeup.run)
            await wakeup.wait_for(lambda s: s.connected, WAIT_S)
            await insert_and_expect(server, hints, "anyio")
            tg.cancel_scope.cancel()
    assert not wakeup.status.connected
    await server.wait_until(lambda: server.connections == 0, WAIT_S)


# ---- the worker's WakeupSource contract (listener/wakeup/base.py) -----------------------------


class RecordingEvents:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.changed = asyncio.Event()

    def run_pending(self, run_id: str | None, organization_id: str | None, source: str) -> None:
        self.calls.append(("run_pending", run_id, organization_id, source))
        self.changed.set()

    def run_cancelled(self, run_id: str | None, organization_id: str | None, source: str) -> None:
        self.calls.append(("run_cancelled", run_id, organization_id, source))
        self.changed.set()

    def reconnected(self, source: str) -> None:
        self.calls.append(("reconnected", source))
        self.changed.set()

    async def wait_for_calls(self, n: int) -> None:
        async with asyncio.timeout(WAIT_S):
            while len(self.calls) < n:
                self.changed.clear()
                await self.changed.wait()


async def test_wakeup_source_adapter_reports_to_the_worker(server: PhoenixRealtimeServer) -> None:
    source = RealtimeWakeupSource.from_env(
        {"SUPABASE_URL": server.url, "SUPABASE_SERVICE_ROLE_KEY": KEY}, **FAST
    )
    assert source.name == "realtime"
    events = RecordingEvents()
    task = asyncio.create_task(source.run(events))
    try:
        await events.wait_for_calls(1)
        assert await server.push_insert(RUN) == 1
        await events.wait_for_calls(2)
        await server.drop_connections()
        await events.wait_for_calls(3)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, WAIT_S)
    assert events.calls == [
        ("reconnected", "realtime"),
        ("run_pending", RUN["id"], RUN["organization_id"], "realtime"),
        ("reconnected", "realtime"),
    ]
    assert source.wakeup.status.recoveries == 1
