"""The generated attack matrix: every table x select/insert/update/delete x attacker, and every
planner.* function x attacker, each aimed at organisation A's rows. What a role may
legitimately do (a viewer reading A's round, an editor editing it, the worker claiming) is
not an attack here; test_legitimate.py checks it keeps working."""

from __future__ import annotations

import pytest

from tests.security.attempts import attack
from tests.security.world import ATTACKERS
from tests.tenant_tables import MEMBER_READABLE

pytestmark = [pytest.mark.db, pytest.mark.security]

EDITABLE = {"allocation_runs", "plan_terms", "units", "unit_demands", "job_lines", "rotations"}

A_ROWS = "organization_id = %(a_org)s"
# table -> (rows of A, an insert into A's scope, an update of A's rows)
TABLES: dict[str, tuple[str, str, str]] = {
    "organizations": (
        "id = %(a_org)s",
        "insert into organizations (name) values ('evil')",
        "update organizations set name = 'pwned' where id = %(a_org)s",
    ),
    "organization_members": (
        A_ROWS,
        "insert into organization_members (organization_id, user_id, role) "
        "values (%(a_org)s, %(stranger)s, 'admin')",
        "update organization_members set role = 'admin' where organization_id = %(a_org)s",
    ),
    "allocation_runs": (
        A_ROWS,
        "insert into allocation_runs (organization_id, name) values (%(a_org)s, 'evil')",
        "update allocation_runs set name = 'pwned' where organization_id = %(a_org)s",
    ),
    "plan_terms": (
        A_ROWS,
        "insert into plan_terms (organization_id, allocation_run_id, ordinal, name, weeks) "
        "values (%(a_org)s, %(a_round)s, 9, 'evil', 1)",
        "update plan_terms set name = 'pwned' where organization_id = %(a_org)s",
    ),
    "units": (
        A_ROWS,
        "insert into units (organization_id, allocation_run_id, code, name, specialty, "
        "subspecialty) values (%(a_org)s, %(a_round)s, 'EVIL', 'e', 'e', 'e')",
        "update units set name = 'pwned' where organization_id = %(a_org)s",
    ),
    "unit_demands": (
        A_ROWS,
        "insert into unit_demands (organization_id, allocation_run_id, unit_id, term_ordinal, "
        "min_lines, max_lines) values (%(a_org)s, %(a_round)s, %(a_spare_unit)s, 1, 0, 1)",
        "update unit_demands set max_lines = 99 where organization_id = %(a_org)s",
    ),
    "allocation_planner_runs": (
        A_ROWS,
        "insert into allocation_planner_runs (organization_id, allocation_run_id) "
        "values (%(a_org)s, %(a_spare_round)s)",
        "update allocation_planner_runs set worker_id = 'evil', result = '{}' "
        "where organization_id = %(a_org)s",
    ),
    "job_lines": (
        A_ROWS,
        "insert into job_lines (organization_id, allocation_run_id, label) "
        "values (%(a_org)s, %(a_round)s, 'EVIL')",
        "update job_lines set locked = true where organization_id = %(a_org)s",
    ),
    "rotations": (
        A_ROWS,
        "insert into rotations (organization_id, allocation_run_id, job_line_id, term_ordinal, "
        "unit_id) values (%(a_org)s, %(a_round)s, %(a_empty_line)s, 1, %(a_unit)s)",
        "update rotations set locked = true where organization_id = %(a_org)s",
    ),
    "planner_execution_logs": (
        A_ROWS,
        "insert into planner_execution_logs (run_id, organization_id, level, message, "
        "created_at) values (%(a_completed)s, %(a_org)s, 'CRITICAL', "
        "'Your data was exported to evil.example', '2020-01-01')",
        "update planner_execution_logs set message = 'pwned' where organization_id = %(a_org)s",
    ),
    "job_lines_history": (
        A_ROWS,
        "insert into job_lines_history (organization_id, allocation_run_id, reason, lines) "
        "values (%(a_org)s, %(a_round)s, 'restore', '[]')",
        "update job_lines_history set lines = '[]' where organization_id = %(a_org)s",
    ),
    "planner_settings": (
        "true",
        "insert into planner_settings default values",
        "update planner_settings set max_runs_per_org_per_hour = 100000",
    ),
    "planner_workers": (
        "worker_id = %(a_worker_id)s",
        "insert into planner_workers (worker_id) values ('evil')",
        "update planner_workers set state = 'stopping' where worker_id = %(a_worker_id)s",
    ),
    "planner_run_requests": (
        A_ROWS,
        "insert into planner_run_requests (organization_id, run_id, allocation_run_id) "
        "values (%(a_org)s, gen_random_uuid(), %(a_round)s)",
        "update planner_run_requests set requested_at = requested_at - interval '2 hours' "
        "where organization_id = %(a_org)s",
    ),
    "planner_run_claims": (
        A_ROWS,
        "insert into planner_run_claims (run_id, attempt, organization_id, worker_id) "
        "values (%(a_generating)s, 7, %(a_org)s, 'evil')",
        "update planner_run_claims set worker_id = 'evil' where organization_id = %(a_org)s",
    ),
}


def allowed(actor: str, table: str, op: str) -> bool:
    """What the security model grants (README "Security model"); everything else is an attack."""
    member = actor in ("viewer", "editor")
    if op == "select":
        return member and table in MEMBER_READABLE
    if actor == "editor" and table in EDITABLE:
        return True
    # requesting a run is the editor's job; the update above (worker_id, result) is not
    return actor == "editor" and table == "allocation_planner_runs" and op == "insert"


def sql_for(table: str, op: str) -> str:
    rows, insert, update = TABLES[table]
    if op == "select":
        return f"select count(*) from {table} where {rows}"
    if op == "insert":
        return insert
    if op == "update":
        return update
    return f"delete from {table} where {rows}"


TABLE_CASES = [
    (table, op, actor)
    for table in TABLES
    for op in ("select", "insert", "update", "delete")
    for actor in ATTACKERS
    if not allowed(actor, table, op)
]


@pytest.mark.parametrize(("table", "op", "actor"), TABLE_CASES)
def test_table_attack(world, table, op, actor):
    attack(world, f"{op} {table} as {actor}", actor, sql_for(table, op))


# function -> (a call aimed at A, the actors for whom that call is their legitimate job)
WORKER = frozenset({"worker", "forged_worker"})
MEMBERS = frozenset({"viewer", "editor"})
FUNCTIONS: dict[str, tuple[str, frozenset[str]]] = {
    "claim_run": ("select count(*) from planner.claim_run('evil')", WORKER),
    "fenced_run": (
        "select (planner.fenced_run(%(a_generating)s, %(a_generating_worker)s, 1)).id",
        frozenset(),
    ),
    "heartbeat": ("select planner.heartbeat(%(a_generating)s, 'evil', 1, '{}')", frozenset()),
    "finish_run": (
        "select planner.finish_run(%(a_generating)s, %(a_generating_worker)s, 2, 'FAILED', "
        "null, 'x')",
        frozenset(),
    ),
    "release_run": ("select planner.release_run(%(a_generating)s, 'evil', 1)", frozenset()),
    "complete_run": (
        "select planner.complete_run(%(a_generating)s, 'evil', 1, '[]', '{}')",
        frozenset(),
    ),
    "write_logs": (
        "select planner.write_logs(jsonb_build_array(jsonb_build_object('run_id', "
        "%(a_completed)s::text, 'worker_id', 'evil', 'attempt', 1, 'message', 'forged')))",
        frozenset(),
    ),
    "load_plan": (
        "select planner.load_plan(%(a_completed)s, %(a_completed_worker)s, 1)",
        frozenset(),
    ),
    "plan_document": ("select planner.plan_document(%(a_completed)s, %(a_org)s)", frozenset()),
    "plan_document_of": (
        "select planner.plan_document_of(null::public.allocation_planner_runs)",
        frozenset(),
    ),
    "snapshot_and_clear_unlocked_lines": (
        "select planner.snapshot_and_clear_unlocked_lines(%(a_org)s, %(a_round)s, null, 'restore')",
        frozenset(),
    ),
    "payload_rotations": ("select count(*) from planner.payload_rotations('[]')", frozenset()),
    "restore_snapshot": (
        "select planner.restore_snapshot(%(a_history)s)",
        frozenset({"editor"}),  # admins and editors restore their own round's snapshots
    ),
    "has_role": ("select planner.has_role(%(a_org)s, array['admin'])", frozenset()),
    "is_member": ("select planner.is_member(%(a_org)s)", MEMBERS),
    "run_request_problem": (
        "select planner.run_request_problem('{}', '{}') is null",
        frozenset({"stranger", "viewer", "editor", "admin_b", "forged_member"}),
    ),
    "invoker_bypasses_rls": ("select planner.invoker_bypasses_rls()", frozenset()),
    "tg_run_state_machine": ("select planner.tg_run_state_machine()", frozenset()),
    "tg_run_abuse_guard": ("select planner.tg_run_abuse_guard()", frozenset()),
    "tg_run_notify": ("select planner.tg_run_notify()", frozenset()),
    "reap_stale_runs": ("select planner.reap_stale_runs()", frozenset()),
    "sweep_workers": ("select planner.sweep_workers()", frozenset()),
    "register_worker": (
        "select planner.register_worker(%(a_worker_id)s, 'evil-host', 1, 'v', null)",
        WORKER,
    ),
    "worker_seen": ("select planner.worker_seen(%(a_worker_id)s, null, 'stopping')", WORKER),
    "deregister_worker": (
        "select planner.deregister_worker(%(a_worker_id)s, 'evil-host', 1)",
        frozenset(),
    ),
    "queue_stats": ("select planner.queue_stats()", WORKER),
    "status": ("select planner.status(10)", WORKER),
}

FUNCTION_CASES = [
    (function, actor)
    for function, (_, legit) in FUNCTIONS.items()
    for actor in ATTACKERS
    if actor not in legit
]


@pytest.mark.parametrize(("function", "actor"), FUNCTION_CASES)
def test_function_attack(world, function, actor):
    sql, _ = FUNCTIONS[function]
    attack(world, f"planner.{function} as {actor}", actor, sql)


def test_every_planner_function_is_attacked(world):
    names = {
        row[0]
        for row in world.su.execute(
            "select p.proname from pg_proc p join pg_namespace n on n.oid = p.pronamespace "
            "where n.nspname = 'planner'"
        )
    }
    assert names == set(FUNCTIONS)
