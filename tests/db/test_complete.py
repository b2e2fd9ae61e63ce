"""complete_run (snapshot + replace + COMPLETED in one transaction), restore_snapshot,
tenant isolation of the payload, and load_plan."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from .helpers import add_line, claim, insert_run, lines_of, run_row

pytestmark = [pytest.mark.db, pytest.mark.usefixtures("empty_queue")]

LOCKED = {1: "ED", 2: "GM", 3: "SURG", 4: "PSYCH"}
PARTIAL = {1: "GM", 2: "ED", 3: "PSYCH", 4: "SURG"}  # term 1 locked
CURRENT = {1: "SURG", 2: "PSYCH", 3: "ED", 4: "GM"}


def line(label: str, units: dict[int, str], locked_terms=()) -> dict:
    return {
        "label": label,
        "rotations": [
            {"term": t, "unit": u, "locked": t in locked_terms} for t, u in units.items()
        ],
    }


@pytest.fixture
async def generating(conn, make_round):
    """A round with a locked line, a partially locked line and a current line, and a claimed run."""
    rnd = await make_round()
    locked_id = await add_line(conn, rnd, "L-LOCK", LOCKED, locked=True)
    await add_line(conn, rnd, "L-PART", PARTIAL, locked_terms=(1,))
    await add_line(conn, rnd, "L-CUR", CURRENT)
    run_id = await insert_run(conn, rnd)
    await claim(conn, "w1")
    return rnd, run_id, locked_id


NEW_LINES = [
    line("L-LOCK", LOCKED),  # repeated exactly: skipped
    line("L-PART", {1: "GM", 2: "SURG", 3: "ED", 4: "PSYCH"}, locked_terms=(1,)),
    line("N-1", {1: "PSYCH", 2: "ED", 3: "GM", 4: "SURG"}),
]


async def complete(conn, run_id, lines, result=None):
    return await conn.fetchval(
        "select planner.complete_run($1, 'w1', 1, $2, $3)",
        run_id,
        lines,
        result or {"status": "OPTIMAL"},
    )


async def test_complete_snapshots_replaces_and_completes(conn, generating):
    rnd, run_id, locked_id = generating
    assert await complete(conn, run_id, NEW_LINES, {"status": "OPTIMAL", "objective": {"lines": 3}})

    row = await run_row(conn, run_id)
    assert row["state"] == "COMPLETED" and row["result"]["objective"] == {"lines": 3}
    assert await lines_of(conn, rnd.allocation_run_id) == {
        "L-LOCK": LOCKED,
        "L-PART": {1: "GM", 2: "SURG", 3: "ED", 4: "PSYCH"},
        "N-1": {1: "PSYCH", 2: "ED", 3: "GM", 4: "SURG"},
    }
    assert (
        await conn.fetchval(
            "select id from job_lines where label = 'L-LOCK' and allocation_run_id = $1",
            rnd.allocation_run_id,
        )
        == locked_id
    )
    new = await conn.fetch(
        "select organization_id, planner_run_id, source from job_lines where "
        "allocation_run_id = $1 and not locked",
        rnd.allocation_run_id,
    )
    assert {(r["organization_id"], r["planner_run_id"], r["source"]) for r in new} == {
        (rnd.organization_id, run_id, "new")
    }
    assert await conn.fetchval(
        """select r.locked from rotations r join job_lines j on j.id = r.job_line_id
           where j.label = 'L-PART' and j.allocation_run_id = $1 and r.term_ordinal = 1""",
        rnd.allocation_run_id,
    )
    history = await conn.fetchrow(
        "select * from job_lines_history where planner_run_id = $1", run_id
    )
    assert history["reason"] == "complete"
    snap = {s["label"]: {r["term"]: r["unit"] for r in s["rotations"]} for s in history["lines"]}
    assert snap == {"L-PART": PARTIAL, "L-CUR": CURRENT}


async def test_restore_round_trip(conn, generating):
    rnd, run_id, _ = generating
    before = await lines_of(conn, rnd.allocation_run_id)
    assert await complete(conn, run_id, NEW_LINES)
    generated = await lines_of(conn, rnd.allocation_run_id)
    first = await conn.fetchval(
        "select id from job_lines_history where planner_run_id = $1", run_id
    )

    undo = await conn.fetchval("select planner.restore_snapshot($1)", first)
    assert await lines_of(conn, rnd.allocation_run_id) == before
    assert await conn.fetchval(
        """select r.locked from rotations r join job_lines j on j.id = r.job_line_id
           where j.label = 'L-PART' and j.allocation_run_id = $1 and r.term_ordinal = 1""",
        rnd.allocation_run_id,
    )
    assert (await conn.fetchrow("select reason from job_lines_history where id = $1", undo))[
        "reason"
    ] == "restore"

    await conn.fetchval("select planner.restore_snapshot($1)", undo)  # redo
    assert await lines_of(conn, rnd.allocation_run_id) == generated


async def ids_of(conn, round_id) -> dict[str, uuid.UUID]:
    rows = await conn.fetch(
        "select label, id from job_lines where allocation_run_id = $1", round_id
    )
    return {r["label"]: r["id"] for r in rows}


async def state_of(conn, round_id) -> tuple[dict, dict]:
    """({label: id}, {label: {term: unit}}): what an undo must bring back exactly."""
    return await ids_of(conn, round_id), await lines_of(conn, round_id)


async def regenerate(conn, rnd, lines) -> uuid.UUID:
    """A second (third...) run of the round, claimed and completed with `lines`."""
    run_id = await insert_run(conn, rnd)
    assert (await claim(conn, "w1"))["id"] == run_id
    assert await complete(conn, run_id, lines)
    return run_id


async def test_lines_keep_id_and_label_across_two_regenerates_and_an_undo(conn, generating):
    rnd, run_id, locked_id = generating
    gone_id = await add_line(conn, rnd, "L-GONE", {1: "ED", 2: "GM", 3: "SURG", 4: "PSYCH"})
    before = await state_of(conn, rnd.allocation_run_id)
    cur_rotations = await conn.fetch(
        "select r.id from rotations r join job_lines j on j.id = r.job_line_id "
        "where j.label = 'L-CUR' and j.allocation_run_id = $1 order by r.id",
        rnd.allocation_run_id,
    )

    # first regenerate: L-CUR kept, L-PART changed, L-GONE removed, N-1 new
    assert await complete(conn, run_id, [*NEW_LINES, line("L-CUR", CURRENT)])
    first = await state_of(conn, rnd.allocation_run_id)
    ids = first[0]
    assert set(ids) == {"L-LOCK", "L-PART", "L-CUR", "N-1"}
    for label in ("L-LOCK", "L-PART", "L-CUR"):
        assert ids[label] == before[0][label], label
    assert ids["N-1"] not in before[0].values() and gone_id not in ids.values()
    assert first[1]["L-PART"] == {1: "GM", 2: "SURG", 3: "ED", 4: "PSYCH"}
    assert (
        await conn.fetch(
            "select r.id from rotations r join job_lines j on j.id = r.job_line_id "
            "where j.label = 'L-CUR' and j.allocation_run_id = $1 order by r.id",
            rnd.allocation_run_id,
        )
        == cur_rotations
    )  # an unchanged line's rotations are not even rewritten
    written = await conn.fetch(
        "select label, planner_run_id from job_lines where allocation_run_id = $1 and not locked",
        rnd.allocation_run_id,
    )
    assert {r["label"]: r["planner_run_id"] for r in written} == dict.fromkeys(
        ("L-PART", "L-CUR", "N-1"), run_id
    )
    snapshot = await conn.fetchval(
        "select lines from job_lines_history where planner_run_id = $1", run_id
    )
    assert {s["label"]: uuid.UUID(s["id"]) for s in snapshot} == {
        label: before[0][label] for label in ("L-PART", "L-CUR", "L-GONE")
    }

    # second regenerate: every line paired, L-CUR changed in two terms
    swapped = {**CURRENT, 1: CURRENT[2], 2: CURRENT[1]}
    second_run = await regenerate(
        conn, rnd, [NEW_LINES[0], NEW_LINES[1], line("L-CUR", swapped), NEW_LINES[2]]
    )
    second = await state_of(conn, rnd.allocation_run_id)
    assert second[0] == ids and second[1]["L-CUR"] == swapped
    assert second[0]["L-LOCK"] == locked_id

    # undo the second, then the first: the same rows come back, ids included
    undo = await conn.fetchval(
        "select id from job_lines_history where planner_run_id = $1", second_run
    )
    await conn.fetchval("select planner.restore_snapshot($1)", undo)
    assert await state_of(conn, rnd.allocation_run_id) == first
    undo = await conn.fetchval("select id from job_lines_history where planner_run_id = $1", run_id)
    await conn.fetchval("select planner.restore_snapshot($1)", undo)
    assert await state_of(conn, rnd.allocation_run_id) == before


async def test_restore_refused_when_a_snapshot_line_is_now_locked_under_another_label(
    conn, generating
):
    rnd, run_id, _ = generating
    assert await complete(conn, run_id, [*NEW_LINES, line("L-CUR", CURRENT)])
    await conn.execute(
        "update job_lines set label = 'L-CUR-LOCKED', locked = true "
        "where label = 'L-CUR' and allocation_run_id = $1",
        rnd.allocation_run_id,
    )
    before = await state_of(conn, rnd.allocation_run_id)
    history = await conn.fetchval(
        "select id from job_lines_history where planner_run_id = $1", run_id
    )
    with pytest.raises(asyncpg.UniqueViolationError, match="L-CUR-LOCKED"):
        await conn.fetchval("select planner.restore_snapshot($1)", history)
    assert await state_of(conn, rnd.allocation_run_id) == before


async def test_restore_refused_while_a_run_is_active(conn, generating):
    rnd, run_id, _ = generating
    assert await complete(conn, run_id, NEW_LINES)
    history = await conn.fetchval(
        "select id from job_lines_history where planner_run_id = $1", run_id
    )
    await insert_run(conn, rnd)
    with pytest.raises(asyncpg.ObjectInUseError, match="in progress"):
        await conn.fetchval("select planner.restore_snapshot($1)", history)


async def assert_nothing_changed(conn, rnd, run_id, before_lines):
    assert (await run_row(conn, run_id))["state"] == "GENERATING"
    assert await lines_of(conn, rnd.allocation_run_id) == before_lines
    assert (
        await conn.fetchval(
            "select count(*) from job_lines_history where allocation_run_id = $1",
            rnd.allocation_run_id,
        )
        == 0
    )


async def test_unit_of_another_organisation_is_refused(conn, make_round, generating):
    rnd, run_id, _ = generating
    other = await make_round(units=({"code": "B-ONLY"},))
    before = await lines_of(conn, rnd.allocation_run_id)
    payload = [*NEW_LINES, line("N-2", {1: "B-ONLY", 2: "GM", 3: "ED", 4: "SURG"})]
    with pytest.raises(asyncpg.ForeignKeyViolationError, match="B-ONLY"):
        await complete(conn, run_id, payload)
    await assert_nothing_changed(conn, rnd, run_id, before)
    assert other.units["B-ONLY"]  # it exists, just not in this round


async def test_unit_of_another_round_of_the_same_organisation_is_refused(
    conn, make_round, generating
):
    rnd, run_id, _ = generating
    await make_round(organization_id=rnd.organization_id, units=({"code": "NEXT-YEAR"},))
    before = await lines_of(conn, rnd.allocation_run_id)
    with pytest.raises(asyncpg.ForeignKeyViolationError, match="NEXT-YEAR"):
        await complete(conn, run_id, [line("N-1", {1: "NEXT-YEAR"})])
    await assert_nothing_changed(conn, rnd, run_id, before)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (
            [{**line("N-1", CURRENT), "organization_id": "00000000-0000-4000-8000-000000000000"}],
            "organization_id",
        ),
        (
            [{**line("N-1", CURRENT), "allocation_run_id": "00000000-0000-4000-8000-000000000000"}],
            "allocation_run_id",
        ),
        ([{"label": "N-1", "rotations": [{"term": 1, "unit": "ED", "unit_id": "x"}]}], "unit_id"),
        ([line("L-LOCK", {**LOCKED, 4: "ED"})], "L-LOCK must be repeated exactly"),
        ([line("L-PART", CURRENT)], r"L-PART term 1 \(GM\)"),
        ([line("N-1", {5: "ED"})], "term"),
        ([line("N-1", CURRENT), line("N-1", CURRENT)], "duplicate line label"),
        ({"lines": []}, "JSON array"),
        ([{"label": "", "rotations": []}], "non-empty"),
    ],
)
async def test_bad_payload_is_refused_and_nothing_changes(conn, generating, payload, message):
    rnd, run_id, _ = generating
    before = await lines_of(conn, rnd.allocation_run_id)
    with pytest.raises(asyncpg.PostgresError, match=message):
        await complete(conn, run_id, payload)
    await assert_nothing_changed(conn, rnd, run_id, before)


async def test_load_plan_returns_the_plan_document(conn, generating):
    rnd, run_id, _ = generating
    plan = await conn.fetchval("select planner.load_plan($1, 'w1', 1)", run_id)
    assert plan == await conn.fetchval(
        "select planner.plan_document($1, $2)", run_id, rnd.organization_id
    )
    assert plan["name"] == "Test round"
    assert plan["terms"] == [{"ordinal": t, "name": f"Term {t}", "weeks": 13} for t in range(1, 5)]
    assert [u["code"] for u in plan["units"]] == ["ED", "GM", "PSYCH", "SURG"]
    assert plan["units"][0] == {
        "code": "ED",
        "name": "ED",
        "specialty": "Emergency Medicine",
        "subspecialty": "Emergency Medicine",
        "experiences": ["A", "C"],
        "kind": "clinical",
        "nights": False,
        "span_terms": 1,
        "leave_weeks": 0,
    }
    assert len(plan["demand"]) == 16 and plan["demand"][0] == {
        "unit": "ED",
        "term": 1,
        "min": 1,
        "max": 1,
    }
    assert plan["locked_lines"] == [
        {"label": "L-LOCK", "rotations": {str(t): u for t, u in LOCKED.items()}},
        {"label": "L-PART", "rotations": {"1": "GM"}},
    ]
    assert plan["current_lines"] == [
        {"label": "L-CUR", "rotations": {str(t): u for t, u in CURRENT.items()}}
    ]
    assert plan["constraints"] == ["VIC_PGY2"] and plan["params"] == {}


async def test_plan_document_refuses_another_organisation(conn, make_round, generating):
    _, run_id, _ = generating
    other = await make_round(units=())
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="is not a run of organisation"):
        await conn.fetchval("select planner.plan_document($1, $2)", run_id, other.organization_id)


@pytest.mark.parametrize(
    ("worker", "attempt"), [("w2", 1), ("w1", 2), ("w1", 0)], ids=["other-worker", "next", "old"]
)
async def test_load_plan_is_fenced_by_worker_and_attempt(conn, generating, worker, attempt):
    _, run_id, _ = generating
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="is not GENERATING for worker"):
        await conn.fetchval("select planner.load_plan($1, $2, $3)", run_id, worker, attempt)
    assert await conn.fetchval(
        "select planner.finish_run($1, 'w1', 1, 'FAILED', null, 'x')", run_id
    )
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="is not GENERATING for worker"):
        await conn.fetchval("select planner.load_plan($1, 'w1', 1)", run_id)  # finished
