"""Copies run-bound log records (INFO and above) to `planner_execution_logs`.

The loguru sink only appends to an in-memory queue (cheap, thread-safe); a background task
writes batches through `planner.write_logs`. A failing write is reported on stdout and
never propagates: losing a log row must not lose a run.
"""

from __future__ import annotations

import traceback
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from loguru import logger

from listener.db import CONNECTION_ERRORS

SHIPPED_MIN_LEVEL = 20  # INFO
MAX_QUEUED = 10_000
MAX_BATCH = 500
MAX_ATTEMPTS = 3


def entry_from_record(record: dict[str, Any]) -> dict[str, Any]:
    extra = record["extra"]
    context = {
        key: value
        for key, value in extra.items()
        if key not in ("run_id", "organization_id") and not key.startswith("_")
    }
    context["logger"] = record["name"]
    context["logged_at"] = record["time"].isoformat()
    exc = record["exception"]
    tb = None
    if exc is not None and exc.type is not None:
        tb = "".join(traceback.format_exception(exc.type, exc.value, exc.traceback))
    return {
        "run_id": str(extra["run_id"]),
        "level": record["level"].name,
        "message": record["message"],
        "traceback": tb,
        "context": _jsonable(context),
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


class LogShipper:
    def __init__(self, write: Callable[[list[dict]], Awaitable[int]], interval_s: float = 0.5):
        self._write = write
        self._interval = interval_s
        self._queue: deque[tuple[dict, int]] = deque(maxlen=MAX_QUEUED)
        self._lock = anyio.Lock()
        self._sink_id: int | None = None

    def sink(self, message) -> None:
        record = message.record
        extra = record["extra"]
        shipped = extra.get("run_id") and not extra.get("_local_only")
        if shipped and record["level"].no >= SHIPPED_MIN_LEVEL:
            self._queue.append((entry_from_record(record), 0))

    def install(self) -> None:
        self._sink_id = logger.add(self.sink, level="INFO", format="{message}", catch=True)

    def uninstall(self) -> None:
        if self._sink_id is not None:
            logger.remove(self._sink_id)
            self._sink_id = None

    @property
    def pending(self) -> int:
        return len(self._queue)

    async def run(self) -> None:
        """Flush forever; cancel to stop (call `flush()` once more afterwards)."""
        while True:
            await anyio.sleep(self._interval)
            await self.flush()

    async def flush(self) -> None:
        async with self._lock:
            while self._queue:
                batch = [self._queue.popleft() for _ in range(min(MAX_BATCH, len(self._queue)))]
                try:
                    await self._write([entry for entry, _ in batch])
                except Exception as exc:
                    retry = [(e, n + 1) for e, n in batch if n + 1 < MAX_ATTEMPTS]
                    transient = isinstance(exc, CONNECTION_ERRORS)
                    if transient and retry:
                        self._queue.extendleft(reversed(retry))
                    logger.bind(_local_only=True).warning(
                        "Could not write {} run log rows to planner_execution_logs ({}): {}",
                        len(batch),
                        "will retry" if transient and retry else "dropped",
                        f"{type(exc).__name__}: {exc}",
                    )
                    return
