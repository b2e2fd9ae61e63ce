"""Logging: one flat JSON object per line, run fields top-level, tracebacks included;
run-bound INFO+ records queued for planner_execution_logs, and a failing write never raises."""

from __future__ import annotations

import io
import json

import pytest
from loguru import logger

from listener.log_shipper import LogShipper
from listener.logs import configure_logging


@pytest.fixture
def stream():
    buffer = io.StringIO()
    configure_logging("json", "DEBUG", stream=buffer)
    yield buffer
    logger.remove()


def lines(buffer: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_json_lines_carry_run_fields(stream):
    log = logger.bind(run_id="r-1", organization_id="o-1", worker_id="w-1")
    log.info("Claimed run {}", 7)
    logger.debug("unbound")
    first, second = lines(stream)
    assert first["message"] == "Claimed run 7"
    assert first["level"] == "INFO"
    assert (first["run_id"], first["organization_id"], first["worker_id"]) == ("r-1", "o-1", "w-1")
    assert first["time"].endswith("+00:00")
    assert "run_id" not in second


def test_exception_has_full_traceback(stream):
    def inner():
        raise ValueError("bad demand")

    try:
        inner()
    except ValueError:
        logger.bind(run_id="r-2").exception("boom")
    (record,) = lines(stream)
    assert record["exception"]["type"] == "ValueError"
    assert record["exception"]["message"] == "bad demand"
    assert "in inner" in record["exception"]["traceback"]


def test_text_format_is_human(capsys):
    buffer = io.StringIO()
    configure_logging("text", "INFO", stream=buffer)
    logger.bind(run_id="r-3").info("hello")
    logger.remove()
    out = buffer.getvalue()
    assert "hello" in out and "run_id=r-3" in out
    with pytest.raises(json.JSONDecodeError):
        json.loads(out)


async def test_shipper_ships_only_run_bound_info_and_above():
    written: list[list[dict]] = []

    async def write(entries):
        written.append(entries)
        return len(entries)

    shipper = LogShipper(write)
    configure_logging("json", "DEBUG", stream=io.StringIO())
    shipper.install()
    try:
        run_log = logger.bind(run_id="r-4", organization_id="o-4", worker_id="w")
        run_log.debug("too chatty")
        logger.info("not about a run")
        run_log.bind(problems=["x"]).error("Run FAILED")
        await shipper.flush()
    finally:
        shipper.uninstall()
        logger.remove()
    assert len(written) == 1
    (entry,) = written[0]
    assert entry["run_id"] == "r-4"
    assert entry["level"] == "ERROR"
    assert entry["message"] == "Run FAILED"
    assert entry["context"]["problems"] == ["x"]
    assert entry["context"]["worker_id"] == "w"
    assert "organization_id" not in entry["context"]


async def test_shipper_survives_a_failing_database():
    import asyncpg

    calls = 0

    async def write(entries):
        nonlocal calls
        calls += 1
        raise asyncpg.ConnectionDoesNotExistError("gone")

    out = io.StringIO()
    configure_logging("json", "INFO", stream=out)
    shipper = LogShipper(write)
    shipper.install()
    try:
        logger.bind(run_id="r-5").info("hello")
        for _ in range(5):
            await shipper.flush()  # must not raise
    finally:
        shipper.uninstall()
        logger.remove()
    # retried, then dropped: bounded attempts, queue empty, a warning on stdout
    assert calls == 3
    assert shipper.pending == 0
    warnings = [r for r in lines(out) if r["level"] == "WARNING"]
    assert any("dropped" in w["message"] for w in warnings)
