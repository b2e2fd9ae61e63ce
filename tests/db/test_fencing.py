"""Fencing: a worker that no longer owns its run (reaped, cancelled, re-claimed) can change
nothing, whichever API function it calls; the owner can."""

from __future__ import annotations

import pytest

from .helpers import add_line, claim, insert_run, lines_of, run_row

pytestmark = [pytest.mark.db, pytest.mark.usefixtures("empty_queue")]

PAYLOAD = [
    {
        "label": "N-1",
        "rotations": [
            {"term": t, "unit": u} for t, u in enumerate(["ED", "GM", "SURG", "PSYCH"], 1)
        ],
    }
]

CALLS = {
    "heartbeat": ("select planner.heartbeat($1, $2, $3, $4)", ({"percent": 50},)),
    "complete": (
        "select planner.complete_run($1, $2, $3, $4, $5)",
        (PAYLOAD, {"status": "OPTIMAL"}),
    ),
    "finish": ("select planner.finish_run($1, $2, $3, $4, $5, $6)", ("FAILED", None, "boom")),
    "release": ("select planner.release_run($1, $2, $3)", ()),
}


async def lose_ownership(conn, run_id, how: str) -> None:
    if how == "reap":
        await conn.execute(
            "update allocation_planner_runs set heartbeat_at = now() - interval '10 "
            "minutes' where id = $1",
            run_id,
        )
        assert await conn.fetchval("select planner.reap_stale_runs()") >= 1
    elif how == "cancel":
        await conn.execute(
            "update allocation_planner_runs set state = 'CANCELLED' where id = $1", run_id
        )
    else:  # handed back, then claimed again by the same worker id: only the attempt differs
        assert await conn.fetchval("select planner.release_run($1, 'w1', 1)", run_id)
        assert (await claim(conn, "w1"))["attempt"] == 2


@pytest.mark.parametrize("how", ["reap", "cancel", "reclaim"])
@pytest.mark.parametrize("call", list(CALLS))
async def test_stale_owner_is_refused(conn, make_round, call, how):
    rnd = await make_round()
    await add_line(conn, rnd, "OLD-1", {1: "GM", 2: "ED", 3: "PSYCH", 4: "SURG"})
    run_id = await insert_run(conn, rnd)
    assert (await claim(conn, "w1"))["attempt"] == 1
    await lose_ownership(conn, run_id, how)
    before = await run_row(conn, run_id)

    sql, extra = CALLS[call]
    assert await conn.fetchval(sql, run_id, "w1", 1, *extra) is False

    assert await run_row(conn, run_id) == before
    assert await lines_of(conn, rnd.allocation_run_id) == {
        "OLD-1": {1: "GM", 2: "ED", 3: "PSYCH", 4: "SURG"}
    }
    assert (
        await conn.fetchval(
            "select count(*) from job_lines_history where allocation_run_id = $1",
            rnd.allocation_run_id,
        )
        == 0
    )


async def test_reap_retries_then_fails_the_last_attempt_with_a_timeout_log(conn, make_round):
    # planner_settings.max_attempts defaults to 2 (…000500_planner_workers.sql): the first
    # stale heartbeat hands the run back to PENDING, the last attempt's ends it FAILED.
    rnd = await make_round()
    run_id = await insert_run(conn, rnd)
    await claim(conn, "w1")
    fresh = await insert_run(conn, await make_round())
    await claim(conn, "w2")
    make_stale = (
        "update allocation_planner_runs set heartbeat_at = now() - interval '3 minutes' "
        "where id = $1"
    )
    await conn.execute(make_stale, run_id)

    assert await conn.fetchval("select planner.reap_stale_runs()") == 1
    row = await run_row(conn, run_id)
    assert (row["state"], row["worker_id"], row["attempt"], row["error"]) == (
        "PENDING",
        None,
        1,
        None,
    )
    retry = await conn.fetchrow("select * from planner_execution_logs where run_id = $1", run_id)
    assert retry["level"] == "WARNING" and "w1" in retry["message"]
    assert retry["context"]["error"] == "Retry" and retry["context"]["attempt"] == 1
    assert (await run_row(conn, fresh))["state"] == "GENERATING"  # a live heartbeat is left alone

    assert (await claim(conn, "w3"))["attempt"] == 2
    await conn.execute(make_stale, run_id)
    assert await conn.fetchval("select planner.reap_stale_runs()") == 1
    row = await run_row(conn, run_id)
    assert row["state"] == "FAILED" and row["error"].startswith(
        "Timeout: no heartbeat from worker w3"
    )
    log = await conn.fetchrow(
        "select * from planner_execution_logs where run_id = $1 and level = 'ERROR'", run_id
    )
    assert log["organization_id"] == rnd.organization_id
    assert "Timeout" in log["message"] and log["context"]["error"] == "Timeout"
    assert log["context"]["attempt"] == 2
    assert await conn.fetchval("select planner.reap_stale_runs()") == 0


async def test_owner_calls_succeed(conn, make_round):
    rnd = await make_round()
    run_id = await insert_run(conn, rnd)
    await claim(conn, "w1")
    assert await conn.fetchval("select planner.heartbeat($1, 'w1', 1, $2)", run_id, {"percent": 40})
    assert (await run_row(conn, run_id))["progress"] == {"percent": 40}
    assert (
        await conn.fetchval("select planner.heartbeat($1, 'w2', 1, null)", run_id) is False
    )  # not w2's
    assert await conn.fetchval("select planner.release_run($1, 'w1', 1)", run_id)
    assert (await run_row(conn, run_id))["state"] == "PENDING"
    await claim(conn, "w2")
    assert await conn.fetchval(
        "select planner.finish_run($1, 'w2', 2, 'INFEASIBLE', $2, null)",
        run_id,
        {"explanation": ["Term 3"]},
    )
    row = await run_row(conn, run_id)
    assert row["state"] == "INFEASIBLE" and row["result"] == {"explanation": ["Term 3"]}


async def test_finish_run_accepts_only_infeasible_or_failed(conn, make_round):
    run_id = await insert_run(conn, await make_round())
    await claim(conn, "w1")
    with pytest.raises(Exception, match="INFEASIBLE or FAILED"):
        await conn.fetchval(
            "select planner.finish_run($1, 'w1', 1, 'COMPLETED', null, null)", run_id
        )
    assert (await run_row(conn, run_id))["state"] == "GENERATING"


async def test_write_logs_takes_the_organisation_from_the_run(conn, make_round):
    rnd = await make_round()
    run_id = await insert_run(conn, rnd)
    await claim(conn, "w1")
    other = await make_round()
    mine = {"run_id": str(run_id), "worker_id": "w1", "attempt": 1}
    written = await conn.fetchval(
        "select planner.write_logs($1)",
        [
            {
                **mine,
                "level": "info",
                "message": "solving",
                "context": {"lines": 4},
                "organization_id": str(other.organization_id),
                "created_at": "2020-01-01T00:00:00Z",
            },
            {**mine, "level": "ERROR", "message": "boom", "traceback": "Traceback..."},
            {**mine, "run_id": "00000000-0000-4000-8000-000000000000", "message": "unknown"},
            {**mine, "worker_id": "w2", "message": "not w2's run: dropped"},
            {**mine, "attempt": 2, "message": "not this attempt: dropped"},
            {"run_id": str(run_id), "message": "no fence: dropped"},
        ],
    )
    assert written == 2
    rows = await conn.fetch(
        "select * from planner_execution_logs where run_id = $1 order by level desc", run_id
    )
    assert [(r["level"], r["message"]) for r in rows] == [("INFO", "solving"), ("ERROR", "boom")]
    assert {r["organization_id"] for r in rows} == {rnd.organization_id}
    assert rows[0]["context"] == {"lines": 4, "worker_id": "w1", "attempt": 1}
    assert rows[1]["traceback"] == "Traceback..."
    assert all(r["created_at"].year > 2020 for r in rows)  # the database clock
    # the closing lines of a finished attempt still land: the claim ledger is the fence
    assert await conn.fetchval(
        "select planner.finish_run($1, 'w1', 1, 'FAILED', null, 'x')", run_id
    )
    assert await conn.fetchval("select planner.write_logs($1)", [{**mine, "message": "bye"}]) == 1
