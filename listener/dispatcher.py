"""The claim loop: claim a run only when a concurrency slot is free.

    wait for a free slot -> claim_run -> hand the run to the pipeline (it frees the slot)
                         -> nothing to claim: sleep until the doorbell rings or the poll
                            interval passes, whichever is first

The doorbell is rung by wake-up sources; a ring that arrives while a claim is in flight
is not lost (it is remembered and triggers another pass at once).
"""

from __future__ import annotations

from collections.abc import Callable

import anyio
from loguru import logger

from listener.backoff import Backoff
from listener.db import DB_ERRORS, ClaimedRun, PlannerDatabase


class Doorbell:
    def __init__(self) -> None:
        self._event = anyio.Event()

    def ring(self) -> None:
        self._event.set()

    def snapshot(self) -> anyio.Event:
        """Take before a claim pass; `wait(snapshot)` returns at once if rung since."""
        return self._event

    async def wait(self, snapshot: anyio.Event, timeout_s: float) -> bool:
        """True when rung; False when `timeout_s` passed first (a poll)."""
        with anyio.move_on_after(timeout_s):
            await snapshot.wait()
        rung = snapshot.is_set()
        if rung and self._event is snapshot:
            self._event = anyio.Event()
        return rung


class Dispatcher:
    def __init__(
        self,
        db: PlannerDatabase,
        *,
        worker_id: str,
        concurrency: int,
        poll_interval_s: float,
        doorbell: Doorbell,
        on_claimed: Callable[[ClaimedRun], object],
        on_poll: Callable[[], None] | None = None,
    ):
        self._db = db
        self._worker_id = worker_id
        self._poll_interval = poll_interval_s
        self._doorbell = doorbell
        self._on_claimed = on_claimed
        self._on_poll = on_poll
        self.slots = anyio.Semaphore(concurrency)

    async def run(self, stopping: anyio.Event) -> None:
        """Claim until `stopping` is set. The pipeline must call `slots.release()` per run."""
        backoff = Backoff(initial_s=0.25, max_s=self._poll_interval)
        while not stopping.is_set():
            await self.slots.acquire()
            rung = self._doorbell.snapshot()
            if stopping.is_set():
                self.slots.release()
                return
            try:
                # Shielded: a claim committed in the database must reach us, or the run
                # would sit GENERATING under our name until the reaper fails it.
                with anyio.CancelScope(shield=True):
                    run = await self._db.claim_run(self._worker_id)
            except DB_ERRORS as exc:
                self.slots.release()
                delay = backoff.next_delay()
                logger.warning(
                    "Claim failed ({}: {}); retrying in {:.1f}s", type(exc).__name__, exc, delay
                )
                await anyio.sleep(delay)
                continue
            backoff.reset()
            if run is None:
                self.slots.release()
                if not await self._doorbell.wait(rung, self._poll_interval) and self._on_poll:
                    self._on_poll()
                continue
            self._on_claimed(run)
