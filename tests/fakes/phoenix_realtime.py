"""A small Supabase Realtime server for tests: Phoenix channels over a websocket, vsn 1.0.0.

It speaks the protocol as Supabase documents it (guides/realtime/protocol):

- the socket lives at ``/realtime/v1/websocket?apikey=<key>&vsn=1.0.0`` (a wrong or missing
  ``apikey`` is refused during the HTTP upgrade with 401, like the API gateway does);
- every frame is a JSON text frame ``{topic, event, payload, ref, join_ref?}``;
- ``phx_join`` on ``realtime:<name>`` with ``payload.config.postgres_changes`` is answered by
  ``phx_reply`` ``{status: "ok", response: {postgres_changes: [{id, event, schema, table,
  filter?}]}}``, then a ``system`` message ``{message: "Subscribed to PostgreSQL", status: "ok",
  extension: "postgres_changes", channel: <name>}``; a join whose ``access_token`` is not the
  server key is answered by ``phx_reply`` ``{status: "error", response: {reason}}``;
- ``heartbeat`` on topic ``phoenix`` is answered by ``phx_reply`` ok with an empty response;
- ``access_token`` updates the channel token without a reply; ``phx_leave`` is answered by
  ``phx_reply`` ok and followed by ``phx_close``; a push to a topic that was not joined is
  answered by ``phx_reply`` error ``{reason: "unmatched topic"}`` (Phoenix behaviour);
- inserts are delivered as ``postgres_changes`` ``{ids, data: {schema, table,
  commit_timestamp, type: "INSERT", record, columns, errors: null}}`` to every channel whose
  bindings match, with ``ids`` the matching binding ids from the join reply.

Test controls: :meth:`push_insert`, :attr:`answer_heartbeats` (False = half-dead: the socket
stays open but heartbeats go unanswered), :meth:`drop_connections` (abort or close code),
:meth:`close_channels` (``phx_close``), :meth:`error_channels` (``phx_error``),
:meth:`system_error` (channel-level ``system`` error followed by ``phx_close``),
:meth:`stop` / :meth:`start` / :meth:`restart` (same port), :attr:`send_system_ok` (False =
no "Subscribed to PostgreSQL" after a join). Binds 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

WEBSOCKET_PATH = "/realtime/v1/websocket"
PHOENIX_TOPIC = "phoenix"

# Column types Realtime reports for public.allocation_planner_runs (DOMAIN.md).
PLANNER_RUN_COLUMNS: dict[str, str] = {
    "id": "uuid",
    "organization_id": "uuid",
    "allocation_run_id": "uuid",
    "constraints": "_text",
    "params": "jsonb",
    "state": "text",
    "attempt": "int4",
    "worker_id": "text",
    "claimed_at": "timestamptz",
    "heartbeat_at": "timestamptz",
    "finished_at": "timestamptz",
    "progress": "jsonb",
    "result": "jsonb",
    "error": "text",
    "created_at": "timestamptz",
}


def _column_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int8"
    if isinstance(value, float):
        return "float8"
    if isinstance(value, (dict, list)):
        return "jsonb"
    return "text"


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Binding:
    """One postgres_changes binding of a joined channel, as the join reply lists it."""

    id: int
    event: str
    schema: str
    table: str | None
    filter: str | None

    def reply(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "event": self.event, "schema": self.schema}
        if self.table is not None:
            out["table"] = self.table
        if self.filter:
            out["filter"] = self.filter
        return out

    def matches(self, schema: str, table: str, event: str, record: dict[str, Any]) -> bool:
        if self.event not in ("*", event):
            return False
        if self.schema not in ("*", schema):
            return False
        if self.table not in (None, "*", table):
            return False
        if self.filter:
            # Only `column=eq.value` conditions joined by commas (AND) are interpreted.
            for cond in self.filter.split(","):
                column, _, rest = cond.partition("=")
                op, _, value = rest.partition(".")
                if op == "eq" and str(record.get(column.strip())) != value:
                    return False
        return True


@dataclass
class Channel:
    topic: str
    join_ref: str | None
    bindings: list[Binding]
    access_token: str | None


@dataclass(eq=False)
class Connection:
    ws: ServerConnection
    query: dict[str, str]
    channels: dict[str, Channel] = field(default_factory=dict)


class PhoenixRealtimeServer:
    """A Supabase Realtime look-alike on 127.0.0.1 for one test."""

    def __init__(self, api_key: str = "test-service-role-key", port: int = 0) -> None:
        self.api_key = api_key
        self.port = port
        self.answer_heartbeats = True
        self.send_system_ok = True
        self.received: list[dict[str, Any]] = []
        self.handshakes: list[dict[str, str]] = []
        self.joins = 0
        self.heartbeats = 0
        self.heartbeats_answered = 0
        self.connections_total = 0
        self._server: Server | None = None
        self._conns: set[Connection] = set()
        self._binding_ids = itertools.count(104_868_189)
        self._changed = asyncio.Event()

    # ---- lifecycle -------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def url(self) -> str:
        """The SUPABASE_URL a client would be given (http, like the local Supabase CLI)."""
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        if self._server is not None:
            return
        self._server = await serve(
            self._handle_connection,
            "127.0.0.1",
            self.port,
            process_request=self._process_request,
            ping_interval=None,  # Phoenix relies on its own heartbeat, not websocket pings
        )
        sock = next(iter(self._server.sockets))
        self.port = sock.getsockname()[1]
        self._pulse()

    async def stop(self, *, abrupt: bool = False) -> None:
        """Stop listening and end every connection (close code 1001, or a TCP abort)."""
        server, self._server = self._server, None
        if server is None:
            return
        if abrupt:
            for conn in list(self._conns):
                conn.ws.transport.abort()
        server.close(close_connections=True)
        await asyncio.wait_for(server.wait_closed(), 10)
        self._pulse()

    async def restart(self, *, abrupt: bool = False) -> None:
        await self.stop(abrupt=abrupt)
        await self.start()

    async def __aenter__(self) -> PhoenixRealtimeServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ---- observation -----------------------------------------------------------------------

    @property
    def connections(self) -> int:
        return len(self._conns)

    def channels(self) -> list[Channel]:
        return [ch for conn in self._conns for ch in conn.channels.values()]

    def received_events(self, event: str) -> list[dict[str, Any]]:
        return [m for m in self.received if m.get("event") == event]

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait until `predicate()` holds (re-checked on every server event)."""
        async with asyncio.timeout(timeout):
            while not predicate():
                self._changed.clear()
                await self._changed.wait()

    def _pulse(self) -> None:
        self._changed.set()

    # ---- test controls ---------------------------------------------------------------------

    async def push_insert(
        self,
        record: dict[str, Any],
        *,
        schema: str = "public",
        table: str = "allocation_planner_runs",
    ) -> int:
        """Deliver an INSERT to every matching binding; returns the number of channels reached."""
        known = PLANNER_RUN_COLUMNS if table == "allocation_planner_runs" else {}
        columns = [{"name": k, "type": known.get(k) or _column_type(v)} for k, v in record.items()]
        delivered = 0
        for conn in list(self._conns):
            for ch in list(conn.channels.values()):
                ids = [b.id for b in ch.bindings if b.matches(schema, table, "INSERT", record)]
                if not ids:
                    continue
                payload = {
                    "ids": ids,
                    "data": {
                        "schema": schema,
                        "table": table,
                        "commit_timestamp": _now_iso(),
                        "type": "INSERT",
                        "record": record,
                        "columns": columns,
                        "errors": None,
                    },
                }
                if await self._send(conn, ch.topic, "postgres_changes", payload, ref=None):
                    delivered += 1
        return delivered

    async def drop_connections(self, *, code: int | None = None, reason: str = "") -> None:
        """End every connection: a TCP abort (no close frame) when `code` is None."""
        for conn in list(self._conns):
            if code is None:
                conn.ws.transport.abort()
            else:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(conn.ws.close(code, reason), 5)

    async def close_channels(self) -> None:
        """Server-side channel close: ``phx_close`` on every joined channel."""
        for conn, ch in self._all_channels():
            conn.channels.pop(ch.topic, None)
            await self._send(conn, ch.topic, "phx_close", {}, ref=ch.join_ref, join_ref=ch.join_ref)
        self._pulse()

    async def error_channels(self) -> None:
        """The channel process crashed: ``phx_error`` on every joined channel."""
        for conn, ch in self._all_channels():
            conn.channels.pop(ch.topic, None)
            await self._send(conn, ch.topic, "phx_error", {}, ref=ch.join_ref, join_ref=ch.join_ref)
        self._pulse()

    async def system_error(self, message: str = "Server requested disconnect") -> None:
        """A channel-level system error, followed by ``phx_close`` as Supabase does."""
        for conn, ch in self._all_channels():
            payload = {
                "message": message,
                "status": "error",
                "extension": "system",
                "channel": ch.topic.removeprefix("realtime:"),
            }
            await self._send(conn, ch.topic, "system", payload, ref=None, join_ref=ch.join_ref)
            conn.channels.pop(ch.topic, None)
            await self._send(conn, ch.topic, "phx_close", {}, ref=ch.join_ref, join_ref=ch.join_ref)
        self._pulse()

    def _all_channels(self) -> list[tuple[Connection, Channel]]:
        return [(conn, ch) for conn in list(self._conns) for ch in list(conn.channels.values())]

    # ---- protocol ----------------------------------------------------------------------------

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        parts = urlsplit(request.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        self.handshakes.append({"path": parts.path, **query})
        if parts.path != WEBSOCKET_PATH:
            return connection.respond(HTTPStatus.NOT_FOUND, "Not Found\n")
        if query.get("apikey") != self.api_key:
            body = json.dumps({"message": "Invalid API key"})
            return Response(
                HTTPStatus.UNAUTHORIZED.value,
                "Unauthorized",
                Headers([("Content-Type", "application/json"), ("Content-Length", str(len(body)))]),
                body.encode(),
            )
        if query.get("vsn", "1.0.0") != "1.0.0":
            return connection.respond(HTTPStatus.BAD_REQUEST, "only vsn 1.0.0 is spoken here\n")
        return None

    async def _handle_connection(self, ws: ServerConnection) -> None:
        parts = urlsplit(ws.request.path if ws.request else "")
        conn = Connection(ws, {k: v[-1] for k, v in parse_qs(parts.query).items()})
        self._conns.add(conn)
        self.connections_total += 1
        self._pulse()
        try:
            async for raw in ws:
                try:
                    msg = json.loads(raw)
                except ValueError:
                    continue
                if not isinstance(msg, dict):
                    continue
                self.received.append(msg)
                await self._dispatch(conn, msg)
                self._pulse()
        except ConnectionClosed:
            pass
        finally:
            self._conns.discard(conn)
            self._pulse()

    async def _dispatch(self, conn: Connection, msg: dict[str, Any]) -> None:
        topic = msg.get("topic")
        event = msg.get("event")
        ref = msg.get("ref")
        join_ref = msg.get("join_ref")
        payload = msg.get("payload") or {}

        if topic == PHOENIX_TOPIC and event == "heartbeat":
            self.heartbeats += 1
            if self.answer_heartbeats:
                self.heartbeats_answered += 1
                await self._reply(conn, PHOENIX_TOPIC, ref, None, "ok", {})
            return

        if event == "phx_join":
            await self._join(conn, str(topic), ref, join_ref, payload)
            return

        channel = conn.channels.get(str(topic))
        if channel is None:
            unmatched = {"reason": "unmatched topic"}
            await self._reply(conn, str(topic), ref, join_ref, "error", unmatched)
            return

        if event == "phx_leave":
            conn.channels.pop(channel.topic, None)
            await self._reply(conn, channel.topic, ref, channel.join_ref, "ok", {})
            ref = join_ref = channel.join_ref
            await self._send(conn, channel.topic, "phx_close", {}, ref=ref, join_ref=join_ref)
        elif event == "access_token":
            channel.access_token = payload.get("access_token")  # no reply on success
        else:
            await self._reply(conn, channel.topic, ref, channel.join_ref, "ok", {})

    async def _join(
        self,
        conn: Connection,
        topic: str,
        ref: str | None,
        join_ref: str | None,
        payload: dict[str, Any],
    ) -> None:
        join_ref = join_ref or ref
        if not topic.startswith("realtime:") or topic == "realtime:":
            reason = "TopicNameRequired: You must provide a topic name"
            await self._reply(conn, topic, ref, join_ref, "error", {"reason": reason})
            return
        token = payload.get("access_token")
        if token is not None and token != self.api_key:
            reason = "Unauthorized: You do not have permissions to read from this Channel topic"
            await self._reply(conn, topic, ref, join_ref, "error", {"reason": reason})
            return
        config = payload.get("config") or {}
        bindings = [
            Binding(
                id=next(self._binding_ids),
                event=str(b.get("event", "*")),
                schema=str(b.get("schema", "public")),
                table=b.get("table"),
                filter=b.get("filter"),
            )
            for b in config.get("postgres_changes") or []
        ]
        # Phoenix allows one join per topic per socket: a rejoin replaces the old one.
        conn.channels[topic] = Channel(topic, join_ref, bindings, token)
        self.joins += 1
        response = {"postgres_changes": [b.reply() for b in bindings]}
        await self._reply(conn, topic, ref, join_ref, "ok", response)
        if bindings and self.send_system_ok:
            system = {
                "message": "Subscribed to PostgreSQL",
                "status": "ok",
                "extension": "postgres_changes",
                "channel": topic.removeprefix("realtime:"),
            }
            await self._send(conn, topic, "system", system, ref=None, join_ref=join_ref)

    async def _reply(
        self,
        conn: Connection,
        topic: str,
        ref: str | None,
        join_ref: str | None,
        status: str,
        response: dict[str, Any],
    ) -> None:
        payload = {"status": status, "response": response}
        await self._send(conn, topic, "phx_reply", payload, ref=ref, join_ref=join_ref)

    async def _send(
        self,
        conn: Connection,
        topic: str,
        event: str,
        payload: dict[str, Any],
        *,
        ref: str | None,
        join_ref: str | None = None,
    ) -> bool:
        frame: dict[str, Any] = {"topic": topic, "event": event, "payload": payload, "ref": ref}
        if join_ref is not None:
            frame["join_ref"] = join_ref
        try:
            await conn.ws.send(json.dumps(frame))
        except ConnectionClosed:
            return False
        return True
