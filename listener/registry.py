"""The worker's entry in `planner_workers`: register, refresh every heartbeat, deregister.

Database trouble is logged once per outage and never stops the worker; a swept entry (the
database removes entries not seen within stale_after) is registered again.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID

import anyio

from listener.db import DB_ERRORS, PlannerDatabase

if TYPE_CHECKING:
    from loguru import Logger


class Registry:
    """`run()` keeps the entry fresh; `changed()` refreshes it at once (a run started or
    ended, shutdown began). `state()` gives (oldest run in flight, idle|solving|stopping);
    `polling_alone()` whether the worker's push wake-up is down (shown by `status`)."""

    def __init__(
        self,
        db: PlannerDatabase,
        *,
        worker_id: str,
        version: str,
        started_at: datetime,
        interval_s: float,
        state: Callable[[], tuple[UUID | None, str]],
        polling_alone: Callable[[], bool],
        log: Logger,
    ) -> None:
        self._db = db
        self._worker_id = worker_id
        self._version = version
        self._started_at = started_at
        self._interval_s = interval_s
        self._state = state
        self._polling_alone = polling_alone
        self._log = log
        self._changed = anyio.Event()
        self._registered = False
        self._failing = False
        self.database_ok: bool | None = None  # the last registry call succeeded (health info)

    def changed(self) -> None:
        self._changed.set()

    async def run(self) -> None:
        while True:
            self._changed = anyio.Event()
            try:
                if await self._refresh():
                    continue
                self._succeeded()
            except DB_ERRORS as exc:
                self._failed(exc)
            with anyio.move_on_after(self._interval_s):
                await self._changed.wait()

    async def _refresh(self) -> bool:
        """Register if needed, then mark the entry seen. True: swept, register again now."""
        just_registered = not self._registered
        if just_registered:
            await self._register()
        current, state = self._state()
        if await self._db.worker_seen(self._worker_id, current, state, self._polling_alone()):
            return False
        self._log.info("Registry entry was swept; registering again")
        self._registered = False
        return not just_registered

    async def _register(self) -> None:
        clash = await self._db.register_worker(
            self._worker_id, socket.gethostname(), os.getpid(), self._version, self._started_at
        )
        self._registered = True
        if clash:
            self._log.warning(
                "Worker id {} was registered by another process seen within stale_after (a "
                "previous run of this container, or a second worker with the same id: "
                "PLANNER_WORKER_ID must be unique)",
                self._worker_id,
            )
        self._log.info("Registered in planner_workers (version {})", self._version)

    def _succeeded(self) -> None:
        if self._failing:
            self._log.info("Registry refreshed again")
        self._failing = False
        self.database_ok = True

    def _failed(self, exc: BaseException) -> None:
        self.database_ok = False
        if not self._failing:
            self._failing = True
            self._log.warning(
                "Could not refresh the worker registry ({}: {}); will retry every {}s",
                type(exc).__name__,
                exc,
                self._interval_s,
            )

    async def deregister(self, timeout_s: float) -> None:
        with anyio.move_on_after(timeout_s):
            try:
                await self._db.deregister_worker(self._worker_id)
                self._log.info("Deregistered from planner_workers")
            except DB_ERRORS as exc:
                self._log.warning(
                    "Could not deregister ({}: {}); the database sweeps the entry after "
                    "stale_after",
                    type(exc).__name__,
                    exc,
                )
            return
        self._log.warning("Deregistering timed out; the database sweeps the entry later")
