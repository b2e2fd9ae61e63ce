"""Small helpers shared by the database tests."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg


@asynccontextmanager
async def as_user(
    conn: asyncpg.Connection, user_id: uuid.UUID | None, role: str = "authenticated"
) -> AsyncIterator[None]:
    """Act as PostgREST would for this user (or anon), inside a transaction that is rolled back."""
    claims = {"role": role} | ({"sub": str(user_id)} if user_id else {})
    tx = conn.transaction()
    await tx.start()
    try:
        await conn.execute(f"set local role {role}")
        await conn.execute("select set_config('request.jwt.claims', $1, true)", json.dumps(claims))
        yield
    finally:
        await tx.rollback()


async def insert_run(
    conn: asyncpg.Connection, rnd, constraints=("VIC_PGY2",), params=None
) -> uuid.UUID:
    return await conn.fetchval(
        """insert into allocation_planner_runs (organization_id, allocation_run_id,
               constraints, params)
           values ($1, $2, $3, $4) returning id""",
        rnd.organization_id,
        rnd.allocation_run_id,
        list(constraints),
        params or {},
    )


async def claim(conn: asyncpg.Connection, worker_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("select * from planner.claim_run($1)", worker_id)


async def run_row(conn: asyncpg.Connection, run_id: uuid.UUID) -> dict:
    return dict(await conn.fetchrow("select * from allocation_planner_runs where id = $1", run_id))


async def lines_of(conn: asyncpg.Connection, round_id: uuid.UUID) -> dict[str, dict[int, str]]:
    """{label: {term: unit code}} for every line of the round."""
    rows = await conn.fetch(
        """select j.label, r.term_ordinal, u.code from job_lines j
           left join rotations r on r.job_line_id = j.id left join units u on u.id = r.unit_id
           where j.allocation_run_id = $1""",
        round_id,
    )
    out: dict[str, dict[int, str]] = {}
    for row in rows:
        line = out.setdefault(row["label"], {})
        if row["term_ordinal"] is not None:
            line[row["term_ordinal"]] = row["code"]
    return out


async def add_line(
    conn, rnd, label: str, units: dict[int, str], *, locked=False, locked_terms=()
) -> uuid.UUID:
    line_id = await conn.fetchval(
        """insert into job_lines (organization_id, allocation_run_id, label, locked)
           values ($1, $2, $3, $4) returning id""",
        rnd.organization_id,
        rnd.allocation_run_id,
        label,
        locked,
    )
    for term, code in units.items():
        await conn.execute(
            """insert into rotations (organization_id, allocation_run_id, job_line_id,
                                    term_ordinal, unit_id, locked)
               values ($1, $2, $3, $4, $5, $6)""",
            rnd.organization_id,
            rnd.allocation_run_id,
            line_id,
            term,
            rnd.units[code],
            locked or term in locked_terms,
        )
    return line_id
