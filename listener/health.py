"""The health tick file: the worker loop rewrites it; `receptor-planner health` reads it."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

if TYPE_CHECKING:
    from loguru import Logger


def write_tick(path: Path, state: dict[str, Any]) -> None:
    """Atomically replace the tick file, so a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({**state, "ticked_at": time.time()}))
    os.replace(tmp, path)


def tick_age_s(path: Path) -> tuple[float | None, dict[str, Any]]:
    """Seconds since the last tick (None if there is no tick file) and its contents."""
    try:
        data = json.loads(path.read_text())
        return max(0.0, time.time() - float(data["ticked_at"])), data
    except (OSError, ValueError, KeyError, TypeError):
        return None, {}


async def tick_forever(
    path: Path, interval_s: float, state: Callable[[], dict[str, Any]], log: Logger
) -> None:
    """Rewrite the tick file from this event loop. It never waits on the database: a solve
    runs in another process and database calls in other tasks, so the tick stops only when
    the loop itself is stuck or the process is gone."""
    warned = False
    while True:
        try:
            write_tick(path, {**state(), "tick_interval_s": interval_s})
        except OSError as exc:
            if not warned:
                warned = True
                log.warning("Cannot write the health file: {}", exc)
        await anyio.sleep(interval_s)
