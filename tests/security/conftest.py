"""The security suite's session: one shared world of two organisations (see world.py) and,
at the end, one line computed from every recorded attempt:

    attacks tried: N | refused: N | worked: 0 | legitimate actions broken: 0

The session fails when any attack worked or any legitimate action broke, even if the test
that saw it was deselected from the failure report (e.g. run with --lf)."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from tests.security.scoreboard import SCOREBOARD
from tests.security.world import World, build_world


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if SCOREBOARD.attacks or SCOREBOARD.legitimate:
        for name in SCOREBOARD.worked:
            terminalreporter.write_line(f"ATTACK WORKED: {name}")
        for name in SCOREBOARD.broken:
            terminalreporter.write_line(f"LEGITIMATE ACTION BROKEN: {name}")
        terminalreporter.write_line(SCOREBOARD.line())


def pytest_sessionfinish(session, exitstatus) -> None:
    if SCOREBOARD.worked or SCOREBOARD.broken:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def world(db_dsn: str, worker_dsn: str) -> Iterator[World]:
    with (
        psycopg.connect(db_dsn, autocommit=True) as su,
        psycopg.connect(worker_dsn, autocommit=True) as worker,
    ):
        yield build_world(su, worker)


@pytest.fixture(autouse=True)
def runs_in_flight(world: World) -> None:
    """Keep each organisation's GENERATING run fresh, so the pg_cron reaper (stale after two
    minutes) never ends it while the suite runs: attacks on it must meet a live run."""
    for org in (world.a, world.b):
        owned = world.worker.execute(
            "select planner.heartbeat(%s, %s, 1, null)",
            (org.generating_run_id, org.generating_worker),
        ).fetchone()[0]
        assert owned, "the world's GENERATING run was ended by someone"
