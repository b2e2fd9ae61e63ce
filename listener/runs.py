"""The runs this worker has in flight: the one place their live state is kept and changed.

`ActiveRuns.track(run)` creates a run's `RunWatch` and forgets it when the run ends. The
supervisor and the pipeline change a watch only through its methods below; the wake-up
handler asks for a check through `request_check`; metrics, health and the registry read.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from uuid import UUID

import anyio

from listener.db import ClaimedRun

if TYPE_CHECKING:
    from loguru import Logger


@dataclass
class RunWatch:
    """Live state of one run in flight."""

    run: ClaimedRun
    log: Logger  # bound to the run; `bind` adds fields as the run goes on
    on_heartbeat_gap: Callable[[float], None]
    check_now: anyio.Event = field(default_factory=anyio.Event)
    cancel_notified: bool = False
    progress: dict[str, Any] | None = None
    progress_dirty: bool = False
    # Monotonic time of the last successful heartbeat (the claim counts as the first).
    last_heartbeat: float = field(default_factory=time.monotonic)
    max_heartbeat_gap_s: float = 0.0

    def bind(self, **fields: Any) -> None:
        self.log = self.log.bind(**fields)

    def request_check(self, *, cancelled: bool) -> None:
        """Heartbeat now (a cancellation was notified, or something else needs an answer)."""
        self.cancel_notified = self.cancel_notified or cancelled
        self.check_now.set()

    def take_check_request(self) -> bool:
        """True, once, when a check was requested since the last call."""
        requested = self.check_now.is_set()
        if requested:
            self.check_now = anyio.Event()
        return requested

    def report_progress(self, progress: dict[str, Any]) -> None:
        self.progress = progress
        self.progress_dirty = True

    def take_progress(self) -> dict[str, Any] | None:
        """The latest progress, marked as written."""
        self.progress_dirty = False
        return self.progress

    def heartbeat_ok(self, now: float) -> None:
        gap = now - self.last_heartbeat
        self.max_heartbeat_gap_s = max(self.max_heartbeat_gap_s, gap)
        self.last_heartbeat = now
        self.on_heartbeat_gap(gap)


class ActiveRuns:
    """Run id -> RunWatch for the runs in flight, oldest first."""

    def __init__(
        self,
        log: Logger,
        *,
        on_heartbeat_gap: Callable[[float], None],
        on_change: Callable[[], None],
    ) -> None:
        self._log = log
        self._on_heartbeat_gap = on_heartbeat_gap
        self._on_change = on_change
        self._watches: dict[str, RunWatch] = {}

    @contextmanager
    def track(self, run: ClaimedRun) -> Iterator[RunWatch]:
        run_id = str(run.id)
        watch = RunWatch(
            run=run,
            log=self._log.bind(run_id=run_id, organization_id=str(run.organization_id)),
            on_heartbeat_gap=self._on_heartbeat_gap,
        )
        self._watches[run_id] = watch
        self._on_change()
        try:
            yield watch
        finally:
            del self._watches[run_id]
            self._on_change()

    def get(self, run_id: str | None) -> RunWatch | None:
        return self._watches.get(run_id or "")

    def __len__(self) -> int:
        return len(self._watches)

    def ids(self) -> list[str]:
        return sorted(self._watches)

    def oldest(self) -> UUID | None:
        first = next(iter(self._watches.values()), None)
        return None if first is None else first.run.id

    def last_heartbeats(self) -> list[float]:
        return [watch.last_heartbeat for watch in self._watches.values()]
