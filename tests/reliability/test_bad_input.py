"""Scenario 12: bad input. Malformed allocation rounds and params, hand-written and generated
with hypothesis, go into the tables the way any client could put them there (plain SQL).

What the database can refuse, it must refuse (the statement fails, nothing is stored): that
includes every bad request (unknown rule names, params of the wrong JSON type or out of
range, absurd sizes: the run insert is refused naming each field as the engine's loader
does). What it cannot (a round without terms, a six-month unit open only in the last
term...) reaches the worker, and each such run
must end FAILED with a message naming the problem, with a planner_execution_logs row, and
with nothing else changed anywhere. ONE worker process, started once for the module, serves
every case and is still serving at the end.
"""

from __future__ import annotations

import math
import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg.types.json import Jsonb

from constraints.loading.params import load_constraints, load_params
from constraints.loading.problems import Problem, Problems
from constraints.rules import known_rule_sets
from tests.listener.conftest import WorkerProcess, ready
from tests.tenant_tables import RUN_LEAVES_ALONE

pytestmark = [pytest.mark.reliability, pytest.mark.e2e, pytest.mark.db]

FAILED_PREFIX = "The allocation round cannot be planned as entered"
UNITS = (
    ("ED", "Emergency Medicine", ["A", "C"]),
    ("GM", "General Medicine", ["A", "B"]),
    ("SURG", "Surgery", ["C", "D"]),
    ("PSYCH", "Psychiatry", ["B"]),
)
# Tables a failing run must leave alone (all of them: it writes only its own run row + logs).
UNTOUCHED = RUN_LEAVES_ALONE


# -- building rounds with plain SQL ---------------------------------------------------------


@dataclass
class RoundSpec:
    """A round as rows. Defaults: 4 x 13-week terms, 4 units, demand 1..1 everywhere."""

    terms: list[int] = field(default_factory=lambda: [1, 2, 3, 4])
    weeks: int = 13
    units: list[dict[str, Any]] = field(default_factory=list)  # overrides/additions by code
    default_units: bool = True
    demand: dict[str, dict[int, tuple[int, int]]] | None = None  # code -> term -> (min, max)
    lines: list[dict[str, Any]] = field(default_factory=list)  # {label, locked, rotations}
    extra_units: int = 0  # absurd sizes: this many more generated units (open every term)


def unit_rows(spec: RoundSpec) -> list[dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    if spec.default_units:
        for code, specialty, experiences in UNITS:
            rows[code] = {"code": code, "specialty": specialty, "experiences": experiences}
    for unit in spec.units:
        rows[unit["code"]] = {**rows.get(unit["code"], {}), **unit}
    for i in range(spec.extra_units):
        rows[f"X{i:04d}"] = {"code": f"X{i:04d}", "specialty": f"Extra {i}"}
    return list(rows.values())


def insert_round(c: psycopg.Connection, spec: RoundSpec) -> tuple[uuid.UUID, uuid.UUID]:
    with c.transaction():
        org = c.execute(
            "insert into organizations (name) values (%s) returning id",
            (f"Bad input {uuid.uuid4().hex[:8]}",),
        ).fetchone()[0]
        rnd = c.execute(
            "insert into allocation_runs (organization_id, name) values (%s, 'Bad round') "
            "returning id",
            (org,),
        ).fetchone()[0]
        with c.cursor() as cur:
            cur.executemany(
                "insert into plan_terms (organization_id, allocation_run_id, ordinal, name, weeks)"
                " values (%s, %s, %s, %s, %s)",
                [(org, rnd, t, f"Term {t}", spec.weeks) for t in spec.terms],
            )
            ids: dict[str, uuid.UUID] = {}
            for u in unit_rows(spec):
                ids[u["code"]] = c.execute(
                    """insert into units (organization_id, allocation_run_id, code, name,
                           specialty, subspecialty, experiences, kind, nights, span_terms,
                           leave_weeks)
                       values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) returning id""",
                    (
                        org, rnd, u["code"], u.get("name", u["code"][:50]),
                        u.get("specialty", u["code"][:50]),
                        u.get("subspecialty", u.get("specialty", u["code"][:50])),
                        u.get("experiences", []), u.get("kind", "clinical"),
                        u.get("nights", False), u.get("span_terms", 1), u.get("leave_weeks", 0),
                    ),
                ).fetchone()[0]  # fmt: skip
            demand = []
            for code, unit_id in ids.items():
                terms = (spec.demand or {}).get(code)
                if terms is None:
                    terms = {t: (1, 1) for t in spec.terms}
                demand += [(org, rnd, unit_id, t, lo, hi) for t, (lo, hi) in terms.items()]
            cur.executemany(
                "insert into unit_demands (organization_id, allocation_run_id, unit_id, "
                "term_ordinal, min_lines, max_lines) values (%s, %s, %s, %s, %s, %s)",
                demand,
            )
            for line in spec.lines:
                line_id = c.execute(
                    "insert into job_lines (organization_id, allocation_run_id, label, locked) "
                    "values (%s, %s, %s, %s) returning id",
                    (org, rnd, line["label"], line.get("locked", False)),
                ).fetchone()[0]
                cur.executemany(
                    "insert into rotations (organization_id, allocation_run_id, job_line_id, "
                    "term_ordinal, unit_id, locked) values (%s, %s, %s, %s, %s, %s)",
                    [
                        (org, rnd, line_id, t, ids[code], line.get("locked", False))
                        for t, code in line["rotations"].items()
                    ],
                )
    return org, rnd


def request_problems(constraints, params) -> list[Problem]:
    """What the engine's loader says about the request alone (constraints and params)."""
    problems = Problems()
    load_constraints(list(constraints), problems)
    load_params(params if params is not None else {}, problems)
    return problems.items


def insert_run(c, org, rnd, constraints=("VIC_PGY2",), params=None) -> uuid.UUID:
    return c.execute(
        "insert into allocation_planner_runs (organization_id, allocation_run_id, constraints, "
        "params) values (%s, %s, %s, %s) returning id",
        (org, rnd, list(constraints), Jsonb(params if params is not None else {})),
    ).fetchone()[0]


# -- the module's one worker and the per-case check -------------------------------------------


class Harness:
    def __init__(self, dsn: str, worker: WorkerProcess, ledger: Any):
        self.c = psycopg.connect(dsn, autocommit=True)
        self.worker = worker
        self.pid = worker.process.pid
        self.ledger = ledger
        self.cases = 0
        self.refused = 0  # bad requests the database refused at insert
        self.control_round: uuid.UUID | None = None

    def changes_since(self, xid: int, run_id: uuid.UUID) -> dict[str, Any]:
        """Counts, and rows written after transaction `xid` (other than the run's own)."""
        out: dict[str, Any] = {}
        for table in UNTOUCHED:
            out[table] = self.c.execute(
                f"select count(*), count(*) filter (where xmin::text::bigint >= %s) from {table}",
                (xid,),
            ).fetchone()
        out["allocation_planner_runs"] = self.c.execute(
            "select count(*) filter (where id <> %s), "
            "count(*) filter (where id <> %s and xmin::text::bigint >= %s) "
            "from allocation_planner_runs",
            (run_id, run_id, xid),
        ).fetchone()
        out["planner_execution_logs"] = self.c.execute(
            "select count(*) filter (where run_id <> %s), "
            "count(*) filter (where run_id <> %s and xmin::text::bigint >= %s) "
            "from planner_execution_logs",
            (run_id, run_id, xid),
        ).fetchone()
        return out

    def expect_failed(
        self,
        build: Callable[[psycopg.Connection], tuple[uuid.UUID, uuid.UUID]],
        *,
        constraints=("VIC_PGY2",),
        params: dict | None = None,
        names: tuple[str, ...] = (),
    ) -> str:
        """Insert the round and run; the run must end FAILED naming every string of `names`,
        with its log row, and nothing else in the database may change. A bad request (bad
        constraints or params) never becomes a run: the insert is refused instead."""
        org, rnd = build(self.c)
        xid = self.c.execute("select txid_current()").fetchone()[0] % 2**32
        before = self.changes_since(xid, uuid.UUID(int=0))
        problems = request_problems(constraints, params)
        if problems:
            return self.expect_refused(org, rnd, constraints, params, names, problems, before, xid)
        run_id = insert_run(self.c, org, rnd, constraints, params)
        self.ledger.track(run_id, expect="FAILED")
        row = self.wait_final(run_id, 30)
        assert row["state"] == "FAILED", row
        error = row["error"]
        assert error.startswith(FAILED_PREFIX), error
        for name in names:
            assert name in error, f"{name!r} not named in:\n{error}"
        assert (row["worker_id"], row["attempt"]) == (self.worker.worker_id, 1)
        log = self.wait_log(run_id, 10)
        assert log["context"]["worker_id"] == self.worker.worker_id
        assert log["context"]["details"]["problems"], log
        for name in names:
            assert (
                any(name in p for p in log["context"]["details"]["problems"])
                or name in (log["message"])
            ), (name, log)
        after = self.changes_since(xid, run_id)
        assert after == {
            **before,
            "allocation_planner_runs": before["allocation_planner_runs"],
            "planner_execution_logs": before["planner_execution_logs"],
        }, (before, after)
        assert self.worker.alive() and self.worker.process.pid == self.pid
        self.cases += 1
        return error

    def expect_answered(
        self,
        build: Callable[[psycopg.Connection], tuple[uuid.UUID, uuid.UUID]],
        constraints: tuple[str, ...],
        params: dict,
        *,
        state: str,
        names: tuple[str, ...],
    ) -> None:
        """A well-formed round is planned, not refused: the run ends in `state` (an
        INFEASIBLE one naming every string of `names`), by the same live worker; an
        INFEASIBLE run changes nothing but its own row and log."""
        org, rnd = build(self.c)
        xid = self.c.execute("select txid_current()").fetchone()[0] % 2**32
        before = self.changes_since(xid, uuid.UUID(int=0))
        run_id = insert_run(self.c, org, rnd, constraints, params)
        self.ledger.track(run_id, expect=state)
        row = self.wait_final(run_id, 60)
        assert row["state"] == state, row
        for name in names:
            assert name in row["error"], f"{name!r} not named in:\n{row['error']}"
        if state == "INFEASIBLE":
            assert self.changes_since(xid, run_id) == before
        assert self.worker.alive() and self.worker.process.pid == self.pid

    def expect_refused(self, org, rnd, constraints, params, names, problems, before, xid) -> str:
        """The run insert is refused naming every field the loader names, and every string
        of `names` about the request (strings about the round cannot be reached: the round
        is never planned); nothing is stored."""
        with pytest.raises(psycopg.errors.CheckViolation) as refused:
            insert_run(self.c, org, rnd, constraints, params)
        message = str(refused.value).splitlines()[0]
        assert message.startswith("invalid planner run request"), message
        for problem in problems[:10]:
            assert problem.field in message, (problem.field, message)
        for name in names:
            if any(name in str(problem) for problem in problems):
                assert name in message, (name, message)
        assert self.changes_since(xid, uuid.UUID(int=0)) == before
        assert self.worker.alive() and self.worker.process.pid == self.pid
        self.refused += 1
        return message

    def wait_final(self, run_id: uuid.UUID, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            cur = self.c.execute(
                "select state, error, worker_id, attempt, result from allocation_planner_runs "
                "where id = %s",
                (run_id,),
            )
            row = dict(zip([d.name for d in cur.description], cur.fetchone(), strict=True))
            if row["state"] not in ("PENDING", "GENERATING"):
                return row
            assert time.monotonic() < deadline, f"run {run_id} not final in {timeout}s: {row}"
            time.sleep(0.02)

    def wait_log(self, run_id: uuid.UUID, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            found = self.c.execute(
                "select message, context from planner_execution_logs where run_id = %s "
                "and level = 'ERROR' and message like 'Run FAILED%%'",
                (run_id,),
            ).fetchone()
            if found:
                return {"message": found[0], "context": found[1]}
            assert time.monotonic() < deadline, f"no 'Run FAILED' log row for {run_id}"
            time.sleep(0.02)

    def good_run_completes(self) -> uuid.UUID:
        org, rnd = insert_round(self.c, RoundSpec())
        run_id = insert_run(self.c, org, rnd, params={"time_limit_s": 30})
        self.ledger.track(run_id, expect="COMPLETED")
        row = self.wait_final(run_id, 60)
        assert row["state"] == "COMPLETED", row
        assert row["worker_id"] == self.worker.worker_id
        return rnd


@pytest.fixture(scope="module")
def harness(
    db_dsn: str, worker_dsn: str, tmp_path_factory: pytest.TempPathFactory, reliability_ledger
) -> Iterator[Harness]:
    with psycopg.connect(db_dsn, autocommit=True) as c:
        c.execute(
            "update allocation_planner_runs set state = 'CANCELLED' "
            "where state in ('PENDING', 'GENERATING')"
        )
    health: Path = tmp_path_factory.mktemp("bad-input") / "health"
    worker = WorkerProcess(
        {
            **os.environ,
            "DATABASE_URL": worker_dsn,
            "PLANNER_WORKER_ID": f"bad-input-{uuid.uuid4().hex[:8]}",
            "PLANNER_LOG_FORMAT": "json",
            "PLANNER_LOG_LEVEL": "DEBUG",
            "PLANNER_HEARTBEAT_S": "1",
            "PLANNER_POLL_INTERVAL_S": "2",
            "PLANNER_SHUTDOWN_GRACE_S": "2",
            "PLANNER_HEALTH_FILE": str(health),
        }
    )
    try:
        worker.wait_for_log(ready, 30)
        h = Harness(db_dsn, worker, reliability_ledger)
        h.control_round = h.good_run_completes()  # a round with lines: must never change
        yield h
    finally:
        worker.stop()
    h.c.close()


# -- what the database refuses itself ------------------------------------------------------

REFUSED = {
    "demand min > max": (
        "update unit_demands set min_lines = 3, max_lines = 2 where allocation_run_id = %(r)s",
        psycopg.errors.CheckViolation,
    ),
    "negative minimum demand": (
        "update unit_demands set min_lines = -1 where allocation_run_id = %(r)s",
        psycopg.errors.CheckViolation,
    ),
    "term of 0 weeks": (
        "update plan_terms set weeks = 0 where allocation_run_id = %(r)s and ordinal = 1",
        psycopg.errors.CheckViolation,
    ),
    "term of 53 weeks": (
        "update plan_terms set weeks = 53 where allocation_run_id = %(r)s and ordinal = 1",
        psycopg.errors.CheckViolation,
    ),
    "unit spanning 3 terms": (
        "update units set span_terms = 3 where allocation_run_id = %(r)s",
        psycopg.errors.CheckViolation,
    ),
    "unknown unit kind": (
        "update units set kind = 'holiday' where allocation_run_id = %(r)s",
        psycopg.errors.CheckViolation,
    ),
    "unknown experience category": (
        "update units set experiences = '{A,E}' where allocation_run_id = %(r)s",
        psycopg.errors.CheckViolation,
    ),
    "unit code with a space": (
        "update units set code = 'ED A' where allocation_run_id = %(r)s and code = 'ED'",
        psycopg.errors.CheckViolation,
    ),
    "demand for a term the round does not have": (
        "update unit_demands set term_ordinal = 9 "
        "where id = (select id from unit_demands where allocation_run_id = %(r)s limit 1)",
        psycopg.errors.ForeignKeyViolation,
    ),
    "rotation naming a unit of another round": (
        """insert into rotations (organization_id, allocation_run_id, job_line_id,
               term_ordinal, unit_id)
           select j.organization_id, j.allocation_run_id, j.id, 1,
                  (select id from units where allocation_run_id <> %(r)s limit 1)
           from job_lines j where j.allocation_run_id = %(r)s limit 1""",
        psycopg.errors.ForeignKeyViolation,
    ),
    "params that are not a JSON object": (
        """insert into allocation_planner_runs (organization_id, allocation_run_id, params)
           select organization_id, id, '[1, 2]' from allocation_runs where id = %(r)s""",
        psycopg.errors.CheckViolation,
    ),
    "run inserted as GENERATING": (
        """insert into allocation_planner_runs (organization_id, allocation_run_id, state,
               worker_id, heartbeat_at)
           select organization_id, id, 'GENERATING', 'forged', now()
           from allocation_runs where id = %(r)s""",
        psycopg.errors.CheckViolation,
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_the_database_refuses_what_it_can_check(harness: Harness, case: str) -> None:
    sql, error = REFUSED[case]
    _, rnd = insert_round(harness.c, RoundSpec(lines=[{"label": "L-1", "rotations": {2: "GM"}}]))
    xid = harness.c.execute("select txid_current()").fetchone()[0] % 2**32
    before = harness.changes_since(xid, uuid.UUID(int=0))
    with pytest.raises(error):
        harness.c.execute(sql, {"r": rnd})
    assert harness.changes_since(xid, uuid.UUID(int=0)) == before


# -- what reaches the worker: hand-written cases ----------------------------------------------

LAST_TERM_ONLY = {4: (0, 1)}
SIX_MONTH = {"code": "RURAL", "specialty": "Rural Medicine", "span_terms": 2}


def absurd(n: int) -> list[str]:
    return [f"RULE_{i}" for i in range(n)]


LONG = "X" * 201

# id -> (RoundSpec, constraints, params, strings the error must name)
CASES: dict[str, tuple[RoundSpec, tuple[str, ...], dict[str, Any], tuple[str, ...]]] = {
    "round without terms": (RoundSpec(terms=[]), ("VIC_PGY2",), {}, ("terms",)),
    "round without units": (RoundSpec(default_units=False), ("VIC_PGY2",), {}, ("units",)),
    "terms with a gap (1, 2, 4)": (
        RoundSpec(terms=[1, 2, 4]),
        ("NO_NIGHTS",),
        {},
        ("terms", "ordinals must be 1..3"),
    ),
    "14 terms (limit 13)": (
        RoundSpec(terms=list(range(1, 15)), weeks=4),
        ("NO_NIGHTS",),
        {},
        ("terms", "limit is 13"),
    ),
    "unknown rule set": (RoundSpec(), ("VIC_PGY2", "NOT_A_RULE"), {}, ("NOT_A_RULE",)),
    "rule set in lower case": (RoundSpec(), ("vic_pgy2",), {}, ("vic_pgy2", "unknown rule set")),
    "empty rule-set name": (RoundSpec(), ("",), {}, ("constraints[0]",)),
    "rule set listed twice": (
        RoundSpec(),
        ("NO_NIGHTS", "NO_NIGHTS"),
        {},
        ("constraints[1]", "listed twice"),
    ),
    "21 rule sets (limit 20)": (RoundSpec(), tuple(absurd(21)), {}, ("constraints", "limit")),
    "leave longer than the rotation": (
        RoundSpec(units=[{"code": "GM", "leave_weeks": 20}]),
        ("NO_NIGHTS",),
        {},
        ("leave_weeks", "exceeds the 13 weeks"),
    ),
    "minimum demand beyond the line limit": (
        RoundSpec(demand={"ED": {1: (6000, 6000)}}),
        ("NO_NIGHTS",),
        {},
        ("min", "must be <= 5000"),
    ),
    "maximum demand of a million": (
        RoundSpec(demand={"GM": {2: (1, 1_000_000)}}),
        ("NO_NIGHTS",),
        {},
        ("max", "must be <= 5000"),
    ),
    "unit code of 201 characters": (
        RoundSpec(units=[{"code": LONG, "specialty": "Long"}]),
        ("NO_NIGHTS",),
        {},
        ("code", "too long"),
    ),
    "line label of 201 characters": (
        RoundSpec(lines=[{"label": LONG, "rotations": {1: "ED", 2: "GM", 3: "SURG", 4: "PSYCH"}}]),
        ("NO_NIGHTS",),
        {},
        ("label", "too long"),
    ),
    "501 units (limit 500)": (
        RoundSpec(extra_units=497),
        ("NO_NIGHTS",),
        {},
        ("units", "limit is 500"),
    ),
    "params min_lines > max_lines": (
        RoundSpec(),
        ("VIC_PGY2",),
        {"min_lines": 9, "max_lines": 4},
        ("params.min_lines", "must not exceed params.max_lines"),
    ),
    "params time_limit_s as text": (
        RoundSpec(),
        ("VIC_PGY2",),
        {"time_limit_s": "fast"},
        ("params.time_limit_s",),
    ),
    "params time_limit_s negative": (
        RoundSpec(),
        ("VIC_PGY2",),
        {"time_limit_s": -5},
        ("params.time_limit_s", "positive"),
    ),
    "params time_limit_s of a billion": (
        RoundSpec(),
        ("VIC_PGY2",),
        {"time_limit_s": 1e9},
        ("params.time_limit_s", "3600"),
    ),
    "params min_lines as text": (
        RoundSpec(),
        ("VIC_PGY2",),
        {"min_lines": "ten"},
        ("params.min_lines", "whole number"),
    ),
    "params max_lines of a billion": (
        RoundSpec(),
        ("VIC_PGY2",),
        {"max_lines": 10**9},
        ("params.max_lines", "must be <= 5000"),
    ),
    "params min_lines fractional": (
        RoundSpec(),
        ("VIC_PGY2",),
        {"min_lines": 2.5},
        ("params.min_lines",),
    ),
    "params max_lines as a list": (
        RoundSpec(),
        ("VIC_PGY2",),
        {"max_lines": [10]},
        ("params.max_lines",),
    ),
    "params seed beyond 32 bits": (RoundSpec(), ("VIC_PGY2",), {"seed": 2**40}, ("params.seed",)),
    "params seed as an object": (
        RoundSpec(),
        ("VIC_PGY2",),
        {"seed": {"value": 1}},
        ("params.seed",),
    ),
    "params allow_shortfall as text": (
        RoundSpec(),
        ("VIC_PGY2",),
        {"allow_shortfall": "yes"},
        ("params.allow_shortfall", "true or false"),
    ),
    "params deterministic as a number": (
        RoundSpec(),
        ("VIC_PGY2",),
        {"deterministic": 1},
        ("params.deterministic",),
    ),
    "params with an unknown key": (
        RoundSpec(),
        ("VIC_PGY2",),
        {"max_line": 5},
        ("params.max_line", "unknown parameter"),
    ),
    "everything wrong at once": (
        RoundSpec(terms=[1, 2, 4], units=[SIX_MONTH], demand={"RURAL": {4: (0, 1)}}),
        ("VIC_PGY2", "NOT_A_RULE"),
        {"min_lines": "x", "time_limit_s": 0, "workers": 8},
        ("ordinals", "NOT_A_RULE", "params.min_lines", "params.time_limit_s", "params.workers"),
    ),
}


# Shapes DOMAIN.md allows that the engine used to refuse as bad input (issue 14): a six-month
# unit no line can use is simply unusable, and a minimum or a lock that can never be met is
# INFEASIBLE, named in words. Case -> (round, rule sets, params, final state, names).
ALLOWED_SHAPES: dict[str, tuple[RoundSpec, tuple[str, ...], dict, str, tuple[str, ...]]] = {
    "six-month unit open only in the last term": (
        RoundSpec(units=[SIX_MONTH], demand={"RURAL": LAST_TERM_ONLY}),
        ("NO_NIGHTS",),
        {},
        "COMPLETED",
        (),
    ),
    "six-month unit with a minimum and no open neighbour": (
        RoundSpec(units=[SIX_MONTH], demand={"RURAL": {1: (1, 1), 3: (0, 1)}}),
        ("NO_NIGHTS",),
        {},
        "INFEASIBLE",
        ("RURAL", "term 1"),
    ),
    "locked line in a closed unit": (
        RoundSpec(
            units=[{"code": "ICU", "specialty": "Intensive Care"}],
            demand={"ICU": {1: (0, 1)}},
            lines=[
                {
                    "label": "L-LOCK",
                    "locked": True,
                    "rotations": {1: "ED", 2: "ICU", 3: "GM", 4: "SURG"},
                }
            ],
        ),
        ("NO_NIGHTS",),
        {},
        "INFEASIBLE",
        ("ICU is closed in term 2",),
    ),
    "locked six-month unit that cannot fit": (
        RoundSpec(
            units=[SIX_MONTH],
            demand={"RURAL": {1: (0, 1), 2: (0, 1)}},
            lines=[
                {
                    "label": "L-A",
                    "locked": True,
                    "rotations": {1: "ED", 2: "RURAL", 3: "GM", 4: "SURG"},
                },
                {
                    "label": "L-B",
                    "locked": True,
                    "rotations": {1: "RURAL", 2: "GM", 3: "SURG", 4: "ED"},
                },
            ],
        ),
        ("NO_NIGHTS",),
        {},
        "INFEASIBLE",
        ("L-A", "RURAL"),
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_round_or_params_fails_with_a_message_naming_it(harness: Harness, case: str) -> None:
    spec, constraints, params, names = CASES[case]
    harness.expect_failed(
        lambda c: insert_round(c, spec), constraints=constraints, params=params, names=names
    )


@pytest.mark.parametrize("case", list(ALLOWED_SHAPES))
def test_an_allowed_shape_is_solved_or_explained_not_refused(harness: Harness, case: str) -> None:
    spec, constraints, params, state, names = ALLOWED_SHAPES[case]
    harness.expect_answered(
        lambda c: insert_round(c, spec), constraints, params, state=state, names=names
    )


# -- generated cases ------------------------------------------------------------------------

KNOWN = set(known_rule_sets())
# PostgreSQL text and jsonb hold any Unicode except NUL (and lone surrogates).
safe_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    max_size=12,
)
json_scalar = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    safe_text,
)
json_value = st.recursive(
    json_scalar,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(safe_text, inner, max_size=3),
    max_leaves=5,
)


def whole_in(low: int, high: int) -> Callable[[Any], bool]:
    """Bad unless a whole number (not a bool) in low..high."""
    return lambda v: isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high


def seconds_bad(v: Any) -> bool:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return True
    return not math.isfinite(v) or not 0 < v <= 3600


def not_bool(v: Any) -> bool:
    return not isinstance(v, bool)


# A bad value for each parameter: the wrong JSON type, or out of range (null means absent).
BAD_PARAM = {
    key: json_value.filter(lambda v, bad=bad: v is not None and bad(v))
    for key, bad in {
        "min_lines": whole_in(0, 5000),
        "max_lines": whole_in(0, 5000),
        "seed": whole_in(0, 2**31 - 1),
        "time_limit_s": seconds_bad,
        "allow_shortfall": not_bool,
        "deterministic": not_bool,
    }.items()
}


@st.composite
def bad_params(draw) -> tuple[dict[str, Any], list[str]]:
    keys = draw(st.lists(st.sampled_from(sorted(BAD_PARAM)), min_size=1, max_size=3, unique=True))
    params = {key: draw(BAD_PARAM[key]) for key in keys}
    unknown = draw(
        st.lists(
            st.from_regex(r"[a-z_]{1,12}", fullmatch=True).filter(lambda k: k not in BAD_PARAM),
            max_size=1,
        )
    )
    for key in unknown:
        params[key] = draw(json_value)
    return params, [f"params.{key}" for key in params]


rule_name = safe_text


@st.composite
def bad_constraints(draw) -> tuple[list[str], list[str]]:
    good = draw(st.lists(st.sampled_from(sorted(KNOWN)), max_size=2, unique=True))
    unknown = rule_name.filter(lambda n: n not in KNOWN)
    bad = draw(st.lists(unknown, min_size=1, max_size=2, unique=True))
    order = draw(st.permutations(good + bad))
    return list(order), [f"constraints[{order.index(n)}]" for n in bad]


@settings(
    max_examples=24,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    case=st.one_of(
        bad_params().map(lambda p: ("params", p)),
        bad_constraints().map(lambda c: ("constraints", c)),
    )
)
def test_generated_bad_params_and_rule_names_fail_naming_the_field(harness: Harness, case) -> None:
    kind, (value, names) = case
    constraints, params = (value, {}) if kind == "constraints" else (["VIC_PGY2"], value)
    harness.expect_failed(
        lambda c: insert_round(c, RoundSpec()),
        constraints=constraints,
        params=params,
        names=tuple(names),
    )


# -- and the worker kept serving -------------------------------------------------------------


def test_the_same_worker_served_every_case_and_still_serves(harness: Harness) -> None:
    before = harness.c.execute(
        "select count(*) from job_lines where allocation_run_id = %s", (harness.control_round,)
    ).fetchone()[0]
    harness.good_run_completes()
    assert harness.worker.alive() and harness.worker.process.pid == harness.pid
    starts = [r for r in harness.worker.records if r["message"].startswith("Worker started")]
    assert len(starts) == 1
    # hand-written + generated: bad rounds FAILED by the worker, bad requests refused at insert
    assert harness.cases >= 10, harness.cases
    assert harness.cases + harness.refused >= 30 + 1, (harness.cases, harness.refused)
    after = harness.c.execute(
        "select count(*) from job_lines where allocation_run_id = %s", (harness.control_round,)
    ).fetchone()[0]
    assert before == after > 0
