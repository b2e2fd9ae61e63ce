"""The health tick file: the worker loop rewrites it; `receptor-planner health` reads it."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any


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
