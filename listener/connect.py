"""Opening the worker's pool: retry through an outage, give up at once on bad configuration."""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio
import asyncpg

from listener.backoff import Backoff
from listener.config import Settings
from listener.db import DB_ERRORS, PlannerDatabase

if TYPE_CHECKING:
    from loguru import Logger

# Bad configuration, not an outage: retrying would only hide it.
FATAL_CONNECT_ERRORS = (
    asyncpg.InvalidPasswordError,
    asyncpg.InvalidCatalogNameError,
    asyncpg.InvalidAuthorizationSpecificationError,
)


async def open_database(
    settings: Settings, stopping: anyio.Event, log: Logger
) -> PlannerDatabase | None:
    """The pool, once the database answers; None on bad configuration or when `stopping`."""
    backoff = Backoff(initial_s=0.5, max_s=settings.reconnect_max_s)
    while not stopping.is_set():
        try:
            db = await PlannerDatabase.open(
                settings.database_url,
                max_size=settings.concurrency + 2,
                statement_cache_size=settings.statement_cache_size,
                timeout_s=settings.db_timeout_s,
            )
        except FATAL_CONNECT_ERRORS as exc:
            log.error("Cannot use DATABASE_URL {}: {}", settings.redacted_url(), exc)
            return None
        except DB_ERRORS as exc:
            delay = backoff.next_delay()
            log.warning(
                "Database {} not reachable ({}: {}); retrying in {:.1f}s",
                settings.redacted_url(),
                type(exc).__name__,
                exc,
                delay,
            )
            with anyio.move_on_after(delay):
                await stopping.wait()
            continue
        log.info(
            "Worker started: database {}, concurrency {}, wake-up {}, heartbeat {}s, poll {}s",
            settings.redacted_url(),
            settings.concurrency,
            settings.wakeup,
            settings.heartbeat_s,
            settings.poll_interval_s,
        )
        return db
    return None
