"""Row level security and privileges, probed as anon, as members of organisations A and B,
as the planner_worker role and as service_role."""

from __future__ import annotations

import asyncpg
import pytest

from tests.tenant_tables import (
    CATALOGUE_TENANT_TABLES_SQL,
    PLANNER_TENANT_TABLES,
    TENANT_TABLES,
)

from .helpers import add_line, as_user, claim, insert_run

pytestmark = [pytest.mark.db, pytest.mark.usefixtures("empty_queue")]

# exactly what listener/sql/ calls (tests/security checks the same against the files)
API = {
    "claim_run",
    "load_plan",
    "heartbeat",
    "complete_run",
    "finish_run",
    "release_run",
    "write_logs",
    # worker registry and status (20260101000500_planner_workers.sql)
    "register_worker",
    "worker_seen",
    "deregister_worker",
    "queue_stats",
    "status",
}


@pytest.fixture
async def two_orgs(conn, make_round):
    a, b = await make_round(), await make_round()
    for rnd in (a, b):
        await add_line(conn, rnd, "L-1", {1: "ED", 2: "GM", 3: "SURG", 4: "PSYCH"})
        run_id = await insert_run(conn, rnd)
        await conn.execute(
            "insert into planner_execution_logs (run_id, organization_id, message) "
            "values ($1, $2, 'hello')",
            run_id,
            rnd.organization_id,
        )
        await conn.execute(
            "update allocation_planner_runs set state = 'CANCELLED' where id = $1", run_id
        )
        await conn.execute(
            "insert into job_lines_history (organization_id, allocation_run_id, reason, "
            "lines) values ($1, $2, 'complete', '[]')",
            rnd.organization_id,
            rnd.allocation_run_id,
        )
    return a, b


def org_column(table: str) -> str:
    return "id" if table == "organizations" else "organization_id"


async def test_the_tenant_table_list_matches_the_catalogue(conn):
    """tests/tenant_tables.py names every tenant table the schema has, and no other."""
    found = {r[0] for r in await conn.fetch(CATALOGUE_TENANT_TABLES_SQL)}
    assert found == set(TENANT_TABLES) | set(PLANNER_TENANT_TABLES)


async def test_anon_gets_nothing(conn, two_orgs):
    for table in [*TENANT_TABLES, "planner_settings"]:
        async with as_user(conn, None, role="anon"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.fetch(f"select * from {table}")
    async with as_user(conn, None, role="anon"):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.fetch("select * from planner.claim_run('anon')")


@pytest.mark.parametrize("table", [t for t in TENANT_TABLES if t != "planner_execution_logs"])
async def test_members_see_only_their_organisation(conn, two_orgs, table):
    a, b = two_orgs
    for me, other in ((a, b), (b, a)):
        async with as_user(conn, me.viewer):
            orgs = {r[0] for r in await conn.fetch(f"select {org_column(table)} from {table}")}
        assert orgs == {me.organization_id}, table
        assert other.organization_id not in orgs


async def test_logs_are_for_admins(conn, two_orgs):
    a, _ = two_orgs
    async with as_user(conn, a.admin):
        assert {
            r[0] for r in await conn.fetch("select organization_id from planner_execution_logs")
        } == {a.organization_id}
    async with as_user(conn, a.viewer):
        assert await conn.fetch("select * from planner_execution_logs") == []


async def test_editor_requests_a_pending_run_for_own_round_only(conn, two_orgs):
    a, b = two_orgs
    insert = (
        "insert into allocation_planner_runs (organization_id, allocation_run_id, "
        "constraints) values ($1, $2, '{VIC_PGY2}') returning state, requested_by"
    )
    for role in ("admin", "editor"):
        user = a.members[role]
        async with as_user(conn, user):
            row = await conn.fetchrow(insert, a.organization_id, a.allocation_run_id)
            assert (row["state"], row["requested_by"]) == ("PENDING", user)
    async with as_user(conn, a.viewer):  # a viewer may not replace lines, so may not request
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
            await conn.fetchrow(insert, a.organization_id, a.allocation_run_id)
    async with as_user(conn, a.editor):
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
            await conn.fetchrow(insert, b.organization_id, b.allocation_run_id)
    async with as_user(conn, a.editor):  # B's round under A's organisation id: refused
        with pytest.raises(asyncpg.ForeignKeyViolationError, match="is not a round of"):
            await conn.fetchrow(insert, a.organization_id, b.allocation_run_id)
    async with as_user(conn, a.editor):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(
                "insert into allocation_planner_runs (organization_id, allocation_run_id, "
                "state) values ($1, $2, 'GENERATING')",
                a.organization_id,
                a.allocation_run_id,
            )


async def test_editor_may_cancel_but_not_set_other_states_or_results(conn, two_orgs):
    a, b = two_orgs
    run_a, run_b = await insert_run(conn, a), await insert_run(conn, b)
    cancel = "update allocation_planner_runs set state = 'CANCELLED' where id = $1"
    async with as_user(conn, a.editor):
        assert await conn.execute(cancel, run_a) == "UPDATE 1"
    async with as_user(conn, a.viewer):
        assert await conn.execute(cancel, run_a) == "UPDATE 0"  # viewers do not cancel
    async with as_user(conn, a.editor):
        assert await conn.execute(cancel, run_b) == "UPDATE 0"  # invisible to A
    async with as_user(conn, a.editor):
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
            await conn.execute(
                "update allocation_planner_runs set state = 'GENERATING' where id = $1", run_a
            )
    async with as_user(conn, a.viewer):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(
                "update allocation_planner_runs set result = '{}' where id = $1", run_a
            )
    async with as_user(conn, a.viewer):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.fetch("select * from planner.claim_run('sneaky')")
    assert (
        await conn.fetchval("select state from allocation_planner_runs where id = $1", run_a)
        == "PENDING"
    )


async def test_editors_lock_and_edit_lines_viewers_cannot(conn, two_orgs):
    a, b = two_orgs
    lock = "update job_lines set locked = true where label = 'L-1'"
    lock_rotation = "update rotations set locked = true where term_ordinal = 1"
    async with as_user(conn, a.editor):
        assert await conn.execute(lock) == "UPDATE 1"  # only A's line
        assert await conn.execute(lock_rotation) == "UPDATE 1"
        assert (
            await conn.execute("update job_lines set locked = false where label = 'L-1'")
            == "UPDATE 1"
        )
    async with as_user(conn, a.admin):
        assert await conn.execute(lock) == "UPDATE 1"
    async with as_user(conn, a.viewer):
        assert await conn.execute(lock) == "UPDATE 0"
        assert await conn.execute(lock_rotation) == "UPDATE 0"
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
            await conn.execute(
                "insert into job_lines (organization_id, allocation_run_id, label) values "
                "($1, $2, 'X')",
                a.organization_id,
                a.allocation_run_id,
            )
    async with as_user(conn, a.editor):
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
            await conn.execute(
                "insert into job_lines (organization_id, allocation_run_id, label) values "
                "($1, $2, 'X')",
                b.organization_id,
                b.allocation_run_id,
            )
    assert not await conn.fetchval(
        "select bool_or(locked) from job_lines where allocation_run_id = $1", b.allocation_run_id
    )


async def test_restore_snapshot_needs_an_editor_of_that_organisation(conn, two_orgs):
    a, b = two_orgs
    history = await conn.fetchval(
        "insert into job_lines_history (organization_id, allocation_run_id, reason, lines) "
        "values ($1, $2, 'complete', '[]') returning id",
        a.organization_id,
        a.allocation_run_id,
    )
    for user in (b.admin, a.viewer):
        async with as_user(conn, user):
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="admins and editors"):
                await conn.fetchval("select planner.restore_snapshot($1)", history)
    async with as_user(conn, a.editor):
        assert await conn.fetchval("select planner.restore_snapshot($1)", history)
        assert (
            await conn.fetchval(
                "select count(*) from job_lines where allocation_run_id = $1", a.allocation_run_id
            )
            == 0
        )


async def test_worker_role_executes_only_the_api(conn, worker_dsn, make_round):
    executable = {
        r["proname"]
        for r in await conn.fetch(
            """select p.proname from pg_proc p join pg_namespace n on n.oid = p.pronamespace
               where n.nspname = 'planner'
                 and has_function_privilege('planner_worker', p.oid, 'execute')"""
        )
    }
    assert executable == API
    rnd = await make_round()
    run_id = await insert_run(conn, rnd)
    worker = await asyncpg.connect(worker_dsn)
    try:
        for table in TENANT_TABLES:
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await worker.fetch(f"select 1 from public.{table} limit 1")
        assert (await claim(worker, "w1"))["id"] == run_id
        plan = await worker.fetchval("select planner.load_plan($1, 'w1', 1)::text", run_id)
        assert '"VIC_PGY2"' in plan
    finally:
        await worker.close()


async def test_service_role_sees_everything(conn, two_orgs):
    a, b = two_orgs
    async with as_user(conn, None, role="service_role"):
        orgs = {r[0] for r in await conn.fetch("select organization_id from allocation_runs")}
        assert {a.organization_id, b.organization_id} <= orgs
        assert await conn.fetch("select * from planner.claim_run('service')") == []
