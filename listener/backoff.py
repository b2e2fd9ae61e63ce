"""Exponential backoff with jitter, so a fleet of workers does not reconnect in lockstep.

The one implementation: the claim loop, the database (re)connects, the LISTEN source and
the Realtime source all wait through it.
"""

from __future__ import annotations

import random

# 2**60 times any initial delay is far past every cap; stops the power overflowing.
MAX_EXPONENT = 60


class Backoff:
    def __init__(self, initial_s: float = 0.25, max_s: float = 30.0, factor: float = 2.0):
        self._initial = initial_s
        self._max = max_s
        self._factor = factor
        self._attempt = 0

    def delay(self, attempt: int) -> float:
        """The wait before retry `attempt` (0 = the first): the exponential step
        min(max, initial * factor**attempt), jittered to 50-100 % of itself."""
        step = min(self._max, self._initial * self._factor ** min(attempt, MAX_EXPONENT))
        return step * random.uniform(0.5, 1.0)

    def next_delay(self) -> float:
        """The next wait, counting attempts since the last `reset()`."""
        delay = self.delay(self._attempt)
        self._attempt += 1
        return delay

    def reset(self) -> None:
        self._attempt = 0
