"""The BEFORE INSERT abuse guard: one active run per allocation round, N runs per org per hour."""

from __future__ import annotations

import asyncpg
import pytest

from .helpers import claim, insert_run

pytestmark = [pytest.mark.db, pytest.mark.usefixtures("empty_queue")]


async def test_one_active_run_per_round(conn, make_round):
    rnd = await make_round()
    first = await insert_run(conn, rnd)
    with pytest.raises(asyncpg.UniqueViolationError, match="already has a PENDING planner run"):
        await insert_run(conn, rnd)
    await claim(conn, "w1")
    with pytest.raises(asyncpg.UniqueViolationError, match="already has a GENERATING planner run"):
        await insert_run(conn, rnd)
    assert await conn.fetchval("select planner.finish_run($1, 'w1', 1, 'FAILED', null, 'x')", first)
    assert await insert_run(conn, rnd)  # finished: a new request is fine
    assert (
        await conn.fetchval(
            "select count(*) from allocation_planner_runs where allocation_run_id = $1",
            rnd.allocation_run_id,
        )
        == 2
    )


async def test_the_unique_index_backs_the_guard(conn, make_round):
    rnd = await make_round()
    await insert_run(conn, rnd)
    # even with the trigger out of the way (e.g. a race), the partial unique index refuses;
    # DDL is transactional, so rolling back re-enables the trigger
    tx = conn.transaction()
    await tx.start()
    try:
        await conn.execute(
            "alter table allocation_planner_runs disable trigger "
            "allocation_planner_runs_abuse_guard"
        )
        with pytest.raises(asyncpg.UniqueViolationError, match="one_active_per_round"):
            await insert_run(conn, rnd)
    finally:
        await tx.rollback()
    with pytest.raises(asyncpg.UniqueViolationError, match="already has a PENDING"):
        await insert_run(conn, rnd)


@pytest.fixture
async def limit_of_three(conn):
    old = await conn.fetchval("select max_runs_per_org_per_hour from planner_settings")
    await conn.execute("update planner_settings set max_runs_per_org_per_hour = 3")
    yield
    await conn.execute("update planner_settings set max_runs_per_org_per_hour = $1", old)


async def test_runs_per_organisation_per_hour(conn, make_round, limit_of_three):
    org = await make_round()
    for _ in range(3):
        await insert_run(conn, await make_round(organization_id=org.organization_id, units=()))
    other_round = await make_round(organization_id=org.organization_id, units=())
    with pytest.raises(
        asyncpg.ProgramLimitExceededError, match="3 planner runs in the last hour \\(limit 3\\)"
    ):
        await insert_run(conn, other_round)
    await insert_run(conn, await make_round())  # another organisation is not affected
    # an hour later the budget is back (the guard counts its append-only request ledger)
    await conn.execute(
        "update planner_run_requests set requested_at = requested_at - interval '61 minutes' "
        "where organization_id = $1",
        org.organization_id,
    )
    assert await insert_run(conn, other_round)


async def test_default_settings(conn):
    row = await conn.fetchrow(
        "select stale_after::text, max_runs_per_org_per_hour from planner_settings"
    )
    assert tuple(row) == ("00:02:00", 30)
    with pytest.raises(asyncpg.UniqueViolationError):
        await conn.execute("insert into planner_settings default values")  # a singleton
