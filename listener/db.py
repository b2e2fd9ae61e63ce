"""Database access: an asyncpg pool and one method per `planner.*` function.

The worker never touches tables directly; every call about a run is fenced by
(run_id, worker_id, attempt) inside the database, so this class remembers which attempt of
which run it was given (and which registry entry it made) to present them again.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import anyio
import asyncpg

from listener.sql import query

# Errors that mean "the connection or server went away", worth retrying; anything else
# (a raised exception inside a planner function) is an answer, not an outage.
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    # "cannot switch to state N; another operation is in progress" and other protocol
    # errors: the connection's state machine is broken (a race with the server closing it),
    # the database is fine. Such a connection is discarded (PlannerDatabase._call).
    asyncpg.InternalClientError,
)
# Connection trouble or an error raised by the database.
DB_ERRORS: tuple[type[BaseException], ...] = (*CONNECTION_ERRORS, asyncpg.PostgresError)
# Claims remembered for fencing log writes: far more than a worker has in flight.
REMEMBERED_CLAIMS = 1_000


@dataclass(frozen=True)
class ClaimedRun:
    id: UUID
    organization_id: UUID
    allocation_run_id: UUID
    attempt: int
    constraints: list[str]
    params: dict[str, Any]


async def init_connection(conn: asyncpg.Connection) -> None:
    """jsonb/json as Python objects on every connection (pooled or dedicated)."""
    for typename in ("jsonb", "json"):
        await conn.set_type_codec(
            typename, schema="pg_catalog", encoder=json.dumps, decoder=json.loads, format="text"
        )


APPLICATION_NAME = "receptor-planner"


def connect_kwargs(
    statement_cache_size: int, timeout_s: float, application_name: str = APPLICATION_NAME
) -> dict[str, Any]:
    return {
        # 0 keeps us working behind a transaction-mode pooler (no named prepared statements).
        "statement_cache_size": statement_cache_size,
        "timeout": timeout_s,
        "command_timeout": None,
        # PostgreSQL keeps 63 bytes; operators find our sessions in pg_stat_activity by it.
        "server_settings": {"application_name": application_name[:63]},
    }


async def connect(
    url: str,
    *,
    statement_cache_size: int,
    timeout_s: float,
    application_name: str = APPLICATION_NAME,
) -> asyncpg.Connection:
    conn = await asyncpg.connect(
        url, **connect_kwargs(statement_cache_size, timeout_s, application_name)
    )
    await init_connection(conn)
    return conn


class PlannerDatabase:
    """The planner API over a small pool. Create with `open()`; close with `close()`."""

    def __init__(self, pool: asyncpg.Pool, *, timeout_s: float):
        self._pool = pool
        self._timeout = timeout_s
        self._claims: OrderedDict[str, tuple[str, int]] = OrderedDict()  # run id -> worker, attempt
        self._registrations: dict[str, tuple[str, int]] = {}  # worker id -> host, pid

    @classmethod
    async def open(
        cls, url: str, *, max_size: int, statement_cache_size: int, timeout_s: float
    ) -> PlannerDatabase:
        pool = await asyncpg.create_pool(
            url,
            min_size=1,
            max_size=max_size,
            init=init_connection,
            **connect_kwargs(statement_cache_size, timeout_s),
        )
        return cls(pool, timeout_s=timeout_s)

    async def close(self) -> None:
        try:
            # A connection that went half-open would make a graceful close wait forever.
            with anyio.fail_after(self._timeout):
                await self._pool.close()
        except Exception:
            self._pool.terminate()

    async def _call(self, method: str, sql: str, *args: Any, timeout: float | None = None) -> Any:
        """One query on a pooled connection, bounded end to end (acquire, query, release).

        asyncpg's query timeout alone is not enough on a half-open connection: after a
        timeout the pool waits, without a deadline, for the server to acknowledge the
        cancellation (or for the reset query) before the connection can be released. So a
        connection whose call timed out or was cancelled is terminated (the pool opens a
        fresh one), and the release itself is bounded.
        """
        timeout = timeout or self._timeout
        for retries_left in (1, 0):
            conn = await self._pool.acquire(timeout=timeout)
            try:
                return await getattr(conn, method)(sql, *args, timeout=timeout)
            except (TimeoutError, anyio.get_cancelled_exc_class()):
                conn.terminate()
                raise
            except asyncpg.InternalClientError:
                # A protocol error: the query never got under way on this broken connection.
                # Discard it and try once more on a fresh one.
                conn.terminate()
                if not retries_left:
                    raise
            finally:
                try:
                    await self._pool.release(conn, timeout=timeout)
                except Exception:  # the pool has terminated it; the answer above still counts
                    conn.terminate()
        raise AssertionError("unreachable")

    async def _fetchval(self, name: str, *args: Any, timeout: float | None = None) -> Any:
        return await self._call("fetchval", query(name), *args, timeout=timeout)

    async def claim_run(self, worker_id: str) -> ClaimedRun | None:
        row = await self._call("fetchrow", query("claim_run"), worker_id)
        if row is None or row["id"] is None:
            return None
        self._claims[str(row["id"])] = (worker_id, row["attempt"])
        while len(self._claims) > REMEMBERED_CLAIMS:
            self._claims.popitem(last=False)
        return ClaimedRun(
            id=row["id"],
            organization_id=row["organization_id"],
            allocation_run_id=row["allocation_run_id"],
            attempt=row["attempt"],
            constraints=list(row["constraints"] or []),
            params=dict(row["params"] or {}),
        )

    async def load_plan(self, run: ClaimedRun) -> dict[str, Any]:
        worker_id, attempt = self._claims.get(str(run.id), (None, run.attempt))
        return await self._fetchval("load_plan", run.id, worker_id, attempt)

    async def heartbeat(self, run: ClaimedRun, worker_id: str, progress: dict | None) -> bool:
        return bool(await self._fetchval("heartbeat", run.id, worker_id, run.attempt, progress))

    async def complete_run(
        self, run: ClaimedRun, worker_id: str, lines: list[dict], result: dict
    ) -> bool:
        # Replacing a large plan is one transaction in the database; allow it time.
        owned = await self._fetchval(
            "complete_run", run.id, worker_id, run.attempt, lines, result,
            timeout=max(self._timeout, 60.0),
        )  # fmt: skip
        return bool(owned)

    async def finish_run(
        self, run: ClaimedRun, worker_id: str, state: str, result: dict | None, error: str
    ) -> bool:
        owned = await self._fetchval(
            "finish_run", run.id, worker_id, run.attempt, state, result, error
        )
        return bool(owned)

    async def release_run(self, run: ClaimedRun, worker_id: str) -> bool:
        return bool(await self._fetchval("release_run", run.id, worker_id, run.attempt))

    async def notify(self, channel: str, payload: str) -> None:
        """NOTIFY from a pooled connection (the LISTEN self-test)."""
        await self._fetchval("listen_probe", channel, payload)

    async def write_logs(self, entries: list[dict]) -> int:
        fenced = [self._fence(entry) for entry in entries]
        return int(await self._fetchval("write_logs", fenced) or 0)

    def _fence(self, entry: dict) -> dict:
        """The entry with the worker id and attempt this process was given for its run."""
        worker_id, attempt = self._claims.get(str(entry.get("run_id")), (None, None))
        return {**entry, "worker_id": worker_id, "attempt": attempt}

    # -- worker registry and queue figures ------------------------------------------------

    async def register_worker(
        self, worker_id: str, host: str, pid: int, version: str, started_at: Any
    ) -> bool:
        """True when another live process already held this worker id."""
        self._registrations[worker_id] = (host, pid)
        return bool(
            await self._fetchval("register_worker", worker_id, host, pid, version, started_at)
        )

    async def worker_seen(
        self, worker_id: str, current_run_id: UUID | None, state: str, polling_alone: bool
    ) -> bool:
        """False when the registry entry is gone (swept): register again."""
        return bool(
            await self._fetchval("worker_seen", worker_id, current_run_id, state, polling_alone)
        )

    async def deregister_worker(self, worker_id: str) -> bool:
        host, pid = self._registrations.get(worker_id, ("", None))
        return bool(await self._fetchval("deregister_worker", worker_id, host, pid))

    async def queue_stats(self) -> dict[str, Any]:
        return dict(await self._fetchval("queue_stats") or {})
