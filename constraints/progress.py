"""Progress reports and the cancellation handle shared by the solver and its callers."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Progress:
    elapsed_s: float
    phase: str  # e.g. "lines", "fairness", "stability"
    objective: float | None  # best value of the current phase, None before a first solution
    bound: float | None  # proven lower bound of the current phase
    solutions: int  # integer-master (CP-SAT) solutions found so far, all phases
    percent: float | None  # 0..100 of the time limit used so far


class CancelToken:
    """Thread-safe stop request: set once from any thread, polled by the solver."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._event.wait(timeout)


class ProgressReporter:
    """Throttles callbacks to at most one every `interval_ms` (the last word is always sent)."""

    def __init__(
        self, callback: Callable[[Progress], None] | None, interval_ms: int, started: float
    ) -> None:
        self._callback = callback
        self._interval = interval_ms / 1000.0
        self._started = started
        self._last = -1e9
        self._lock = threading.Lock()
        self.solutions = 0

    def report(
        self,
        phase: str,
        objective: float | None,
        bound: float | None,
        percent: float | None,
        *,
        force: bool = False,
    ) -> None:
        if self._callback is None:
            return
        now = time.monotonic()
        with self._lock:
            if not force and now - self._last < self._interval:
                return
            self._last = now
        self._callback(
            Progress(
                elapsed_s=round(now - self._started, 3),
                phase=phase,
                objective=objective,
                bound=bound,
                solutions=self.solutions,
                percent=percent,
            )
        )
