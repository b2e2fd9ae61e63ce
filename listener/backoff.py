"""Exponential backoff with jitter, so a fleet of workers does not reconnect in lockstep."""

from __future__ import annotations

import random


class Backoff:
    def __init__(self, initial_s: float = 0.25, max_s: float = 30.0, factor: float = 2.0):
        self._initial = initial_s
        self._max = max_s
        self._factor = factor
        self._attempt = 0

    def next_delay(self) -> float:
        """The next wait: the exponential step, jittered to 50-100 % of itself."""
        step = min(self._max, self._initial * self._factor**self._attempt)
        self._attempt += 1
        return step * random.uniform(0.5, 1.0)

    def reset(self) -> None:
        self._attempt = 0
