"""Graceful-shutdown state shared by the dispatcher and every run in flight, and the
signal handling that sets it.

The first SIGTERM/SIGINT requests a graceful shutdown; a second one kills the solver
children and exits at once.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import anyio

from listener.solver_process import kill_all_children

if TYPE_CHECKING:
    from loguru import Logger


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


async def handle_signals(shutdown: Shutdown, on_first: Callable[[str], None], log: Logger) -> None:
    """First signal: `on_first(name)`, then `shutdown.request()`. Second: exit now."""
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for signum in signals:
            name = signal.Signals(signum).name
            if not shutdown.requested.is_set():
                on_first(name)
                shutdown.request()
            else:
                log.warning("Second {}: killing solver processes and exiting now", name)
                kill_all_children()
                sys.stdout.flush()
                os._exit(128 + signum)
