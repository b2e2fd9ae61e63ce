"""The two privilege escalations of issue 9, as the planner_worker login would run them.

1. A session temp table under SECURITY DEFINER code: the attacker creates
   pg_temp.payload_rotations with a BEFORE TRUNCATE trigger, then calls complete_run,
   which (before the fix) truncated "its" temp table, running the trigger as the owner.
2. pg_temp shadowing a type: with search_path = '' PostgreSQL searches pg_temp FIRST for
   types, so a domain pg_temp.uuid with a CHECK calling the attacker's function ran as the
   owner inside write_logs' `::uuid` cast.

Each payload tries to make planner_worker SUPERUSER. Both run twice: as the login is set
up (no TEMPORARY privilege: refused at the first step), and with TEMPORARY granted back, to
show the functions themselves no longer fall for it. These tests use only the signatures
main had, so they also run (and fail) against main's migrations.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from tests.security.scoreboard import SCOREBOARD

pytestmark = [pytest.mark.db, pytest.mark.security]

EVIL_FUNCTION = """
create function pg_temp.evil({args}) returns {returns} language plpgsql as $$
begin
    execute 'alter role planner_worker superuser';
    return {value};
end $$
"""

TRUNCATE_TRAP = [
    EVIL_FUNCTION.format(args="", returns="trigger", value="null"),
    "create temporary table payload_rotations (label text, term integer, unit text, "
    "locked boolean)",
    "create trigger evil before truncate on pg_temp.payload_rotations "
    "for each statement execute function pg_temp.evil()",
]
DOMAIN_TRAP = [
    EVIL_FUNCTION.format(args="v pg_catalog.uuid", returns="boolean", value="true"),
    "create domain pg_temp.uuid as pg_catalog.uuid check (pg_temp.evil(value))",
]


def is_superuser(su: psycopg.Connection) -> bool:
    return su.execute("select rolsuper from pg_roles where rolname = 'planner_worker'").fetchone()[
        0
    ]


@pytest.fixture
def su(db_dsn: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(db_dsn, autocommit=True) as conn:
        yield conn
        if is_superuser(conn):  # never leave the cluster compromised for later tests
            conn.execute("alter role planner_worker nosuperuser")


@pytest.fixture(params=["as-deployed", "temporary-granted-back"])
def temp_privilege(request, su: psycopg.Connection) -> Iterator[str]:
    database = su.execute("select current_database()").fetchone()[0]
    if request.param == "temporary-granted-back":
        su.execute(f'grant temporary on database "{database}" to planner_worker')
    yield request.param
    su.execute(f'revoke temporary on database "{database}" from planner_worker')


def pending_run(su: psycopg.Connection) -> uuid.UUID:
    """A fresh organisation with a one-term round and a PENDING run, the only one queued."""
    su.execute("update allocation_planner_runs set state = 'CANCELLED' where state = 'PENDING'")
    org = su.execute(
        "insert into organizations (name) values ('escalation') returning id"
    ).fetchone()[0]
    rnd = su.execute(
        "insert into allocation_runs (organization_id, name) values (%s, 'r') returning id",
        [org],
    ).fetchone()[0]
    su.execute(
        "insert into plan_terms (organization_id, allocation_run_id, ordinal, name, weeks) "
        "values (%s, %s, 1, 'T1', 52)",
        (org, rnd),
    )
    su.execute(
        "insert into units (organization_id, allocation_run_id, code, name, specialty, "
        "subspecialty) values (%s, %s, 'ED', 'ED', 'ED', 'ED')",
        (org, rnd),
    )
    return su.execute(
        "insert into allocation_planner_runs (organization_id, allocation_run_id, constraints) "
        "values (%s, %s, '{VIC_PGY2}') returning id",
        (org, rnd),
    ).fetchone()[0]


def plant(worker: psycopg.Connection, statements: list[str]) -> bool:
    """Create the trap in the worker's session; False when the database refuses it."""
    try:
        for sql in statements:
            worker.execute(sql)
    except psycopg.errors.InsufficientPrivilege:
        return False
    return True


def cancel(su: psycopg.Connection, run_id: uuid.UUID) -> None:
    su.execute(
        "update allocation_planner_runs set state = 'CANCELLED' "
        "where id = %s and state in ('PENDING', 'GENERATING')",
        [run_id],
    )


def settle(name: str, su: psycopg.Connection) -> None:
    escalated = is_superuser(su)
    SCOREBOARD.attack(name, refused=not escalated)
    assert not escalated, f"{name}: planner_worker made itself SUPERUSER"


def test_temp_table_trigger_through_complete_run(su, worker_dsn, temp_privilege):
    run_id = pending_run(su)
    with psycopg.connect(worker_dsn, autocommit=True) as worker:
        planted = plant(worker, TRUNCATE_TRAP)
        claimed, attempt = worker.execute(
            "select id, attempt from planner.claim_run('evil')"
        ).fetchone()
        assert claimed == run_id
        lines = [{"label": "X", "rotations": [{"term": 1, "unit": "ED"}]}]
        if planted:
            worker.execute(
                "select planner.complete_run(%s, 'evil', %s, %s::jsonb, '{}'::jsonb)",
                (run_id, attempt, json.dumps(lines)),
            )
    cancel(su, run_id)
    settle(f"pg_temp.payload_rotations BEFORE TRUNCATE via complete_run ({temp_privilege})", su)


def test_temp_domain_shadowing_uuid_through_write_logs(su, worker_dsn, temp_privilege):
    run_id = pending_run(su)
    with psycopg.connect(worker_dsn, autocommit=True) as worker:
        planted = plant(worker, DOMAIN_TRAP)
        worker.execute("select planner.claim_run('evil')")
        entry = {"run_id": str(run_id), "worker_id": "evil", "attempt": 1, "message": "x"}
        if planted:
            worker.execute("select planner.write_logs(%s::jsonb)", [json.dumps([entry])])
    cancel(su, run_id)
    settle(f"domain pg_temp.uuid via write_logs ({temp_privilege})", su)
