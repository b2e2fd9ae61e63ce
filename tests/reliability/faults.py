"""Fault tools for the reliability scenarios.

`TcpProxy`: a small asyncio TCP proxy running on its own thread (so a test's event loop, a
worker subprocess and blocking code can all use it). Controls:

- `pause()`   half-open: every connection, existing and new, stays open but nothing is
              forwarded in either direction (a silent network partition: the peer's kernel
              still ACKs, so TCP keepalives would not even notice). Bytes read meanwhile are
              held and delivered on `resume()`, as TCP retransmission would.
- `cut()`     closes every open connection at once (both sides see a reset/EOF); new
              connections are still accepted.
- `resume()`  forwards again.

`PgBouncer`: Debian's `/usr/sbin/pgbouncer` in `pool_mode = transaction` in front of a
PostgreSQL, with its own config, auth file and log in a temp dir. PgBouncer refuses to run
as root, so as root it is started through `runuser -u postgres` (the OS user Debian's
postgresql packages create) and its directory is handed to that user.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from concurrent.futures import Future
from pathlib import Path

import asyncpg

from tests.conftest import init_connection

PGBOUNCER = "/usr/sbin/pgbouncer"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TcpProxy:
    """`with TcpProxy(target_host, target_port) as proxy:` -> `proxy.port` listens locally."""

    CHUNK = 65536

    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self.host = "127.0.0.1"
        self.port = 0
        self.connections_accepted = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.base_events.Server | None = None
        self._forwarding: asyncio.Event | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task] = set()

    # -- lifecycle (blocking, callable from any thread) ------------------------------------

    def start(self) -> TcpProxy:
        self._thread.start()
        self._call(self._start())
        return self

    def close(self) -> None:
        if self._thread.is_alive():
            with contextlib.suppress(Exception):
                self._call(self._close())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def dsn(self, user: str, password: str | None = None, dbname: str = "postgres") -> str:
        auth = f"{user}:{password}" if password else user
        return f"postgresql://{auth}@{self.host}:{self.port}/{dbname}"

    # -- controls ---------------------------------------------------------------------------

    def pause(self) -> None:
        """Half-open: stop forwarding without closing anything."""
        self._call(self._set_forwarding(False))

    def resume(self) -> None:
        self._call(self._set_forwarding(True))

    def cut(self) -> None:
        """Close every open connection (both directions)."""
        self._call(self._cut())

    @property
    def open_connections(self) -> int:
        return len(self._writers) // 2

    # -- inside the proxy's loop ----------------------------------------------------------

    def _call(self, coro) -> object:
        future: Future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(10)

    async def _start(self) -> None:
        self._forwarding = asyncio.Event()
        self._forwarding.set()
        self._server = await asyncio.start_server(self._accept, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _close(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._cut()
        for task in list(self._tasks):
            task.cancel()

    async def _set_forwarding(self, on: bool) -> None:
        assert self._forwarding is not None
        if on:
            self._forwarding.set()
        else:
            self._forwarding.clear()

    async def _cut(self) -> None:
        for writer in list(self._writers):
            transport = writer.transport
            with contextlib.suppress(Exception):
                sock = transport.get_extra_info("socket")
                if sock is not None:  # RST rather than FIN, like a dropped middlebox
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
            transport.abort()
        self._writers.clear()

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter):
        self.connections_accepted += 1
        assert self._forwarding is not None
        # A partition also swallows new connections: wait (like an unanswered SYN).
        await self._forwarding.wait()
        try:
            server_r, server_w = await asyncio.open_connection(*self.target)
        except OSError:
            client_w.transport.abort()
            return
        self._writers |= {client_w, server_w}
        for reader, writer, other in (
            (client_r, server_w, client_w),
            (server_r, client_w, server_w),
        ):
            task = asyncio.ensure_future(self._pipe(reader, writer, other))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pipe(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        other: asyncio.StreamWriter,
    ) -> None:
        assert self._forwarding is not None
        try:
            while data := await reader.read(self.CHUNK):
                await self._forwarding.wait()
                if writer not in self._writers:
                    return
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            for w in (writer, other):
                self._writers.discard(w)
                with contextlib.suppress(Exception):
                    w.close()


class PgBouncer:
    """`with PgBouncer(pg_host, pg_port) as bouncer:` -> `bouncer.dsn(user)`."""

    def __init__(
        self,
        pg_host: str,
        pg_port: int,
        *,
        dbname: str = "postgres",
        users: tuple[str, ...] = ("postgres", "planner_worker"),
        pool_mode: str = "transaction",
        pool_size: int = 4,
    ):
        if not Path(PGBOUNCER).exists():
            raise FileNotFoundError(f"{PGBOUNCER} not found: apt-get install pgbouncer")
        self.host = "127.0.0.1"
        self.port = free_port()
        self.dbname = dbname
        self.dir = Path(tempfile.mkdtemp(prefix="receptor-pgbouncer-"))
        self.log = self.dir / "pgbouncer.log"
        self.process: subprocess.Popen | None = None
        auth = self.dir / "userlist.txt"
        # auth_type = trust still requires the user to be listed.
        auth.write_text("".join(f'"{user}" ""\n' for user in users))
        self.config = self.dir / "pgbouncer.ini"
        self.config.write_text(
            f"""[databases]
{dbname} = host={pg_host} port={pg_port} dbname={dbname}

[pgbouncer]
listen_addr = {self.host}
listen_port = {self.port}
unix_socket_dir =
auth_type = trust
auth_file = {auth}
pool_mode = {pool_mode}
default_pool_size = {pool_size}
max_client_conn = 200
logfile = {self.log}
pidfile = {self.dir / "pgbouncer.pid"}
ignore_startup_parameters = extra_float_digits,options
server_reset_query =
"""
        )

    def dsn(self, user: str, password: str | None = None) -> str:
        auth = f"{user}:{password}" if password else user
        return f"postgresql://{auth}@{self.host}:{self.port}/{self.dbname}"

    def start(self, timeout: float = 15.0) -> PgBouncer:
        command = [PGBOUNCER, str(self.config)]
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            for path in (self.dir, *self.dir.iterdir()):
                os.chown(path, user.pw_uid, user.pw_gid)
            command = ["runuser", "-u", "postgres", "--", *command]
        self.process = subprocess.Popen(
            command, cwd="/", stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                output = self.process.stdout.read() if self.process.stdout else ""
                raise RuntimeError(f"pgbouncer exited: {output}\n{self.log_text()}")
            with contextlib.suppress(OSError):
                socket.create_connection((self.host, self.port), 0.2).close()
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"pgbouncer did not listen within {timeout}s:\n{self.log_text()}")

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> PgBouncer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


# -- worker processes against any database ----------------------------------------------------


class Workers:
    """Start `python -m listener` processes against a given DSN; `stop_all()` at the end.

    Uses the end-to-end suite's `WorkerProcess` (JSON log lines parsed as they arrive)."""

    def __init__(self, tmp_path: Path):
        self._tmp = tmp_path
        self.started: list = []

    def start(self, dsn: str, **overrides: str):
        import uuid

        from tests.listener.conftest import WorkerProcess

        env = {
            **os.environ,
            "DATABASE_URL": dsn,
            "PLANNER_WORKER_ID": f"rel-{uuid.uuid4().hex[:8]}",
            "PLANNER_LOG_FORMAT": "json",
            "PLANNER_LOG_LEVEL": "DEBUG",
            "PLANNER_HEARTBEAT_S": "1",
            "PLANNER_POLL_INTERVAL_S": "2",
            "PLANNER_SHUTDOWN_GRACE_S": "2",
            "PLANNER_RECONNECT_MAX_S": "1",
            "PLANNER_DB_TIMEOUT_S": "3",
            "PLANNER_HEALTH_FILE": str(self._tmp / f"health-{len(self.started)}"),
            **overrides,
        }
        worker = WorkerProcess(env)
        self.started.append(worker)
        return worker

    def stop_all(self) -> None:
        for worker in self.started:
            worker.stop()


def small_plan(name: str = "Reliability round") -> dict:
    """A feasible 4-unit x 4-term round under VIC_PGY2 that solves in well under a second
    (the session fixture's default round, as a plan document for `insert_plan_round`)."""
    units = [
        ("ED", "Emergency Medicine", "Emergency Medicine", ["A", "C"]),
        ("GM", "General Medicine", "General Medicine", ["A", "B"]),
        ("SURG", "Surgery", "General Surgery", ["C", "D"]),
        ("PSYCH", "Psychiatry", "Adult Psychiatry", ["B"]),
    ]
    return {
        "name": name,
        "terms": [{"ordinal": t, "name": f"Term {t}", "weeks": 13} for t in range(1, 5)],
        "units": [
            {
                "code": code,
                "name": code,
                "specialty": spec,
                "subspecialty": sub,
                "experiences": exp,
                "kind": "clinical",
                "nights": False,
                "span_terms": 1,
                "leave_weeks": 0,
            }
            for code, spec, sub, exp in units
        ],
        "demand": [
            {"unit": code, "term": t, "min": 1, "max": 1} for code, *_ in units for t in range(1, 5)
        ],
        "locked_lines": [],
        "current_lines": [],
    }


class DelayedCloseProxy(TcpProxy):
    """A TcpProxy whose server-side close reaches the client `close_delay_s` late (a slow
    middlebox, a server whose FIN is held back). The server's last message (for example the
    FATAL of pg_terminate_backend) arrives at once; the EOF only later, so the client keeps
    using a connection whose server is gone: the race behind asyncpg's `InternalClientError:
    cannot switch to state ...`. `refuse()` / `accept()` make new connections fail at once
    (a server that is down) and close the open ones."""

    def __init__(self, target_host: str, target_port: int, close_delay_s: float = 3.0):
        super().__init__(target_host, target_port)
        self.close_delay_s = close_delay_s
        self._clients: set[asyncio.StreamWriter] = set()
        self._refusing = False

    def refuse(self) -> None:
        self._refusing = True
        self.cut()

    def accept(self) -> None:
        self._refusing = False

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter):
        if self._refusing:
            client_w.transport.abort()
            return
        self._clients.add(client_w)
        await super()._accept(client_r, client_w)

    async def _pipe(self, reader, writer, other) -> None:
        if writer not in self._clients:  # client -> server: never closes the client early
            try:
                while data := await reader.read(self.CHUNK):
                    if writer not in self._writers:
                        continue  # the server is gone: drop what the client still sends
                    writer.write(data)
                    await writer.drain()
            except (OSError, asyncio.CancelledError):
                pass
            finally:
                self._writers.discard(writer)
                with contextlib.suppress(Exception):
                    writer.close()
            return
        try:  # server -> client: forward, then hold the close back
            while data := await reader.read(self.CHUNK):
                writer.write(data)
                await writer.drain()
            await asyncio.sleep(self.close_delay_s)
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            self._clients.discard(writer)
            for w in (writer, other):
                self._writers.discard(w)
                with contextlib.suppress(Exception):
                    w.close()


class Reconnecting:
    """A superuser asyncpg connection that survives the server being restarted under it."""

    def __init__(self, dsn: str, connect_timeout: float = 60.0):
        self.dsn, self.connect_timeout = dsn, connect_timeout
        self.conn: asyncpg.Connection | None = None

    async def get(self) -> asyncpg.Connection:
        if self.conn is None or self.conn.is_closed():
            self.conn = await asyncpg.connect(self.dsn, timeout=self.connect_timeout)
            await init_connection(self.conn)
        return self.conn

    async def close(self) -> None:
        if self.conn is not None and not self.conn.is_closed():
            await self.conn.close()
