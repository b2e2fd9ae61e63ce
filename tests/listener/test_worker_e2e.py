"""End to end: real `python -m listener` processes against the session cluster.

Each test inserts runs the way the UI does (a row in allocation_planner_runs) and awaits the
row's state with a bounded poll; nothing here sleeps for a fixed time.
"""

from __future__ import annotations

import json
import os
import signal
import time
import uuid

import pytest

import constraints
from tests.listener.conftest import (
    FINAL_STATES,
    process_dies,
    ready,
    wait_for_progress,
    wait_for_row,
    wait_for_state,
)
from tests.listener.plan_rounds import insert_plan_round, long_plan

pytestmark = [pytest.mark.e2e, pytest.mark.db]


async def insert_run(conn, rnd, constraints_=("VIC_PGY2",), params=None) -> uuid.UUID:
    return await conn.fetchval(
        "insert into allocation_planner_runs (organization_id, allocation_run_id, constraints, "
        "params) values ($1, $2, $3, $4) returning id",
        rnd.organization_id,
        rnd.allocation_run_id,
        list(constraints_),
        params if params is not None else {"time_limit_s": 30, "seed": 0},
    )


async def table_lines(conn, round_id) -> list[constraints.SolutionLine]:
    rows = await conn.fetch(
        """select j.label, j.locked, r.term_ordinal, u.code, r.locked as rotation_locked
           from job_lines j join rotations r on r.job_line_id = j.id
           join units u on u.id = r.unit_id
           where j.allocation_run_id = $1 order by j.label, r.term_ordinal""",
        round_id,
    )
    by_label: dict[str, dict[int, str]] = {}
    locked: dict[str, set[int]] = {}
    for row in rows:
        by_label.setdefault(row["label"], {})[row["term_ordinal"]] = row["code"]
        if row["locked"] or row["rotation_locked"]:
            locked.setdefault(row["label"], set()).add(row["term_ordinal"])
    return [
        constraints.SolutionLine(label, rotations, frozenset(locked.get(label, ())))
        for label, rotations in by_label.items()
    ]


async def round_lines(conn, rnd) -> list:
    return await conn.fetch(
        "select j.id, j.label, r.term_ordinal, r.unit_id from job_lines j "
        "join rotations r on r.job_line_id = j.id where j.allocation_run_id = $1 "
        "order by j.id, r.term_ordinal",
        rnd.allocation_run_id,
    )


async def long_round(conn):
    return await insert_plan_round(conn, long_plan())


LONG_PARAMS = {"time_limit_s": 60, "seed": 0}


async def test_run_completes_with_lines_the_checker_accepts(
    conn, empty_queue, make_round, start_worker
):
    rnd = await make_round()
    worker = start_worker()
    worker.wait_for_log(ready, 30)
    run_id = await insert_run(conn, rnd)

    row = await wait_for_state(conn, run_id, FINAL_STATES, 60)

    assert row["state"] == "COMPLETED", row["error"]
    assert row["worker_id"] == worker.worker_id
    assert row["result"]["status"] in ("OPTIMAL", "FEASIBLE")
    lines = await table_lines(conn, rnd.allocation_run_id)
    assert len(lines) == row["result"]["line_count"] >= 4
    doc = await conn.fetchval("select planner.plan_document($1, $2)", run_id, rnd.organization_id)
    report = constraints.check(constraints.load_plan(doc), lines)
    assert report.violations == []
    logs = await wait_for_row(
        conn,
        "select count(*) from planner_execution_logs "
        "where run_id = $1 and message like 'Run COMPLETED%'",
        run_id,
        timeout=10,
    )
    assert logs == 1


async def test_infeasible_round_carries_the_explanation(
    conn, empty_queue, make_round, start_worker
):
    rnd = await make_round()  # minimum demand 4 per term
    worker = start_worker()
    worker.wait_for_log(ready, 30)
    run_id = await insert_run(conn, rnd, params={"max_lines": 3, "time_limit_s": 30})

    row = await wait_for_state(conn, run_id, FINAL_STATES, 60)

    assert row["state"] == "INFEASIBLE", row["error"]
    explanation = row["result"]["explanation"]
    assert explanation and all(isinstance(reason, str) and reason for reason in explanation)
    assert row["error"].startswith("No set of job lines meets every demand and rule")
    assert explanation[0] in row["error"]
    assert (
        await conn.fetchval(
            "select count(*) from job_lines where allocation_run_id = $1", rnd.allocation_run_id
        )
        == 0
    )


async def test_bad_input_fails_touches_nothing_else_and_worker_keeps_serving(
    conn, empty_queue, make_round, start_worker
):
    good = await make_round()
    # the database refuses bad requests (unknown rule sets...) at insert, so the bad input
    # here is the round itself: more terms than the engine plans
    bad = await make_round(terms=14, weeks=3)
    worker = start_worker()
    worker.wait_for_log(ready, 30)
    first = await insert_run(conn, good)
    assert (await wait_for_state(conn, first, FINAL_STATES, 60))["state"] == "COMPLETED"
    before = await conn.fetch("select id, label from job_lines order by id")
    runs_before = await conn.fetch(
        "select id, state, finished_at from allocation_planner_runs order by id"
    )

    bad_run = await insert_run(conn, bad)
    row = await wait_for_state(conn, bad_run, FINAL_STATES, 30)

    assert row["state"] == "FAILED"
    assert "the limit is 13 terms" in row["error"]
    assert row["error"].startswith("The allocation round cannot be planned as entered")
    failure = await wait_for_row(
        conn,
        "select context from planner_execution_logs where run_id = $1 and level = 'ERROR'",
        bad_run,
        timeout=10,
    )
    assert any("the limit is 13 terms" in p for p in failure["details"]["problems"])
    assert failure["worker_id"] == worker.worker_id
    assert await conn.fetch("select id, label from job_lines order by id") == before
    runs_after = await conn.fetch(
        "select id, state, finished_at from allocation_planner_runs where id <> $1 order by id",
        bad_run,
    )
    assert runs_after == [r for r in runs_before]

    # still serving: a good run after the bad one completes
    again = await insert_run(conn, good)
    assert (await wait_for_state(conn, again, FINAL_STATES, 60))["state"] == "COMPLETED"
    assert worker.alive()


async def test_runs_inserted_before_the_worker_started_are_processed(
    conn, empty_queue, make_round, start_worker
):
    rounds = [await make_round() for _ in range(2)]
    run_ids = [await insert_run(conn, rnd) for rnd in rounds]

    start_worker(PLANNER_POLL_INTERVAL_S="300")  # the start-up claim pass must find them

    for run_id in run_ids:
        row = await wait_for_state(conn, run_id, FINAL_STATES, 90)
        assert row["state"] == "COMPLETED", row["error"]


async def test_progress_is_visible_during_a_long_solve(conn, empty_queue, make_round, start_worker):
    rnd = await long_round(conn)
    worker = start_worker()
    worker.wait_for_log(ready, 30)
    run_id = await insert_run(conn, rnd, params=LONG_PARAMS)
    await wait_for_state(conn, run_id, ["GENERATING"], 10)

    progress = await wait_for_row(
        conn,
        "select progress from allocation_planner_runs where id = $1 and state = 'GENERATING' "
        "and (progress ->> 'elapsed_s')::float >= 1",
        run_id,
        timeout=20,
    )

    assert 0 <= progress["percent"] <= 100
    assert {"elapsed_s", "objective", "bound", "solutions", "phase"} <= set(progress)
    await conn.execute(
        "update allocation_planner_runs set state = 'CANCELLED' where id = $1", run_id
    )


async def test_cancellation_stops_the_solve_within_two_seconds_and_writes_nothing(
    conn, empty_queue, make_round, start_worker
):
    rnd = await long_round(conn)
    worker = start_worker(PLANNER_HEARTBEAT_S="30")  # the notification, not the heartbeat, must act
    worker.wait_for_log(ready, 30)
    run_id = await insert_run(conn, rnd, params=LONG_PARAMS)
    worker.wait_for_log(lambda r: r["message"].startswith("Solving in child process"), 20)
    await wait_for_progress(conn, run_id)

    lines_before = await round_lines(conn, rnd)
    history_before = await conn.fetchval("select count(*) from job_lines_history")
    cancelled_at = time.monotonic()
    await conn.execute(
        "update allocation_planner_runs set state = 'CANCELLED' where id = $1", run_id
    )
    stopped = worker.wait_for_log(
        lambda r: (
            r.get("run_id") == str(run_id) and r["message"] == "Solve stopped; nothing written"
        ),
        5,
    )

    assert stopped["_received"] - cancelled_at < 2.0
    row = await conn.fetchrow(
        "select state, result, error from allocation_planner_runs where id = $1", run_id
    )
    assert (row["state"], row["result"], row["error"]) == ("CANCELLED", None, None)
    assert await round_lines(conn, rnd) == lines_before  # the current lines, untouched
    assert await conn.fetchval("select count(*) from job_lines_history") == history_before
    assert worker.alive()


async def test_sigterm_releases_a_long_solve_to_pending(
    conn, empty_queue, make_round, start_worker
):
    rnd = await long_round(conn)
    worker = start_worker(PLANNER_SHUTDOWN_GRACE_S="1")
    worker.wait_for_log(ready, 30)
    run_id = await insert_run(conn, rnd, params=LONG_PARAMS)
    worker.wait_for_log(lambda r: r["message"].startswith("Solving in child process"), 20)

    worker.signal(signal.SIGTERM)
    exit_code = worker.wait_exit(20)

    assert exit_code == 0
    row = await conn.fetchrow(
        "select state, worker_id, attempt from allocation_planner_runs where id = $1", run_id
    )
    assert (row["state"], row["worker_id"], row["attempt"]) == ("PENDING", None, 1)
    assert "Released the run to PENDING for another worker" in worker.messages(run_id)
    await conn.execute(
        "update allocation_planner_runs set state = 'CANCELLED' where id = $1", run_id
    )


async def test_a_killed_solver_child_fails_the_run_and_the_worker_survives(
    conn, empty_queue, make_round, start_worker
):
    rnd = await long_round(conn)
    worker = start_worker()
    worker.wait_for_log(ready, 30)
    run_id = await insert_run(conn, rnd, params=LONG_PARAMS)
    started = worker.wait_for_log(lambda r: r["message"].startswith("Solving in child process"), 20)

    os.kill(started["child_pid"], signal.SIGKILL)
    row = await wait_for_state(conn, run_id, FINAL_STATES, 10)

    assert row["state"] == "FAILED"
    assert "killed by SIGKILL" in row["error"]
    other = await make_round()
    follow_up = await insert_run(conn, other)
    assert (await wait_for_state(conn, follow_up, FINAL_STATES, 60))["state"] == "COMPLETED"


async def test_a_second_sigterm_exits_at_once_and_kills_the_solver(conn, empty_queue, start_worker):
    rnd = await long_round(conn)
    worker = start_worker(PLANNER_SHUTDOWN_GRACE_S="60")
    worker.wait_for_log(ready, 30)
    await insert_run(conn, rnd, params=LONG_PARAMS)
    started = worker.wait_for_log(lambda r: r["message"].startswith("Solving in child process"), 20)

    worker.signal(signal.SIGTERM)
    worker.wait_for_log(lambda r: r["message"].startswith("SIGTERM received"), 5)
    worker.signal(signal.SIGTERM)

    assert worker.wait_exit(5) == 128 + signal.SIGTERM
    assert await process_dies(started["child_pid"], timeout=2)


async def test_a_cancellation_naming_another_organisation_is_refused(
    conn, empty_queue, start_worker
):
    rnd = await long_round(conn)
    worker = start_worker()
    worker.wait_for_log(ready, 30)
    run_id = await insert_run(conn, rnd, params=LONG_PARAMS)
    worker.wait_for_log(lambda r: r["message"].startswith("Solving in child process"), 20)

    forged = json.dumps({"run_id": str(run_id), "organization_id": str(uuid.uuid4())})
    await conn.execute("select pg_notify('planner_cancellations', $1)", forged)
    refused = worker.wait_for_log(
        lambda r: r["message"].startswith("Refused a cancellation notification"), 5
    )

    assert refused["run_id"] == str(run_id)
    assert "Solve stopped; nothing written" not in worker.messages(run_id)
    row = await conn.fetchrow(
        "select state, worker_id from allocation_planner_runs where id = $1", run_id
    )
    assert (row["state"], row["worker_id"]) == ("GENERATING", worker.worker_id)
    await conn.execute(
        "update allocation_planner_runs set state = 'CANCELLED' where id = $1", run_id
    )


async def ids_and_lines(conn, rnd) -> dict[str, tuple[uuid.UUID, dict[int, str]]]:
    """{label: (job_lines id, {term: unit code})} of the round."""
    out: dict[str, tuple[uuid.UUID, dict[int, str]]] = {}
    for row in await conn.fetch(
        "select j.id, j.label, r.term_ordinal, u.code from job_lines j "
        "join rotations r on r.job_line_id = j.id join units u on u.id = r.unit_id "
        "where j.allocation_run_id = $1",
        rnd.allocation_run_id,
    ):
        out.setdefault(row["label"], (row["id"], {}))[1][row["term_ordinal"]] = row["code"]
    return out


async def add_current_line(conn, rnd, label: str, units: dict[int, str]) -> None:
    """A manager's edit between regenerates: one more unlocked current line."""
    line_id = await conn.fetchval(
        "insert into job_lines (organization_id, allocation_run_id, label) values ($1, $2, $3) "
        "returning id",
        rnd.organization_id,
        rnd.allocation_run_id,
        label,
    )
    for term, code in units.items():
        await conn.execute(
            "insert into rotations (organization_id, allocation_run_id, job_line_id, "
            "term_ordinal, unit_id) values ($1, $2, $3, $4, $5)",
            rnd.organization_id,
            rnd.allocation_run_id,
            line_id,
            term,
            rnd.units[code],
        )


async def regenerate(conn, rnd, before) -> dict:
    """A run of the round by the real worker; its change report checked against the rows."""
    run_id = await insert_run(conn, rnd)
    row = await wait_for_state(conn, run_id, FINAL_STATES, 60)
    assert row["state"] == "COMPLETED", row["error"]
    changes = row["result"]["changes"]
    assert changes["totals"]["changed_rotations"] == row["result"]["objective"]["changed_rotations"]
    after = await ids_and_lines(conn, rnd)
    for change in changes["lines"]:
        label, status = change["label"], change["status"]
        if status in ("kept", "changed"):  # the same row, under the same label
            assert change["previous_label"] == label
            assert after[label][0] == before[label][0], change
            assert (after[label][1] == before[label][1]) == (status == "kept"), change
        elif status == "new":
            assert label not in before and after[label][0] not in {i for i, _ in before.values()}
        else:
            assert label not in after
    assert sorted(after) == sorted(c["label"] for c in changes["lines"] if c["status"] != "removed")
    return changes


def count(changes: dict, status: str) -> int:
    return changes["totals"][status]


async def test_regenerates_keep_each_line_id_and_label_and_an_undo_brings_them_back(
    conn, empty_queue, make_round, start_worker
):
    rnd = await make_round()  # 4 units x 4 terms, exactly one line per unit and term
    worker = start_worker()
    worker.wait_for_log(ready, 30)
    first = await insert_run(conn, rnd)
    assert (await wait_for_state(conn, first, FINAL_STATES, 60))["state"] == "COMPLETED"
    lines = await ids_and_lines(conn, rnd)
    a, b, c, _ = sorted(lines)

    # edits: line a doubles b's term-1 unit, and a copy of c: 5 current lines for 4 places
    await conn.execute(
        "update rotations set unit_id = $1 where job_line_id = $2 and term_ordinal = 1",
        rnd.units[lines[b][1][1]],
        lines[a][0],
    )
    await add_current_line(conn, rnd, "X-COPY", lines[c][1])
    before_second = await ids_and_lines(conn, rnd)
    changes = await regenerate(conn, rnd, before_second)
    assert count(changes, "changed") >= 1 and count(changes, "removed") >= 1

    # a line deleted by hand: the third run adds one under a fresh label
    after_second = await ids_and_lines(conn, rnd)
    await conn.execute("delete from job_lines where id = $1", after_second[b][0])
    before_third = await ids_and_lines(conn, rnd)
    changes = await regenerate(conn, rnd, before_third)
    assert count(changes, "new") == 1 and count(changes, "kept") == 3

    # undo the third run: the same rows as before it, ids included
    history = await conn.fetchval(
        "select h.id from job_lines_history h join allocation_planner_runs r "
        "on r.id = h.planner_run_id where r.allocation_run_id = $1 "
        "order by h.created_at desc limit 1",
        rnd.allocation_run_id,
    )
    await conn.fetchval("select planner.restore_snapshot($1)", history)
    assert await ids_and_lines(conn, rnd) == before_third
    assert worker.alive()
