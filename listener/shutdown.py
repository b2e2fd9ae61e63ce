"""Graceful-shutdown state shared by the dispatcher and every run in flight."""

from __future__ import annotations

import time

import anyio


class Shutdown:
    def __init__(self, grace_s: float):
        self.grace_s = grace_s
        self.requested = anyio.Event()
        self._deadline: float | None = None

    def request(self) -> None:
        if self._deadline is None:
            self._deadline = time.monotonic() + self.grace_s
            self.requested.set()

    def grace_remaining(self) -> float:
        if self._deadline is None:
            return self.grace_s
        return max(0.0, self._deadline - time.monotonic())
