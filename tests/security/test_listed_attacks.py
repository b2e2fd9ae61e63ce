"""The attacks issue 9 lists (3-9; the two escalations are in test_escalations.py), the
unique-key and "not found / not yours" oracles, and oversized or malformed requests."""

from __future__ import annotations

import json
import re
import uuid

import psycopg
import pytest
from psycopg.types.json import Jsonb

from tests.security.attempts import Outcome, attack, nothing, run
from tests.security.scoreboard import SCOREBOARD

pytestmark = [pytest.mark.db, pytest.mark.security]

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


# -- 3, 4, 5: the worker login outside its own runs --------------------------------------------


@pytest.mark.parametrize("worker_id", ["own-id", "that-runs-worker"])
def test_3_worker_loads_another_organisations_completed_run(world, worker_id):
    worker = world.a.completed_worker if worker_id == "that-runs-worker" else "w-attacker"
    attack(
        world,
        f"3: load_plan of A's COMPLETED run, presenting {worker_id}",
        "worker",
        "select planner.load_plan(%(a_completed)s, %(w)s, 1)",
        {"w": worker},
    )


@pytest.mark.parametrize(
    ("case", "fence"),
    [
        ("no fence", {}),
        ("wrong worker", {"worker_id": "w-attacker", "attempt": 1}),
        ("wrong attempt", {"worker_id": "*", "attempt": 2}),
        ("another run's claim", {"worker_id": "*b", "attempt": 1}),
    ],
)
def test_4_worker_writes_logs_into_a_run_it_does_not_hold(world, case, fence):
    fence = dict(fence)
    if fence.get("worker_id") == "*":
        fence["worker_id"] = world.a.completed_worker
    if fence.get("worker_id") == "*b":
        fence["worker_id"] = world.b.completed_worker
    entry = {
        "run_id": str(world.a.completed_run_id),
        "level": "CRITICAL",
        "message": "Your data was exported to https://evil.example",
        "created_at": "2020-01-01T00:00:00Z",
        **fence,
    }
    attack(
        world,
        f"4: write_logs into A's run ({case})",
        "worker",
        "select planner.write_logs(%(e)s)",
        {"e": Jsonb([entry])},
    )


def test_4_log_times_come_from_the_database(world):
    """Even the run's own (worker, attempt) cannot backdate a log line."""
    entry = {
        "run_id": str(world.a.completed_run_id),
        "worker_id": world.a.completed_worker,
        "attempt": 1,
        "message": "backdated?",
        "created_at": "2020-01-01T00:00:00Z",
    }
    with world.su.transaction(force_rollback=True):
        assert world.su.execute("select planner.write_logs(%s)", [Jsonb([entry])]).fetchone()[0]
        year = world.su.execute(
            "select extract(year from created_at) from planner_execution_logs "
            "where message = 'backdated?'"
        ).fetchone()[0]
    SCOREBOARD.attack("4: backdate a log line with a client created_at", refused=year > 2020)
    assert year > 2020


def test_5_worker_restores_a_snapshot(world):
    attack(world, "5: restore_snapshot of A's history as the worker", "worker",
           "select planner.restore_snapshot(%(a_history)s)")  # fmt: skip


def test_5_worker_deregisters_another_worker(world):
    attack(
        world,
        "5: deregister_worker of A's registered worker (wrong host and pid)",
        "worker",
        "select planner.deregister_worker(%(a_worker_id)s, 'host-b', 4242)",
    )
    row = world.su.execute(
        "select count(*) from planner_workers where worker_id = %s", [world.a.worker_id]
    ).fetchone()[0]
    assert row == 1


# -- 6, 8: what refusals reveal ----------------------------------------------------------------


def normalised(outcome: Outcome, *secrets: object) -> tuple:
    text = outcome.message
    for secret in secrets:
        text = text.replace(str(secret), "<probe>")
    return outcome.sqlstate, text, outcome.rows


def indistinguishable(world, name: str, actor: str, sql: str, probe: dict, control: dict):
    """An oracle attack: the answer for another organisation's value must be the answer
    for a value that exists nowhere (the probed values themselves blanked out)."""
    seen = run(world, actor, sql, probe)
    fresh = run(world, actor, sql, control)
    same = normalised(seen, *probe.values()) == normalised(fresh, *control.values())
    supplied = {str(v) for v in probe.values()}
    leaked = [
        value
        for key, value in world.params().items()
        if key.startswith("b_") and str(value) not in supplied and str(value) in seen.message
    ]
    refused = seen.sqlstate is not None or nothing(seen)
    SCOREBOARD.attack(name, refused=same and not leaked and refused)
    assert same, (name, seen, fresh)
    assert not leaked, (name, seen)
    assert refused, (name, seen)


def test_6_run_for_another_organisations_round_names_nothing_of_it(world):
    sql = (
        "insert into allocation_planner_runs (organization_id, allocation_run_id, constraints) "
        "values (%(a_org)s, %(r)s, '{VIC_PGY2}')"
    )
    for actor in ("editor", "admin", "forged_member"):
        indistinguishable(
            world,
            f"6: run with A's organisation and B's busy round, as {actor}",
            actor,
            sql,
            {"r": world.b.busy_round_id},
            {"r": uuid.uuid4()},
        )
        outcome = run(world, actor, sql, {"r": world.b.busy_round_id})
        assert str(world.b.generating_run_id) not in outcome.message
        assert "GENERATING" not in outcome.message


ORACLES = {
    "label": (
        "insert into job_lines (organization_id, allocation_run_id, label) "
        "values (%(a_org)s, %(b_round)s, %(v)s)",
        "L-1",
        "NO-SUCH-LABEL",
    ),
    "unit code": (
        "insert into units (organization_id, allocation_run_id, code, name, specialty, "
        "subspecialty) values (%(a_org)s, %(b_round)s, %(v)s, 'x', 'x', 'x')",
        "ED",
        "NOSUCHUNIT",
    ),
    "term": (
        "insert into plan_terms (organization_id, allocation_run_id, ordinal, name, weeks) "
        "values (%(a_org)s, %(b_round)s, %(v)s::int, 'x', 1)",
        "1",
        "13",
    ),
    "demand row": (
        "insert into unit_demands (organization_id, allocation_run_id, unit_id, term_ordinal, "
        "min_lines, max_lines) values (%(a_org)s, %(b_round)s, %(v)s::uuid, 1, 0, 1)",
        "b_unit",
        "random",
    ),
    "rotation": (
        "insert into rotations (organization_id, allocation_run_id, job_line_id, term_ordinal, "
        "unit_id) values (%(a_org)s, %(b_round)s, %(v)s::uuid, 1, %(b_unit)s)",
        "b_line",
        "random",
    ),
    "round id": (
        "insert into allocation_runs (id, organization_id, name) "
        "values (%(v)s::uuid, %(a_org)s, 'x')",
        "b_round",
        "random",
    ),
    "snapshot id": ("select planner.restore_snapshot(%(v)s::uuid)", "b_history", "random"),
    "snapshot row": (
        "insert into job_lines_history (id, organization_id, allocation_run_id, reason, lines) "
        "values (%(v)s::uuid, %(a_org)s, %(a_round)s, 'restore', '[]')",
        "b_history",
        "random",
    ),
    "run id": (
        "insert into allocation_planner_runs (id, organization_id, allocation_run_id) "
        "values (%(v)s::uuid, %(a_org)s, %(a_spare_round)s)",
        "b_completed",
        "random",
    ),
    "line id": (
        "update job_lines set label = label where id = %(v)s::uuid",
        "b_line",
        "random",
    ),
}


def oracle_value(world, token: str) -> str:
    if token == "random":
        return str(uuid.uuid4())
    if token == "b_line":
        return str(
            world.su.execute(
                "select id from job_lines where organization_id = %s and label = 'L-1'",
                [world.b.id],
            ).fetchone()[0]
        )
    if token in world.params():
        return str(world.params()[token])
    return token


@pytest.mark.parametrize("actor", ["editor", "admin", "viewer", "stranger"])
@pytest.mark.parametrize("key", list(ORACLES))
def test_8_unique_keys_and_refusals_reveal_nothing_across_organisations(world, key, actor):
    sql, probe, control = ORACLES[key]
    indistinguishable(
        world,
        f"8: does B's {key} exist? (as {actor})",
        actor,
        sql,
        {"v": oracle_value(world, probe)},
        {"v": oracle_value(world, control)},
    )


def test_8_load_plan_answers_the_same_for_missing_and_foreign_runs(world):
    indistinguishable(
        world,
        "8: does run B exist? (load_plan as the worker)",
        "worker",
        "select planner.load_plan(%(v)s::uuid, 'w', 1)",
        {"v": str(world.b.completed_run_id)},
        {"v": str(uuid.uuid4())},
    )


@pytest.mark.parametrize(
    ("what", "sql"),
    [
        ("heartbeat", "select planner.heartbeat(%(b_generating)s, 'w', 1, null)"),
        ("complete_run", "select planner.complete_run(%(b_generating)s, 'w', 1, '[]', '{}')"),
        ("finish_run", "select planner.finish_run(%(b_generating)s, 'w', 1, 'FAILED', null, 'x')"),
        ("release_run", "select planner.release_run(%(b_generating)s, 'w', 1)"),
        ("load_plan", "select planner.load_plan(%(b_generating)s, 'w', 1)"),
    ],
)
def test_8_the_worker_api_does_nothing_to_a_run_held_by_another_worker(world, what, sql):
    attack(world, f"8: {what} on B's GENERATING run as another worker", "worker", sql)


# -- 7: the hourly cap cannot be reset by deleting what it counted -----------------------------


def test_7_deleting_rounds_does_not_reset_the_hourly_cap(world):
    counted = world.su.execute(
        "select count(*) from planner_run_requests where organization_id = %s "
        "and requested_at > now() - interval '1 hour'",
        [world.a.id],
    ).fetchone()[0]
    old_cap = world.su.execute("select max_runs_per_org_per_hour from planner_settings").fetchone()[
        0
    ]
    world.su.execute("update planner_settings set max_runs_per_org_per_hour = %s", [counted + 2])
    refused_at = None
    try:
        with world.acting("editor") as c:
            for n in range(1, 5):
                rnd = c.execute(
                    "insert into allocation_runs (organization_id, name) values (%s, 'burst') "
                    "returning id",
                    [world.a.id],
                ).fetchone()[0]
                try:
                    with c.transaction():
                        c.execute(
                            "insert into allocation_planner_runs (organization_id, "
                            "allocation_run_id) values (%s, %s)",
                            (world.a.id, rnd),
                        )
                except psycopg.errors.ProgramLimitExceeded as exc:
                    assert "limit" in str(exc) and str(world.b.id) not in str(exc)
                    refused_at = n
                    break
                # the editor deletes the round: its runs cascade away, the ledger stays
                c.execute("delete from allocation_runs where id = %s", [rnd])
                with pytest.raises(psycopg.errors.InsufficientPrivilege), c.transaction():
                    c.execute(
                        "delete from planner_run_requests where organization_id = %s",
                        [world.a.id],
                    )
    finally:
        world.su.execute("update planner_settings set max_runs_per_org_per_hour = %s", [old_cap])
    SCOREBOARD.attack("7: reset the hourly cap by deleting rounds", refused=refused_at == 3)
    assert refused_at == 3


# -- 9: who may request a regenerate -----------------------------------------------------------

REQUEST = (
    "insert into allocation_planner_runs (organization_id, allocation_run_id, constraints) "
    "values (%(a_org)s, %(a_spare_round)s, '{VIC_PGY2}')"
)


@pytest.mark.parametrize("actor", ["viewer", "stranger", "admin_b", "forged_member", "anon"])
def test_9_only_admins_and_editors_request_runs(world, actor):
    attack(world, f"9: request a regenerate of A's round as {actor}", actor, REQUEST)


@pytest.mark.parametrize("actor", ["viewer", "stranger", "admin_b", "forged_member"])
def test_9_only_admins_and_editors_cancel_runs(world, actor):
    attack(
        world,
        f"9: cancel A's GENERATING run as {actor}",
        actor,
        "update allocation_planner_runs set state = 'CANCELLED' where id = %(a_generating)s",
    )


# -- oversized and malformed requests, refused at insert with the field named -------------------

BAD_REQUESTS = {
    "8 MB of params": ([], {"min_lines": 1, "junk": "x" * 8_000_000}, "params.junk"),
    "100,000 constraint names": (["VIC_PGY2"] * 100_000, {}, "the limit is 20"),
    "21 rule sets": (["VIC_PGY2"] * 21, {}, "the limit is 20"),
    "unknown rule set": (["VIC_PGY2", "NOT_A_RULE"], {}, "constraints[1]"),
    "lower-case rule set": (["vic_pgy2"], {}, "unknown rule set"),
    "empty rule-set name": ([""], {}, "constraints[0]"),
    "null rule-set name": ([None], {}, "constraints[0]"),
    "rule set twice": (["NO_NIGHTS", "NO_NIGHTS"], {}, "listed twice"),
    "unknown parameter": ([], {"workers": 64}, "params.workers"),
    "params as a list": ([], [1, 2], "params: must be an object"),
    "params as a string": ([], "big", "params: must be an object"),
    "min_lines as text": ([], {"min_lines": "1"}, "params.min_lines"),
    "min_lines negative": ([], {"min_lines": -1}, "params.min_lines: must be >= 0"),
    "min_lines fractional": ([], {"min_lines": 1.5}, "params.min_lines"),
    "max_lines of a billion": ([], {"max_lines": 10**9}, "params.max_lines: must be <= 5000"),
    "max_lines as a list": ([], {"max_lines": [1]}, "params.max_lines"),
    "max_lines a boolean": ([], {"max_lines": True}, "params.max_lines"),
    "min above max": ([], {"min_lines": 5, "max_lines": 4}, "must not exceed params.max_lines"),
    "time limit of a day": ([], {"time_limit_s": 86_400}, "params.time_limit_s: must be <= 3600"),
    "time limit zero": ([], {"time_limit_s": 0}, "params.time_limit_s"),
    "time limit negative": ([], {"time_limit_s": -5}, "positive"),
    "time limit as text": ([], {"time_limit_s": "60"}, "params.time_limit_s"),
    "seed beyond 32 bits": ([], {"seed": 2**40}, "params.seed"),
    "seed as an object": ([], {"seed": {"a": 1}}, "params.seed"),
    "allow_shortfall as text": ([], {"allow_shortfall": "yes"}, "params.allow_shortfall"),
    "deterministic as a number": ([], {"deterministic": 1}, "params.deterministic"),
    "allow_shortfall null": ([], {"allow_shortfall": None}, "params.allow_shortfall"),
    "huge number": ([], {"seed": float("1e300")}, "params.seed"),
    "deep nesting": ([], {"seed": json.loads("[" * 500 + "]" * 500)}, "params.seed"),
    "many unknown keys": ([], {f"k{i}": i for i in range(10_000)}, "unknown parameter"),
}


@pytest.mark.parametrize("actor", ["editor", "service"])
@pytest.mark.parametrize("case", list(BAD_REQUESTS))
def test_bad_requests_are_refused_at_insert_naming_the_field(world, case, actor):
    constraints, params, named = BAD_REQUESTS[case]
    outcome = attack(
        world,
        f"oversized/malformed request ({case}) as {actor}",
        actor,
        "insert into allocation_planner_runs (organization_id, allocation_run_id, constraints, "
        "params) values (%(a_org)s, %(a_spare_round)s, %(c)s, %(p)s)",
        {"c": constraints, "p": Jsonb(params)},
    )
    assert outcome.sqlstate == "23514", outcome
    assert named in outcome.message, outcome.message
    assert len(outcome.message) < 2_000  # the message never echoes the payload
