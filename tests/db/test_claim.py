"""claim_run: exactly-once under concurrency, fair across organisations."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from .helpers import claim, insert_run, run_row

pytestmark = [pytest.mark.db, pytest.mark.usefixtures("empty_queue")]


async def test_claim_sets_generating_and_returns_the_run(conn, make_round):
    rnd = await make_round()
    run_id = await insert_run(conn, rnd, constraints=("VIC_PGY2", "NO_NIGHTS"), params={"seed": 3})
    got = await claim(conn, "worker-1")
    assert dict(got) == {
        "id": run_id,
        "organization_id": rnd.organization_id,
        "allocation_run_id": rnd.allocation_run_id,
        "attempt": 1,
        "constraints": ["VIC_PGY2", "NO_NIGHTS"],
        "params": {"seed": 3},
    }
    row = await run_row(conn, run_id)
    assert row["state"] == "GENERATING" and row["worker_id"] == "worker-1"
    assert row["claimed_at"] is not None and row["heartbeat_at"] is not None
    assert await claim(conn, "worker-2") is None  # nothing else is PENDING


async def test_eight_concurrent_claimers_claim_200_runs_exactly_once(conn, worker_dsn):
    # 10 organisations x 20 rounds: within the one-active-run-per-round and per-hour guards
    created = {
        r["id"]
        for r in await conn.fetch(
            """with orgs as (insert into organizations (name) select 'Claim org ' || g
                             from generate_series(1, 10) g
                             returning id),
                    rounds as (insert into allocation_runs (organization_id, name)
                               select o.id, 'round ' || g from orgs o, generate_series(1, 20) g
                               returning organization_id, id)
               insert into allocation_planner_runs (organization_id, allocation_run_id)
               select organization_id, id from rounds returning id"""
        )
    }
    assert len(created) == 200

    async def claimer(c: asyncpg.Connection, n: int) -> list:
        got = []
        while (
            row := await c.fetchrow("select id from planner.claim_run($1)", f"w{n}")
        ) is not None:
            got.append((row["id"], f"w{n}"))
        return got

    # connect first (as the real least-privilege worker role), then race
    workers = [await asyncpg.connect(worker_dsn) for _ in range(8)]
    try:
        results = await asyncio.gather(*(claimer(c, n) for n, c in enumerate(workers)))
    finally:
        for c in workers:
            await c.close()
    claims = [c for per_worker in results for c in per_worker]
    assert len(claims) == 200
    assert {run_id for run_id, _ in claims} == created
    assert sum(1 for per_worker in results if per_worker) > 1  # they really competed
    owners = dict(
        await conn.fetch(
            "select id, worker_id from allocation_planner_runs where id = any($1)", list(created)
        )
    )
    assert owners == dict(claims)
    assert (
        await conn.fetchval(
            "select count(*) from allocation_planner_runs where id = any($1) and state = "
            "'GENERATING' and attempt = 1",
            list(created),
        )
        == 200
    )


async def test_burst_from_one_org_does_not_starve_another(conn, make_round):
    org_a = await make_round()
    a_runs = [await insert_run(conn, org_a)]
    for _ in range(19):
        rnd = await make_round(organization_id=org_a.organization_id, units=())
        a_runs.append(await insert_run(conn, rnd))
    org_b = await make_round()
    b_run = await insert_run(conn, org_b)

    first_two = [(await claim(conn, "w"))["id"] for _ in range(2)]
    assert b_run in first_two
    assert a_runs[0] in first_two  # and A's oldest run still goes first


async def test_org_already_generating_yields_to_others(conn, make_round):
    org_a = await make_round()
    await insert_run(conn, org_a)
    assert (await claim(conn, "w"))["organization_id"] == org_a.organization_id
    for _ in range(3):
        await insert_run(conn, await make_round(organization_id=org_a.organization_id, units=()))
    org_b = await make_round()
    b_run = await insert_run(conn, org_b)  # newest of all, yet next
    assert (await claim(conn, "w"))["id"] == b_run
