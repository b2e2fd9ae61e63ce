"""The seed: the demo organisation, its member and a VIC_PGY2-sized round with one locked line."""

from __future__ import annotations

import uuid

import pytest

pytestmark = pytest.mark.db

USER = uuid.UUID("d3000000-0000-4000-8000-000000000001")
ORG = uuid.UUID("d3000000-0000-4000-8000-000000000010")
ROUND = uuid.UUID("d3000000-0000-4000-8000-000000000020")


async def test_seed_plan_document(conn):
    assert (
        await conn.fetchval(
            "select role from organization_members where organization_id = $1 and user_id = $2",
            ORG,
            USER,
        )
        == "admin"
    )
    run_id = await conn.fetchval(
        "insert into allocation_planner_runs (organization_id, allocation_run_id, "
        "constraints) values ($1, $2, '{VIC_PGY2}') returning id",
        ORG,
        ROUND,
    )
    try:
        plan = await conn.fetchval("select planner.plan_document($1, $2)", run_id, ORG)
    finally:
        await conn.execute(
            "update allocation_planner_runs set state = 'CANCELLED' where id = $1", run_id
        )

    assert plan["name"] == "Demo Health 2027 PGY2"
    assert [t["weeks"] for t in plan["terms"]] == [13, 13, 13, 13]
    units = {u["code"]: u for u in plan["units"]}
    assert len(units) == 15
    assert {u["kind"] for u in units.values()} == {"clinical", "service", "non_clinical"}
    assert (
        units["RELIEF"]["leave_weeks"] == 4
        and units["NIGHT-MED"]["nights"]
        and units["RURAL-GEN"]["span_terms"] == 2
    )
    mins = {t: sum(d["min"] for d in plan["demand"] if d["term"] == t) for t in range(1, 5)}
    assert mins == {1: 14, 2: 14, 3: 14, 4: 14}
    assert plan["locked_lines"] == [
        {"label": "L-01", "rotations": {"1": "ED", "2": "CARD", "3": "PSYCH", "4": "GSURG"}}
    ]
    # the locked line itself satisfies VIC_PGY2: A, B, C, >= 3 subspecialties, 52 weeks
    locked_units = [units[c] for c in plan["locked_lines"][0]["rotations"].values()]
    assert {"A", "B", "C"} <= {e for u in locked_units for e in u["experiences"]}
    assert len({u["subspecialty"] for u in locked_units}) == 4
