"""A solve's control for engine tests that call the column-generation parts directly:
deterministic, seed 0, no cancel token, progress reported nowhere."""

from __future__ import annotations

import time

from constraints.colgen.control import Control
from constraints.progress import ProgressReporter


def deterministic_control(limit: float = 60.0) -> Control:
    now = time.monotonic()
    return Control(
        time_limit_s=limit,
        seed=0,
        deterministic=True,
        cancel=None,
        reporter=ProgressReporter(None, 500, now),
        started=now,
    )
