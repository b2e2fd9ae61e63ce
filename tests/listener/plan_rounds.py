"""Put a plan-file document (DOMAIN.md) into the database as a new organisation's round.

The inverse of `planner.load_plan`: terms, units, demand, locked lines (a line locking every
term is a locked job line; one locking some terms is an unlocked line with locked
rotations) and current lines. Used for realistic, large rounds from the engine's generator.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from constraints.generator import Shape, generate_plan


@functools.cache
def long_plan() -> dict:
    """The suites' long solve: a 60-line PGY2 round in a 13-term year. Progress reaches the row
    within seconds (2.8 s measured), but the engine cannot yet prove its line count, so the solve
    runs to its time limit: a test can cancel, stop, kill or disconnect it mid-solve however fast
    the machine. (The 400-line four-term round used before finished in under 7 s on CI, before
    a test had acted.) If the engine learns to prove it, pick a plan it cannot prove."""
    shape = Shape(term_weeks=(4,) * 13, hospitals=3, units=40)
    return generate_plan("PGY2", 60, seed=1, constraints=["VIC_PGY2"], shape=shape)


@dataclass(frozen=True)
class PlanRound:
    organization_id: uuid.UUID
    allocation_run_id: uuid.UUID


async def insert_plan_round(conn: asyncpg.Connection, doc: dict[str, Any]) -> PlanRound:
    async with conn.transaction():
        org = await conn.fetchval(
            "insert into organizations (name) values ($1) returning id",
            f"Plan {uuid.uuid4().hex[:8]}",
        )
        round_id = await conn.fetchval(
            "insert into allocation_runs (organization_id, name) values ($1, $2) returning id",
            org,
            doc.get("name") or "Generated round",
        )
        await conn.executemany(
            "insert into plan_terms (organization_id, allocation_run_id, ordinal, name, weeks) "
            "values ($1, $2, $3, $4, $5)",
            [(org, round_id, t["ordinal"], t["name"], t["weeks"]) for t in doc["terms"]],
        )
        unit_ids: dict[str, uuid.UUID] = {}
        for u in doc["units"]:
            unit_ids[u["code"]] = await conn.fetchval(
                """insert into units (organization_id, allocation_run_id, code, name, specialty,
                       subspecialty, experiences, kind, nights, span_terms, leave_weeks)
                   values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) returning id""",
                org, round_id, u["code"], u["name"], u["specialty"], u["subspecialty"],
                list(u["experiences"]), u["kind"], u["nights"], u["span_terms"], u["leave_weeks"],
            )  # fmt: skip
        await conn.executemany(
            """insert into unit_demands (organization_id, allocation_run_id, unit_id, term_ordinal,
                   min_lines, max_lines) values ($1, $2, $3, $4, $5, $6)""",
            [
                (org, round_id, unit_ids[d["unit"]], d["term"], d["min"], d["max"])
                for d in doc["demand"]
            ],
        )
        term_count = len(doc["terms"])
        for line in doc.get("locked_lines", []):
            full = len(line["rotations"]) == term_count
            await _insert_line(conn, org, round_id, unit_ids, line, locked_line=full, locked=True)
        for line in doc.get("current_lines", []):
            await _insert_line(conn, org, round_id, unit_ids, line, locked_line=False, locked=False)
    return PlanRound(org, round_id)


async def _insert_line(conn, org, round_id, unit_ids, line, *, locked_line: bool, locked: bool):
    line_id = await conn.fetchval(
        "insert into job_lines (organization_id, allocation_run_id, label, locked, source) "
        "values ($1, $2, $3, $4, 'manual') returning id",
        org,
        round_id,
        line["label"],
        locked_line,
    )
    await conn.executemany(
        """insert into rotations (organization_id, allocation_run_id, job_line_id, term_ordinal,
               unit_id, locked) values ($1, $2, $3, $4, $5, $6)""",
        [
            (org, round_id, line_id, int(term), unit_ids[code], locked)
            for term, code in line["rotations"].items()
        ],
    )
