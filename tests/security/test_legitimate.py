"""What must keep working under the security model: members read their own organisation,
admins and editors edit the round, request, cancel and restore, admins read logs, the
worker claims, loads, heart-beats, logs and completes its own run, and registers itself."""

from __future__ import annotations

import uuid

import pytest
from psycopg.types.json import Jsonb

from tests.security.attempts import legitimate
from tests.security.scoreboard import SCOREBOARD
from tests.security.test_matrix import MEMBER_READABLE, TABLES
from tests.security.world import LINES, claim, empty_queue, new_round, request_run

pytestmark = [pytest.mark.db, pytest.mark.security]


@pytest.mark.parametrize("actor", ["viewer", "editor", "admin"])
@pytest.mark.parametrize("table", sorted(MEMBER_READABLE))
def test_members_read_their_own_organisation(world, table, actor):
    rows = TABLES[table][0]
    outcome = legitimate(
        world,
        f"{actor} reads A's {table}",
        actor,
        f"select count(*), count(*) filter (where {rows}) from {table}",
    )
    total, mine = outcome.rows[0]
    assert total == mine  # and nothing else


def test_admins_read_their_logs(world):
    legitimate(
        world, "admin reads A's logs", "admin", "select count(*) from planner_execution_logs"
    )


@pytest.mark.parametrize("actor", ["admin", "editor"])
def test_admins_and_editors_request_a_run(world, actor):
    legitimate(
        world,
        f"{actor} requests a run",
        actor,
        "insert into allocation_planner_runs (organization_id, allocation_run_id, constraints, "
        "params) values (%(a_org)s, %(a_spare_round)s, '{VIC_PGY2}', "
        '\'{"time_limit_s": 30, "seed": 7, "min_lines": null, "allow_shortfall": true}\') '
        "returning state = 'PENDING' and requested_by = auth.uid()",
    )


@pytest.mark.parametrize("actor", ["admin", "editor"])
def test_admins_and_editors_cancel_a_run(world, actor):
    legitimate(
        world,
        f"{actor} cancels A's GENERATING run",
        actor,
        "update allocation_planner_runs set state = 'CANCELLED' where id = %(a_generating)s",
    )


EDITS = {
    "rename the round": "update allocation_runs set name = 'Renamed' where id = %(a_round)s",
    "add a term": "insert into plan_terms (organization_id, allocation_run_id, ordinal, name, "
    "weeks) values (%(a_org)s, %(a_round)s, 5, 'Term 5', 4)",
    "add a unit": "insert into units (organization_id, allocation_run_id, code, name, "
    "specialty, subspecialty) values (%(a_org)s, %(a_round)s, 'NEW', 'n', 'n', 'n')",
    "open a unit": "insert into unit_demands (organization_id, allocation_run_id, unit_id, "
    "term_ordinal, min_lines, max_lines) values (%(a_org)s, %(a_round)s, %(a_spare_unit)s, 1, "
    "0, 2)",
    "add a line": "insert into job_lines (organization_id, allocation_run_id, label) "
    "values (%(a_org)s, %(a_round)s, 'MANUAL-1')",
    "lock a line": "update job_lines set locked = true where organization_id = %(a_org)s "
    "and label = 'L-1'",
    "add a rotation": "insert into rotations (organization_id, allocation_run_id, job_line_id, "
    "term_ordinal, unit_id, locked) values (%(a_org)s, %(a_round)s, %(a_empty_line)s, 1, "
    "%(a_unit)s, true)",
    "delete a line": "delete from job_lines where organization_id = %(a_org)s and label = 'L-2'",
    "restore a snapshot": "select planner.restore_snapshot(%(a_history)s)",
}


@pytest.mark.parametrize("actor", ["admin", "editor"])
@pytest.mark.parametrize("edit", list(EDITS))
def test_admins_and_editors_edit_their_round(world, edit, actor):
    legitimate(world, f"{actor}: {edit}", actor, EDITS[edit])


def test_service_role_sees_both_organisations(world):
    legitimate(
        world,
        "service_role reads every organisation",
        "service",
        "select count(distinct organization_id) >= 2 from allocation_runs",
    )


@pytest.mark.parametrize(
    "call",
    ["select planner.status(5)", "select planner.queue_stats()"],
)
def test_worker_reads_status(world, call):
    legitimate(world, f"worker: {call}", "worker", call)


def test_worker_processes_its_own_run_end_to_end(world):
    """claim -> load_plan -> heartbeat -> write_logs -> complete_run, committed, as the
    worker login; then an admin sees the new lines and the log line."""
    su, worker = world.su, world.worker
    rnd, _ = new_round(su, world.a.id, "worker flow")
    empty_queue(su)
    run_id = request_run(su, world.a.id, rnd)
    worker_id = f"sec-flow-{uuid.uuid4().hex[:6]}"
    steps: dict[str, bool] = {}
    claimed, attempt = claim(worker, worker_id)
    steps["claim_run"] = claimed == run_id
    plan = worker.execute(
        "select planner.load_plan(%s, %s, %s)", (run_id, worker_id, attempt)
    ).fetchone()[0]
    steps["load_plan"] = plan["name"] == "worker flow" and len(plan["units"]) == 4
    steps["heartbeat"] = worker.execute(
        "select planner.heartbeat(%s, %s, %s, %s)",
        (run_id, worker_id, attempt, Jsonb({"percent": 50})),
    ).fetchone()[0]
    entry = {"run_id": str(run_id), "worker_id": worker_id, "attempt": attempt, "message": "hi"}
    steps["write_logs"] = (
        worker.execute("select planner.write_logs(%s)", [Jsonb([entry])]).fetchone()[0] == 1
    )
    steps["complete_run"] = worker.execute(
        "select planner.complete_run(%s, %s, %s, %s, %s)",
        (run_id, worker_id, attempt, Jsonb(LINES), Jsonb({"status": "OPTIMAL"})),
    ).fetchone()[0]
    with world.acting("admin") as c:
        steps["admin sees the lines"] = c.execute(
            "select count(*) from job_lines where allocation_run_id = %s", [rnd]
        ).fetchone()[0] == len(LINES)
        steps["admin sees the log"] = (
            c.execute(
                "select count(*) from planner_execution_logs where run_id = %s", [run_id]
            ).fetchone()[0]
            == 1
        )
    for step, ok in steps.items():
        SCOREBOARD.legit(f"worker flow: {step}", ok)
    assert all(steps.values()), steps


def test_worker_registers_refreshes_and_deregisters_itself(world):
    worker = world.worker
    worker_id = f"sec-reg-{uuid.uuid4().hex[:6]}"
    steps = {
        "register_worker": worker.execute(
            "select planner.register_worker(%s, 'host-x', 77, 'v', null) = false", [worker_id]
        ).fetchone()[0],
        "worker_seen": worker.execute(
            "select planner.worker_seen(%s, null, 'idle')", [worker_id]
        ).fetchone()[0],
        "deregister_worker": worker.execute(
            "select planner.deregister_worker(%s, 'host-x', 77)", [worker_id]
        ).fetchone()[0],
    }
    for step, ok in steps.items():
        SCOREBOARD.legit(f"worker registry: {step}", ok)
    assert all(steps.values()), steps
