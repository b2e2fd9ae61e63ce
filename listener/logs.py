"""Loguru set-up: one JSON object per line on stdout (or readable text for humans).

Run-bound records carry `run_id`, `organization_id` and `worker_id` as top-level JSON
fields, so `jq 'select(.run_id == "...")'` follows one run across the whole log.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from datetime import UTC
from typing import TYPE_CHECKING, Any, TextIO

from loguru import logger

if TYPE_CHECKING:
    from loguru import Record


def record_to_json(record: dict[str, Any]) -> str:
    """Flat JSON for one loguru record: time, level, message, bound fields, exception."""
    out: dict[str, Any] = {
        "time": record["time"].astimezone(UTC).isoformat(timespec="milliseconds"),
        "level": record["level"].name,
        "message": record["message"],
        "logger": record["name"],
    }
    for key, value in record["extra"].items():
        if not key.startswith("_"):
            out[key] = value
    exc = record["exception"]
    if exc is not None and exc.type is not None:
        out["exception"] = {
            "type": exc.type.__name__,
            "message": str(exc.value),
            "traceback": "".join(traceback.format_exception(exc.type, exc.value, exc.traceback)),
        }
    return json.dumps(out, default=str, ensure_ascii=False)


def _json_sink(stream: TextIO):
    def write(message) -> None:
        stream.write(record_to_json(message.record) + "\n")
        stream.flush()

    return write


def _text_format(record: Record) -> str:
    bound = " ".join(
        f"{key}={{extra[{key}]}}" for key in record["extra"] if not key.startswith("_")
    )
    suffix = f" <dim>{bound}</dim>" if bound else ""
    return (
        "<green>{time:HH:mm:ss.SSS}</green> <level>{level: <7}</level> {message}"
        + suffix
        + "\n{exception}"
    )


class InterceptHandler(logging.Handler):
    """Routes standard-library logging (asyncpg's pool, asyncio, websockets...) into
    loguru, so those records come out in the same format (one JSON object per line) instead
    of Python's plain-text last-resort handler on stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        # The record's "logger" field names the standard-library logger (asyncpg.pool).
        named = logger.patch(lambda r: r.__setitem__("name", record.name))
        named.opt(exception=record.exc_info).log(level, record.getMessage())


def intercept_standard_logging(level: str = "INFO") -> None:
    """Make InterceptHandler the only handler of the root logger. Libraries log at INFO and
    above only, whatever PLANNER_LOG_LEVEL says: their DEBUG records can carry secrets (the
    websockets client logs the Realtime URL with its apikey)."""
    numeric = logging.getLevelName(level.upper())
    floor = max(logging.INFO, numeric if isinstance(numeric, int) else logging.INFO)
    logging.basicConfig(handlers=[InterceptHandler()], level=floor, force=True)


def configure_logging(fmt: str = "json", level: str = "INFO", stream: TextIO | None = None) -> None:
    """Replace loguru's default handler with ours. Call once per process."""
    stream = stream or sys.stdout
    logger.remove()
    intercept_standard_logging(level)
    if fmt == "json":
        logger.add(_json_sink(stream), level=level, format="{message}", backtrace=False)
    else:
        logger.add(
            stream,
            level=level,
            format=_text_format,
            colorize=stream.isatty(),
            backtrace=False,
            diagnose=False,
        )
