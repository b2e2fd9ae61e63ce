"""Shared fixtures: one throwaway, Supabase-shaped PostgreSQL 15 cluster per test session
(bootstrap superuser `supabase_admin`, pg_cron preloaded, see listener/supabase_platform.sql),
every migration and the seed applied as the non-superuser `postgres`, as `supabase db push
--include-seed` does on Supabase.

Fixtures:
  pg_cluster   LocalPostgres (session): `.dsn`, `.admin_dsn`, `.dsn_for()`, `.restart()`...
  db_dsn       DSN of `postgres`, the non-superuser that owns the schema (session)
  admin_dsn    DSN of the superuser `supabase_admin`: only for what needs one (session)
  worker_dsn   DSN of the least-privilege `planner_worker` login role (session)
  conn         asyncpg connection as `postgres`, jsonb decoded to Python (function)
  make_round   async factory: a fresh organisation (or a new round in a given one) with
               terms, units, demand and admin/editor/viewer members -> `Round`
  empty_queue  cancels every PENDING/GENERATING run first (claims are global)
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import psycopg
import pytest

from listener.local_postgres import LocalPostgres, throwaway_postgres
from listener.migrations import apply_migrations

WORKER_PASSWORD = "planner-worker-test-password"

# A feasible default round (also under VIC_PGY2): 4 units x 4 terms, one line per unit and
# term, so four lines each doing every unit cover A-D, 4 subspecialties and 52 weeks.
DEFAULT_UNITS: tuple[dict[str, Any], ...] = (
    {
        "code": "ED",
        "specialty": "Emergency Medicine",
        "subspecialty": "Emergency Medicine",
        "experiences": ["A", "C"],
    },
    {
        "code": "GM",
        "specialty": "General Medicine",
        "subspecialty": "General Medicine",
        "experiences": ["A", "B"],
    },
    {
        "code": "SURG",
        "specialty": "Surgery",
        "subspecialty": "General Surgery",
        "experiences": ["C", "D"],
    },
    {
        "code": "PSYCH",
        "specialty": "Psychiatry",
        "subspecialty": "Adult Psychiatry",
        "experiences": ["B"],
    },
)


async def init_connection(conn: asyncpg.Connection) -> None:
    for name in ("json", "jsonb"):
        await conn.set_type_codec(name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[LocalPostgres]:
    with throwaway_postgres() as pg:
        apply_migrations(pg.dsn)
        yield pg


@pytest.fixture(scope="session")
def db_dsn(pg_cluster: LocalPostgres) -> str:
    return pg_cluster.dsn


@pytest.fixture(scope="session")
def admin_dsn(pg_cluster: LocalPostgres) -> str:
    return pg_cluster.admin_dsn


@pytest.fixture(scope="session")
def worker_dsn(pg_cluster: LocalPostgres) -> str:
    with psycopg.connect(pg_cluster.dsn, autocommit=True) as c:
        c.execute(f"alter role planner_worker password '{WORKER_PASSWORD}'")
    return pg_cluster.dsn_for("planner_worker", WORKER_PASSWORD)


@pytest.fixture
async def conn(db_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(db_dsn)
    await init_connection(connection)
    try:
        yield connection
    finally:
        await connection.close()


@pytest.fixture
async def empty_queue(conn: asyncpg.Connection) -> None:
    await conn.execute(
        "update allocation_planner_runs set state = 'CANCELLED' where state in ('PENDING', "
        "'GENERATING')"
    )


@dataclass
class Round:
    organization_id: uuid.UUID
    allocation_run_id: uuid.UUID
    units: dict[str, uuid.UUID]  # code -> id
    members: dict[str, uuid.UUID] = field(default_factory=dict)  # role -> auth user id

    @property
    def admin(self) -> uuid.UUID:
        return self.members["admin"]

    @property
    def editor(self) -> uuid.UUID:
        return self.members["editor"]

    @property
    def viewer(self) -> uuid.UUID:
        return self.members["viewer"]


@pytest.fixture
def make_round(conn: asyncpg.Connection):
    """`await make_round(organization_id=None, units=DEFAULT_UNITS, terms=4, weeks=13,
    min_lines=1, max_lines=1)`: units are dicts with at least `code` (the other unit columns
    default sensibly); every unit gets a demand row for every term."""

    async def factory(
        *,
        organization_id: uuid.UUID | None = None,
        units: tuple[dict[str, Any], ...] | list[dict[str, Any]] = DEFAULT_UNITS,
        terms: int = 4,
        weeks: int = 13,
        min_lines: int = 1,
        max_lines: int = 1,
        name: str = "Test round",
    ) -> Round:
        members: dict[str, uuid.UUID] = {}
        if organization_id is None:
            organization_id = await conn.fetchval(
                "insert into organizations (name) values ($1) returning id",
                f"Org {uuid.uuid4().hex[:8]}",
            )
            for role in ("admin", "editor", "viewer"):
                user_id = uuid.uuid4()
                await conn.execute(
                    "insert into auth.users (id, email, aud, role) values ($1, $2, "
                    "'authenticated', 'authenticated')",
                    user_id,
                    f"{role}-{user_id.hex[:8]}@example.test",
                )
                await conn.execute(
                    "insert into organization_members (organization_id, user_id, role) "
                    "values ($1, $2, $3)",
                    organization_id,
                    user_id,
                    role,
                )
                members[role] = user_id
        else:
            rows = await conn.fetch(
                "select role, user_id from organization_members where organization_id = $1",
                organization_id,
            )
            members = {r["role"]: r["user_id"] for r in rows}
        round_id = await conn.fetchval(
            "insert into allocation_runs (organization_id, name) values ($1, $2) returning id",
            organization_id,
            name,
        )
        await conn.execute(
            """insert into plan_terms (organization_id, allocation_run_id, ordinal, name, weeks)
               select $1, $2, t, 'Term ' || t, $3 from generate_series(1, $4::int) t""",
            organization_id,
            round_id,
            weeks,
            terms,
        )
        unit_ids: dict[str, uuid.UUID] = {}
        for unit in units:
            spec = {
                "name": unit["code"],
                "specialty": unit["code"],
                "subspecialty": unit["code"],
                "experiences": [],
                "kind": "clinical",
                "nights": False,
                "span_terms": 1,
                "leave_weeks": 0,
                **unit,
            }
            unit_ids[unit["code"]] = await conn.fetchval(
                """insert into units (organization_id, allocation_run_id, code, name, specialty,
                       subspecialty, experiences, kind, nights, span_terms, leave_weeks)
                   values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) returning id""",
                organization_id,
                round_id,
                spec["code"],
                spec["name"],
                spec["specialty"],
                spec["subspecialty"],
                spec["experiences"],
                spec["kind"],
                spec["nights"],
                spec["span_terms"],
                spec["leave_weeks"],
            )
        await conn.execute(
            """insert into unit_demands (organization_id, allocation_run_id, unit_id, term_ordinal,
                   min_lines, max_lines)
               select $1, $2, u.id, t.ordinal, $3, $4
               from units u join plan_terms t on t.allocation_run_id = u.allocation_run_id
               where u.allocation_run_id = $2""",
            organization_id,
            round_id,
            min_lines,
            max_lines,
        )
        return Round(organization_id, round_id, unit_ids, members)

    return factory
