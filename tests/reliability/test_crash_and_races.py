"""Scenarios 1-4 and 9-11: crashes, restarts, stops, races and storms, with real worker
processes (`python -m listener`) and the session's real PostgreSQL.

The stale threshold is lowered through `planner_settings` (restored afterwards) and the
reaper is driven by calling `planner.reap_stale_runs()`, the very function pg_cron runs every
minute (`tests/db/test_cron.py` proves a real cron tick). Every wait is a bounded poll of a
row or of the worker's JSON log; nothing sleeps for a fixed time.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import signal
import time
import uuid
from typing import Any

import asyncpg
import pytest

from constraints.generator import generate_plan
from tests.conftest import init_connection
from tests.listener.conftest import (
    FINAL_STATES,
    process_dies,
    ready,
    wait_for_progress,
    wait_for_row,
    wait_for_state,
)
from tests.listener.plan_rounds import insert_plan_round, long_plan
from tests.reliability.conftest import (
    insert_run,
    reap_until,
    round_fingerprint,
    run_row,
)

pytestmark = [pytest.mark.reliability, pytest.mark.e2e, pytest.mark.db]

STALE_S = 3  # the lowered stale threshold (workers heartbeat every second)


@functools.cache
def medium_plan() -> dict:
    """60-line PGY2 round: solved to optimality in a few seconds."""
    return generate_plan("PGY2", 60, seed=1)


@functools.cache
def heaviest_plan() -> dict:
    """1000-line PGY2 round: the largest generated plan of the suites."""
    return generate_plan("PGY2", 1000, seed=1)


LONG_PARAMS = {"time_limit_s": 60, "seed": 0}


async def plan_run(conn, doc: dict, params: dict) -> tuple[Any, uuid.UUID]:
    rnd = await insert_plan_round(conn, doc)
    run_id = await insert_run(conn, rnd, constraints=doc["constraints"], params=params)
    return rnd, run_id


def solving(run_id: uuid.UUID):
    return lambda r: (
        r.get("run_id") == str(run_id) and r["message"].startswith("Solving in child process")
    )


def about(run_id: uuid.UUID, *prefixes: str):
    return lambda r: r.get("run_id") == str(run_id) and r["message"].startswith(prefixes)


async def lines_of_run(conn, run_id: uuid.UUID) -> int:
    return await conn.fetchval("select count(*) from job_lines where planner_run_id = $1", run_id)


async def timeout_logs(conn, run_id: uuid.UUID) -> list[dict]:
    rows = await conn.fetch(
        "select level, message, context from planner_execution_logs "
        "where run_id = $1 and context ->> 'error' = 'Timeout'",
        run_id,
    )
    return [dict(r) for r in rows]


async def mid_solve(conn, worker, run_id: uuid.UUID) -> dict:
    """Wait until the run is solving in a child and its progress is on the row."""
    started = worker.wait_for_log(solving(run_id), 30)
    await wait_for_progress(conn, run_id)
    return started


async def quick_run_completes(conn, make_round, worker, ledger) -> None:
    """The worker still serves: a small round's run completes, by this worker."""
    rnd = await make_round()
    run_id = ledger.track(await insert_run(conn, rnd), expect="COMPLETED")
    row = await wait_for_state(conn, run_id, FINAL_STATES, 60)
    assert row["state"] == "COMPLETED", row["error"]
    assert row["worker_id"] == worker.worker_id
    assert worker.alive()


def assert_reaped(row: dict, worker_id: str) -> None:
    assert row["state"] == "FAILED"
    assert row["error"].startswith(f"Timeout: no heartbeat from worker {worker_id}"), row["error"]


# -- 1. SIGKILL mid-solve --------------------------------------------------------------------


async def test_sigkill_mid_solve_is_reaped_as_timeout_with_no_partial_lines(
    conn, empty_queue, start_worker, planner_settings, reliability_ledger
):
    rnd, run_id = await plan_run(conn, long_plan(), LONG_PARAMS)
    reliability_ledger.track(run_id, expect="FAILED")
    before = await round_fingerprint(conn, rnd.allocation_run_id)
    worker = start_worker()
    started = await mid_solve(conn, worker, run_id)
    # max_attempts=1: this attempt is the last, so the reaper fails it (no retry)
    await planner_settings.set(stale_after=f"{STALE_S} seconds", max_attempts=1)

    worker.signal(signal.SIGKILL)
    killed_at = time.monotonic()
    assert worker.wait_exit(5) == -signal.SIGKILL
    # The solve child notices its parent is gone (its pipe closes) and exits too.
    assert await process_dies(started["child_pid"], 10)
    # Heart-beaten within the last second: not stale yet, so the reaper must leave it alone.
    assert await conn.fetchval("select planner.reap_stale_runs()") == 0
    assert (await run_row(conn, run_id))["state"] == "GENERATING"

    row, _ = await reap_until(conn, run_id, STALE_S + 10)
    reaped_after = time.monotonic() - killed_at

    assert_reaped(row, worker.worker_id)
    assert reaped_after <= STALE_S + 1.5, reaped_after  # within the threshold (+ one poll)
    silence = (row["finished_at"] - row["heartbeat_at"]).total_seconds()
    assert STALE_S <= silence < STALE_S + 1.5
    [log] = await timeout_logs(conn, run_id)
    assert log["level"] == "ERROR"
    assert log["context"]["worker_id"] == worker.worker_id and log["context"]["attempt"] == 1
    assert await lines_of_run(conn, run_id) == 0
    assert await round_fingerprint(conn, rnd.allocation_run_id) == before
    # Reaping is idempotent: the run is no longer GENERATING.
    assert await conn.fetchval("select planner.reap_stale_runs()") == 0


# -- 2. restart with the same worker id --------------------------------------------------------


async def test_restart_with_the_same_worker_id_never_adopts_the_old_run(
    conn, empty_queue, make_round, start_worker, planner_settings, reliability_ledger
):
    worker_id = f"crashy-{uuid.uuid4().hex[:8]}"
    rnd, old_run = await plan_run(conn, long_plan(), LONG_PARAMS)
    reliability_ledger.track(old_run, expect="FAILED")
    before = await round_fingerprint(conn, rnd.allocation_run_id)
    first = start_worker(PLANNER_WORKER_ID=worker_id)
    started = await mid_solve(conn, first, old_run)
    first.signal(signal.SIGKILL)
    first.wait_exit(5)
    assert await process_dies(started["child_pid"], 10)
    frozen = await run_row(conn, old_run)

    second = start_worker(PLANNER_WORKER_ID=worker_id)
    second.wait_for_log(ready, 30)
    # The restarted process works normally (claims, heartbeats, completes) ...
    await quick_run_completes(conn, make_round, second, reliability_ledger)

    # ... but never touched the old attempt: same heartbeat, same attempt, still GENERATING.
    row = await run_row(conn, old_run)
    assert row["state"] == "GENERATING"
    assert (row["heartbeat_at"], row["attempt"], row["progress"]) == (
        frozen["heartbeat_at"],
        1,
        frozen["progress"],
    )
    assert second.messages(old_run) == []

    # The database reaper handles it.
    # max_attempts=1: this attempt is the last, so the reaper fails it (no retry)
    await planner_settings.set(stale_after=f"{STALE_S} seconds", max_attempts=1)
    row, _ = await reap_until(conn, old_run, STALE_S + 10)
    assert_reaped(row, worker_id)
    assert row["attempt"] == 1
    assert len(await timeout_logs(conn, old_run)) == 1
    assert await lines_of_run(conn, old_run) == 0
    assert await round_fingerprint(conn, rnd.allocation_run_id) == before
    # The restarted worker carries on, and still never mentions the old run.
    await quick_run_completes(conn, make_round, second, reliability_ledger)
    assert second.messages(old_run) == []


# -- 3. SIGSTOP past the threshold ------------------------------------------------------------


async def test_sigstop_past_the_threshold_then_sigcont_writes_nothing(
    conn, empty_queue, make_round, start_worker, planner_settings, reliability_ledger
):
    worker = start_worker()
    worker.wait_for_log(ready, 30)
    # max_attempts=1: this attempt is the last, so the reaper fails it (no retry)
    await planner_settings.set(stale_after=f"{STALE_S} seconds", max_attempts=1)

    # (a) Stopped mid-solve: after SIGCONT its next heartbeat is refused; it stops the solve.
    rnd_a, run_a = await plan_run(conn, long_plan(), LONG_PARAMS)
    reliability_ledger.track(run_a, expect="FAILED")
    before_a = await round_fingerprint(conn, rnd_a.allocation_run_id)
    started = await mid_solve(conn, worker, run_a)
    worker.signal(signal.SIGSTOP)
    try:
        reaped, _ = await reap_until(conn, run_a, STALE_S + 10)
    finally:
        worker.signal(signal.SIGCONT)
    assert_reaped(reaped, worker.worker_id)
    worker.wait_for_log(about(run_a, "Run is no longer ours"), 10)
    worker.wait_for_log(about(run_a, "Solve stopped; nothing written"), 10)
    assert await process_dies(started["child_pid"], 10)
    assert await run_row(conn, run_a) == reaped  # nothing written after the reap
    assert await round_fingerprint(conn, rnd_a.allocation_run_id) == before_a
    # The worker's own account of it reached the run's logs.
    await wait_for_row(
        conn,
        "select count(*) from planner_execution_logs where run_id = $1 "
        "and message like 'Run is no longer ours%' and context ->> 'worker_id' = $2",
        run_a,
        worker.worker_id,
        timeout=10,
    )

    # (b) Stopped while the solve finishes: the result waits in the pipe; after SIGCONT the
    # worker's first word (heartbeat or complete_run) is refused and nothing is written.
    rnd_b, run_b = await plan_run(conn, medium_plan(), {"time_limit_s": 60, "seed": 0})
    reliability_ledger.track(run_b, expect="FAILED")
    before_b = await round_fingerprint(conn, rnd_b.allocation_run_id)
    started = worker.wait_for_log(solving(run_b), 30)
    worker.signal(signal.SIGSTOP)
    try:
        assert await process_dies(started["child_pid"], 60), "the solve did not finish"
        reaped, _ = await reap_until(conn, run_b, STALE_S + 10)
    finally:
        worker.signal(signal.SIGCONT)
    assert_reaped(reaped, worker.worker_id)
    refusal = worker.wait_for_log(
        about(run_b, "The database refused our complete_run", "Run is no longer ours"), 15
    )
    assert refusal["level"] == "WARNING"
    if refusal["message"].startswith("Run is no longer ours"):
        worker.wait_for_log(about(run_b, "Solve stopped; nothing written"), 10)
    assert "Run COMPLETED" not in " ".join(worker.messages(run_b))
    assert await run_row(conn, run_b) == reaped
    assert await round_fingerprint(conn, rnd_b.allocation_run_id) == before_b

    # The fence itself, with the worker's own identity: heartbeat and result both refused.
    assert not await conn.fetchval(
        "select planner.heartbeat($1, $2, 1, '{\"elapsed_s\": 1}')", run_b, worker.worker_id
    )
    # An empty payload would delete every unlocked line of the round, were it accepted.
    assert not await conn.fetchval(
        "select planner.complete_run($1, $2, 1, '[]', '{}')", run_b, worker.worker_id
    )
    assert not await conn.fetchval(
        "select planner.finish_run($1, $2, 1, 'FAILED', null, 'late')", run_b, worker.worker_id
    )
    assert await run_row(conn, run_b) == reaped
    assert await round_fingerprint(conn, rnd_b.allocation_run_id) == before_b

    # (c) It goes on: the next run completes.
    await quick_run_completes(conn, make_round, worker, reliability_ledger)


# -- 4. reaper against completion (and against a fresh heartbeat) ------------------------------

# Four lines, each doing every unit once: meets the default round's demand (1 per unit/term).
UNITS = ("ED", "GM", "SURG", "PSYCH")
PAYLOAD = [
    {
        "label": f"L-{i + 1}",
        "rotations": [
            {"term": t + 1, "unit": UNITS[(i + t) % 4], "locked": False} for t in range(4)
        ],
    }
    for i in range(4)
]


async def connect(dsn: str) -> asyncpg.Connection:
    c = await asyncpg.connect(dsn)
    await init_connection(c)
    return c


async def stale_claim(conn, make_round, worker_id: str, *, age: str = "1 hour") -> dict:
    """A fresh round's run, claimed by `worker_id`, whose last heartbeat is `age` old."""
    rnd = await make_round()
    run_id = await insert_run(conn, rnd)
    claimed = await conn.fetchrow("select * from planner.claim_run($1)", worker_id)
    assert claimed is not None and claimed["id"] == run_id
    await conn.execute(
        f"update allocation_planner_runs set heartbeat_at = now() - interval '{age}' where id = $1",
        run_id,
    )
    return {"id": run_id, "round": rnd, "worker_id": worker_id, "attempt": claimed["attempt"]}


async def waits_on_a_lock(conn, pid: int, timeout: float = 10) -> None:
    await wait_for_row(
        conn,
        "select wait_event_type = 'Lock' from pg_stat_activity where pid = $1",
        pid,
        timeout=timeout,
    )


def complete_sql(run: dict) -> tuple[str, tuple]:
    return (
        'select planner.complete_run($1, $2, $3, $4, \'{"status": "OPTIMAL"}\')',
        (run["id"], run["worker_id"], run["attempt"], PAYLOAD),
    )


async def assert_consistent(conn, run: dict, completed: bool) -> str:
    """The run is COMPLETED with its lines and one snapshot, or reaped with nothing."""
    row = await run_row(conn, run["id"])
    lines = await lines_of_run(conn, run["id"])
    snapshots = await conn.fetchval(
        "select count(*) from job_lines_history where planner_run_id = $1", run["id"]
    )
    timeouts = len(await timeout_logs(conn, run["id"]))
    if completed:
        assert (row["state"], lines, snapshots, timeouts) == ("COMPLETED", 4, 1, 0), row
    else:
        assert (row["state"], lines, snapshots, timeouts) == ("FAILED", 0, 0, 1), row
        assert row["error"].startswith("Timeout")
    return row["state"]


async def test_a_completion_holding_the_row_wins_over_the_reaper(
    conn, db_dsn, empty_queue, make_round, planner_settings, reliability_ledger
):
    # max_attempts=1: this attempt is the last, so the reaper fails it (no retry)
    await planner_settings.set(stale_after="2 seconds", max_attempts=1)
    writer, reaper = await connect(db_dsn), await connect(db_dsn)
    try:
        # complete_run first (row locked, not committed): the reaper waits, then skips it.
        run = await stale_claim(conn, make_round, "race-a")
        reliability_ledger.track(run["id"], expect="COMPLETED")
        tx = writer.transaction()
        await tx.start()
        sql, args = complete_sql(run)
        assert await writer.fetchval(sql, *args) is True
        reaping = asyncio.ensure_future(reaper.fetchval("select planner.reap_stale_runs()"))
        await waits_on_a_lock(conn, reaper.get_server_pid())
        await tx.commit()
        assert await asyncio.wait_for(reaping, 10) == 0
        await assert_consistent(conn, run, completed=True)

        # The reaper first (row locked, not committed): complete_run waits, then is refused.
        run = await stale_claim(conn, make_round, "race-b")
        reliability_ledger.track(run["id"], expect="FAILED")
        tx = reaper.transaction()
        await tx.start()
        assert await reaper.fetchval("select planner.reap_stale_runs()") == 1
        sql, args = complete_sql(run)
        completing = asyncio.ensure_future(writer.fetchval(sql, *args))
        await waits_on_a_lock(conn, writer.get_server_pid())
        await tx.commit()
        assert await asyncio.wait_for(completing, 10) is False
        await assert_consistent(conn, run, completed=False)

        # A heartbeat holding the row: the reaper re-checks the fresh heartbeat and skips it.
        run = await stale_claim(conn, make_round, "race-c")
        reliability_ledger.track(run["id"], expect="CANCELLED")
        tx = writer.transaction()
        await tx.start()
        assert await writer.fetchval(
            "select planner.heartbeat($1, $2, $3)", run["id"], run["worker_id"], run["attempt"]
        )
        reaping = asyncio.ensure_future(reaper.fetchval("select planner.reap_stale_runs()"))
        await waits_on_a_lock(conn, reaper.get_server_pid())
        await tx.commit()
        assert await asyncio.wait_for(reaping, 10) == 0
        row = await run_row(conn, run["id"])
        assert row["state"] == "GENERATING" and await timeout_logs(conn, run["id"]) == []
        # and a run heart-beaten just now is never stale
        assert await conn.fetchval("select planner.reap_stale_runs()") == 0
        await conn.execute(
            "update allocation_planner_runs set state = 'CANCELLED' where id = $1", run["id"]
        )
    finally:
        await writer.close()
        await reaper.close()


RACES = 30


async def test_reaper_and_completion_raced_concurrently(
    conn, db_dsn, empty_queue, make_round, planner_settings, reliability_ledger
):
    """Both sides sent at once on their own connections, many times: every run ends either
    COMPLETED with its lines (and the reaper skipped it) or reaped with nothing written."""
    # max_attempts=1: this attempt is the last, so the reaper fails it (no retry)
    await planner_settings.set(stale_after="2 seconds", max_attempts=1)
    writers = [await connect(db_dsn) for _ in range(2)]
    reapers = [await connect(db_dsn) for _ in range(2)]
    outcomes: dict[str, int] = {}
    try:
        for i in range(RACES):
            run = await stale_claim(conn, make_round, f"race-{i}")
            reliability_ledger.track(run["id"], expect=("COMPLETED", "FAILED"))
            sql, args = complete_sql(run)
            writer, reaper = writers[i % 2], reapers[i % 2]
            calls = [
                writer.fetchval(sql, *args),
                reaper.fetchval("select planner.reap_stale_runs()"),
            ]
            if i % 2:
                calls.reverse()
            results = await asyncio.gather(*calls)
            completed, reaped = results if i % 2 == 0 else results[::-1]
            assert (completed, reaped) in ((True, 0), (False, 1)), (completed, reaped)
            state = await assert_consistent(conn, run, completed=completed)
            outcomes[state] = outcomes.get(state, 0) + 1

        # Heartbeat against the reaper, same way: a refused heartbeat means reaped; an
        # accepted one means the run survives (the reaper never touches a fresh heartbeat).
        for i in range(RACES):
            run = await stale_claim(conn, make_round, f"beat-{i}")
            reliability_ledger.track(run["id"], expect=("CANCELLED", "FAILED"))
            writer, reaper = writers[i % 2], reapers[i % 2]
            beat = writer.fetchval(
                "select planner.heartbeat($1, $2, $3)", run["id"], run["worker_id"], run["attempt"]
            )
            reap = reaper.fetchval("select planner.reap_stale_runs()")
            owned, reaped = await asyncio.gather(beat, reap)
            row = await run_row(conn, run["id"])
            if owned:
                assert (reaped, row["state"]) == (0, "GENERATING"), row
                assert await conn.fetchval("select planner.reap_stale_runs()") == 0
                await conn.execute(
                    "update allocation_planner_runs set state = 'CANCELLED' where id = $1",
                    run["id"],
                )
            else:
                assert (reaped, row["state"]) == (1, "FAILED"), row
            outcomes[f"heartbeat {'won' if owned else 'lost'}"] = (
                outcomes.get(f"heartbeat {'won' if owned else 'lost'}", 0) + 1
            )
    finally:
        for c in writers + reapers:
            await c.close()
    print(f"race outcomes over {RACES} + {RACES} races: {outcomes}")
    assert sum(outcomes.values()) == 2 * RACES


# -- 9. claim storm -----------------------------------------------------------------------------

STORM_ORGS, STORM_ROUNDS, STORM_WORKERS, STORM_CONCURRENCY = 10, 10, 3, 2


async def test_claim_storm(
    conn, empty_queue, make_round, start_worker, planner_settings, reliability_ledger
):
    await planner_settings.set(max_runs_per_org_per_hour=1000)
    rounds = []
    for _ in range(STORM_ORGS):
        first = await make_round()
        rounds.append(first)
        for _ in range(STORM_ROUNDS - 1):
            rounds.append(await make_round(organization_id=first.organization_id))
    workers = [
        start_worker(PLANNER_CONCURRENCY=str(STORM_CONCURRENCY)) for _ in range(STORM_WORKERS)
    ]
    for worker in workers:
        worker.wait_for_log(ready, 30)

    # One transaction, organisation by organisation (each one's burst after the other's):
    # all 100 runs become PENDING at the same instant; created_at orders them as inserted.
    async with conn.transaction():
        run_ids = [
            r["id"]
            for r in await conn.fetch(
                """insert into allocation_planner_runs (organization_id, allocation_run_id,
                       constraints, params, created_at)
                   select o, a, '{VIC_PGY2}', '{"time_limit_s": 30, "seed": 0}', clock_timestamp()
                   from unnest($1::uuid[], $2::uuid[]) with ordinality as x(o, a, n)
                   order by n
                   returning id""",
                [r.organization_id for r in rounds],
                [r.allocation_run_id for r in rounds],
            )
        ]
        assert len(run_ids) == STORM_ORGS * STORM_ROUNDS
    reliability_ledger.track_many(run_ids, expect="COMPLETED")
    started = time.monotonic()

    deadline = started + 180
    while True:
        left = await conn.fetchval(
            "select count(*) from allocation_planner_runs where id = any($1::uuid[]) "
            "and state in ('PENDING', 'GENERATING')",
            run_ids,
        )
        if left == 0:
            break
        assert time.monotonic() < deadline, f"{left} runs not final after 180s"
        await asyncio.sleep(0.1)
    took = time.monotonic() - started

    rows = await conn.fetch(
        "select * from allocation_planner_runs where id = any($1::uuid[])", run_ids
    )
    worker_ids = {w.worker_id for w in workers}
    assert {r["state"] for r in rows} == {"COMPLETED"}, [r["error"] for r in rows if r["error"]]
    # Claimed exactly once: first attempt, by one of our workers, one claim log, one completion.
    assert {r["attempt"] for r in rows} == {1}
    assert {r["worker_id"] for r in rows} <= worker_ids
    claims = await wait_for_row(
        conn,
        """select array_agg(l.run_id) from planner_execution_logs l
           join allocation_planner_runs r on r.id = l.run_id
           where l.run_id = any($1::uuid[]) and l.message like 'Claimed run%'
             and l.context ->> 'worker_id' = r.worker_id
           having count(*) >= $2""",
        run_ids,
        len(run_ids),
        timeout=10,
    )
    assert sorted(claims) == sorted(run_ids)  # each run once, by the worker on its row
    completions = await conn.fetchval(
        "select count(distinct run_id) filter (where message like 'Run COMPLETED%') "
        "from planner_execution_logs where run_id = any($1::uuid[])",
        run_ids,
    )
    assert completions == len(run_ids)

    # Never more solves at once per worker than its concurrency: the claimed_at..finished_at
    # intervals of one worker (both stamped by the database) never overlap more than that.
    per_worker: dict[str, list[tuple[Any, int]]] = {}
    for r in rows:
        per_worker.setdefault(r["worker_id"], []).extend(
            [(r["claimed_at"], 1), (r["finished_at"], -1)]
        )
    peaks = {}
    for worker_id, events in per_worker.items():
        level = peak = 0
        for _, step in sorted(events, key=lambda e: (e[0], e[1])):  # ends before starts
            level += step
            peak = max(peak, level)
        peaks[worker_id] = peak
    assert max(peaks.values()) <= STORM_CONCURRENCY, peaks
    assert len(per_worker) == STORM_WORKERS, "every worker took part in the storm"

    # Fair: every organisation's first run was claimed before any organisation's third.
    by_org: dict[uuid.UUID, list] = {}
    for r in rows:
        by_org.setdefault(r["organization_id"], []).append(r["claimed_at"])
    claims_in_order = {org: sorted(times) for org, times in by_org.items()}
    last_first = max(times[0] for times in claims_in_order.values())
    earliest_third = min(times[2] for times in claims_in_order.values())
    assert last_first <= earliest_third, (last_first, earliest_third)
    print(
        f"claim storm: {len(run_ids)} runs, {STORM_WORKERS} workers x {STORM_CONCURRENCY}, "
        f"{took:.1f}s; per-worker runs "
        f"{sorted(sum(1 for r in rows if r['worker_id'] == w) for w in worker_ids)}, "
        f"peak concurrency {peaks}"
    )


# -- 10. SIGTERM mid-solve -----------------------------------------------------------------------


async def test_sigterm_commits_a_solve_that_finishes_within_the_grace_period(
    conn, empty_queue, make_round, start_worker, reliability_ledger
):
    _, run_id = await plan_run(conn, medium_plan(), {"time_limit_s": 60, "seed": 0})
    reliability_ledger.track(run_id, expect="COMPLETED")
    worker = start_worker(PLANNER_SHUTDOWN_GRACE_S="60")
    worker.wait_for_log(solving(run_id), 30)

    worker.signal(signal.SIGTERM)
    sigterm = worker.wait_for_log(lambda r: r["message"].startswith("SIGTERM received"), 5)
    # No new claims once stopping: a run inserted now stays PENDING.
    later = await insert_run(conn, await make_round())
    reliability_ledger.track(later, expect="CANCELLED")
    assert worker.wait_exit(60) == 0

    row = await run_row(conn, run_id)
    assert (row["state"], row["worker_id"], row["attempt"]) == (
        "COMPLETED",
        worker.worker_id,
        1,
    ), row["error"]
    completed = worker.wait_for_log(about(run_id, "Run COMPLETED"), 1)
    assert completed["_received"] > sigterm["_received"]
    terms = len(medium_plan()["terms"])
    fully_locked = [ln for ln in medium_plan()["locked_lines"] if len(ln["rotations"]) == terms]
    assert await lines_of_run(conn, run_id) == row["result"]["line_count"] - len(fully_locked)
    assert (await run_row(conn, later))["state"] == "PENDING"
    await conn.execute(
        "update allocation_planner_runs set state = 'CANCELLED' where id = $1", later
    )


async def test_sigterm_releases_a_long_solve_and_another_worker_completes_it(
    conn, empty_queue, start_worker, reliability_ledger
):
    rnd, run_id = await plan_run(conn, medium_plan(), {"time_limit_s": 60, "seed": 0})
    reliability_ledger.track(run_id, expect="COMPLETED")
    before = await round_fingerprint(conn, rnd.allocation_run_id)
    first = start_worker(PLANNER_SHUTDOWN_GRACE_S="0.5")
    started = first.wait_for_log(solving(run_id), 30)

    first.signal(signal.SIGTERM)
    assert first.wait_exit(20) == 0
    assert await process_dies(started["child_pid"], 5)
    row = await run_row(conn, run_id)
    assert (row["state"], row["worker_id"], row["attempt"]) == ("PENDING", None, 1)
    assert "Released the run to PENDING for another worker" in first.messages(run_id)
    assert await round_fingerprint(conn, rnd.allocation_run_id) == before  # nothing written

    second = start_worker()
    row = await wait_for_state(conn, run_id, FINAL_STATES, 90)
    assert (row["state"], row["worker_id"], row["attempt"]) == (
        "COMPLETED",
        second.worker_id,
        2,
    ), row["error"]
    snapshots = await conn.fetchval(
        "select count(*) from job_lines_history where planner_run_id = $1", run_id
    )
    assert snapshots == 1


async def test_a_second_sigterm_exits_at_once_and_the_run_is_reaped(
    conn, empty_queue, start_worker, planner_settings, reliability_ledger
):
    rnd, run_id = await plan_run(conn, long_plan(), LONG_PARAMS)
    reliability_ledger.track(run_id, expect="FAILED")
    before = await round_fingerprint(conn, rnd.allocation_run_id)
    worker = start_worker(PLANNER_SHUTDOWN_GRACE_S="60")
    started = await mid_solve(conn, worker, run_id)

    worker.signal(signal.SIGTERM)
    worker.wait_for_log(lambda r: r["message"].startswith("SIGTERM received"), 5)
    second_at = time.monotonic()
    worker.signal(signal.SIGTERM)
    assert worker.wait_exit(5) == 128 + signal.SIGTERM
    assert time.monotonic() - second_at < 2.0
    assert await process_dies(started["child_pid"], 2)

    # Nobody owns it now: the reaper fails it after the threshold, and nothing was written.
    # max_attempts=1: this attempt is the last, so the reaper fails it (no retry)
    await planner_settings.set(stale_after=f"{STALE_S} seconds", max_attempts=1)
    row, _ = await reap_until(conn, run_id, STALE_S + 10)
    assert_reaped(row, worker.worker_id)
    assert await round_fingerprint(conn, rnd.allocation_run_id) == before


# -- 11. event-loop starvation ------------------------------------------------------------------


async def test_heartbeats_keep_flowing_during_the_heaviest_solve(
    conn, empty_queue, start_worker, planner_settings, reliability_ledger
):
    stale_s = 4.0
    doc = heaviest_plan()
    _, run_id = await plan_run(conn, doc, {"time_limit_s": 15, "seed": 0})
    reliability_ledger.track(run_id, expect=("COMPLETED", "FAILED"))
    await planner_settings.set(stale_after=f"{stale_s} seconds")
    worker = start_worker()

    # Sample heartbeat_at on the row (database clock) while it is GENERATING, and run the
    # reaper alongside: a starved event loop would show as a gap, or as a reaped run.
    await wait_for_state(conn, run_id, ["GENERATING", *FINAL_STATES], 60)
    beats: list[Any] = []
    deadline = time.monotonic() + 120
    reaped = 0
    while time.monotonic() < deadline:
        reaped += await conn.fetchval("select planner.reap_stale_runs()")
        row = await run_row(conn, run_id)
        if row["state"] != "GENERATING":
            end = row["finished_at"]
            break
        if not beats or beats[-1] != row["heartbeat_at"]:
            beats.append(row["heartbeat_at"])
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the run did not finish in 120s")

    assert reaped == 0
    assert row["state"] in ("COMPLETED", "FAILED") and not (row["error"] or "").startswith(
        "Timeout"
    ), row
    points = [row["claimed_at"], *beats, end]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(points)]
    assert len(beats) >= 10, "the solve should span many heartbeats"
    assert max(gaps) < stale_s / 2, (max(gaps), gaps)
    solve_end = worker.wait_for_log(
        lambda r: r.get("run_id") == str(run_id) and "max_heartbeat_gap_s" in r, 30
    )
    assert solve_end["max_heartbeat_gap_s"] < stale_s / 2
    print(
        f"heaviest solve ({len(doc['locked_lines']) + len(doc['current_lines'])} current lines, "
        f"{len(doc['units'])} units): {len(beats)} heartbeats, largest gap on the row "
        f"{max(gaps):.3f}s, in the worker {solve_end['max_heartbeat_gap_s']}s "
        f"(threshold {stale_s}s)"
    )
