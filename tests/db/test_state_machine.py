"""Every transition of the run state machine, legal and illegal, as enforced by the trigger."""

from __future__ import annotations

import itertools

import asyncpg
import pytest

from .helpers import insert_run, run_row

pytestmark = pytest.mark.db

STATES = ["PENDING", "GENERATING", "COMPLETED", "INFEASIBLE", "FAILED", "CANCELLED"]
LEGAL = {
    ("PENDING", "GENERATING"),
    ("GENERATING", "COMPLETED"),
    ("GENERATING", "INFEASIBLE"),
    ("GENERATING", "FAILED"),
    ("GENERATING", "PENDING"),
    ("PENDING", "CANCELLED"),
    ("GENERATING", "CANCELLED"),
}
# how to reach each state from a fresh PENDING run, through legal steps only
PATH = {
    "PENDING": [],
    "GENERATING": ["GENERATING"],
    "COMPLETED": ["GENERATING", "COMPLETED"],
    "INFEASIBLE": ["GENERATING", "INFEASIBLE"],
    "FAILED": ["GENERATING", "FAILED"],
    "CANCELLED": ["CANCELLED"],
}


async def set_state(conn: asyncpg.Connection, run_id, state: str) -> None:
    await conn.execute(
        """update allocation_planner_runs
              set state = $2, worker_id = coalesce(worker_id, 'w1'),
                  heartbeat_at = coalesce(heartbeat_at, now())
            where id = $1""",
        run_id,
        state,
    )


@pytest.mark.parametrize(("old", "new"), [p for p in itertools.permutations(STATES, 2)])
async def test_transition(conn, make_round, old, new):
    rnd = await make_round(units=())
    run_id = await insert_run(conn, rnd)
    for step in PATH[old]:
        await set_state(conn, run_id, step)
    assert (await run_row(conn, run_id))["state"] == old

    if (old, new) in LEGAL:
        await set_state(conn, run_id, new)
        row = await run_row(conn, run_id)
        assert row["state"] == new
        # terminal states are stamped; a released run is not
        assert (row["finished_at"] is not None) == (new not in ("PENDING", "GENERATING"))
    else:
        with pytest.raises(asyncpg.CheckViolationError, match=f"{old} -> {new}"):
            await set_state(conn, run_id, new)
        assert (await run_row(conn, run_id))["state"] == old


@pytest.mark.parametrize("state", STATES[1:])
async def test_insert_only_as_pending(conn, make_round, state):
    rnd = await make_round(units=())
    with pytest.raises(asyncpg.CheckViolationError, match=f"inserted as PENDING, not {state}"):
        await conn.execute(
            """insert into allocation_planner_runs (organization_id, allocation_run_id, state,
                   worker_id, heartbeat_at)
               values ($1, $2, $3, 'w', now())""",
            rnd.organization_id,
            rnd.allocation_run_id,
            state,
        )
