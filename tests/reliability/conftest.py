"""Shared fixtures of the reliability suite, and its closing summary.

Run the suite alone with `uv run pytest -m reliability`. At the end of the session it prints

    reliability summary: scenarios run N (passed P, failed F)
      runs lost 0 | runs processed twice 0 | runs stuck 0 | cross-tenant rows 0
      <scenario>: jobs lost: 0 | recovery/baseline: N% | recovery time: S s   (per peer
      chaos scenario run, test_peer_scenarios.py)

computed from the database (see `Ledger.audit`), and fails the session unless the last four
figures are 0.

Fixtures and helpers for every reliability module:

  reliability_ledger  (session, autouse) `Ledger`: `track(run_id, expect=("COMPLETED",),
                      dsn=None)` registers a run the test created and the final state(s) it
                      must end in (`expect=FINAL` for "any final state"); `dsn` names another
                      cluster than the session's (a module's own throwaway cluster): it is
                      audited after every test (so its module's last test counts), or call
                      `await reliability_ledger.audit(dsn)` yourself before it goes away.
  planner_settings    (function) `await planner_settings.set(stale_after="3 seconds",
                      max_runs_per_org_per_hour=1000, max_attempts=1)`; the originals are
                      restored afterwards.
  start_worker        (function) the end-to-end suite's factory: `start_worker(**env)` ->
                      `WorkerProcess` (JSON logs parsed, SIGTERM/SIGKILL at teardown).
  reap_until(conn, run_id, timeout)  calls `planner.reap_stale_runs()` (the function pg_cron
                      runs every minute) until the run is reaped; returns (row, seconds).
  reap_until_retried(conn, run_id, timeout)  the same until the reaper handed the run back
                      to PENDING (its log row, `context.error = 'Retry'`); returns the row.
  round_fingerprint(conn, round_id)  lines, rotations and history of a round, comparable.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import anyio
import asyncpg
import psycopg
import pytest

from tests.conftest import init_connection
from tests.listener.conftest import start_worker  # noqa: F401  (re-exported fixture)

FINAL = ("COMPLETED", "INFEASIBLE", "FAILED", "CANCELLED")
ACTIVE = ("PENDING", "GENERATING")
SUMMARY_KEY = pytest.StashKey[dict[str, Any]]()
_SCENARIOS: dict[str, int] = {}  # outcome -> reliability tests (setup failures included)
_FUNCTIONS: set[str] = set()  # test functions (a parametrized case counts once)


@dataclass(frozen=True)
class PeerFigures:
    """One peer chaos scenario's figures (test_peer_scenarios.py), computed from the
    database: runs not COMPLETED, median completion rates of the baseline window and of the
    equal recovery window after the fault, and the fault's end to throughput back."""

    scenario: str
    runs: int
    workers: int
    idle_workers: list[str]  # workers of the fleet that completed nothing after the fault
    lost: list[str]
    retried: int
    baseline_per_s: float
    recovery_per_s: float
    recovery_s: float | None
    fault_s: float

    @property
    def ratio(self) -> float:
        return self.recovery_per_s / self.baseline_per_s if self.baseline_per_s else 0.0

    def line(self) -> str:
        back = "never" if self.recovery_s is None else f"{self.recovery_s:.1f} s"
        return (
            f"{self.scenario}: jobs lost: {len(self.lost)} | recovery/baseline: "
            f"{self.ratio:.0%} | recovery time: {back}   ({self.runs} runs, {self.workers} "
            f"workers, {self.retried} retried, fault {self.fault_s:.1f} s, baseline "
            f"{self.baseline_per_s:.2f}/s, recovery {self.recovery_per_s:.2f}/s)"
        )


PEER_FIGURES: list[PeerFigures] = []  # in the order the scenarios ran


@pytest.fixture(scope="session")
def peer_figures() -> list[PeerFigures]:
    """Where a peer chaos scenario leaves its figures for the closing summary (a fixture,
    so the test appends to this module's list and not to a second import's)."""
    return PEER_FIGURES


# -- the ledger and the database audit -------------------------------------------------------

# Every foreign key between two tenant tables (both carry organization_id), joined on its
# id column(s) only, so the audit does not trust the composite keys it is checking.
TENANT_FOREIGN_KEYS_SQL = """
select c.conname, c.conrelid::regclass::text as child, c.confrelid::regclass::text as parent,
       array(select a.attname from unnest(c.conkey) with ordinality k(n, i)
             join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.n order by k.i)
           as child_cols,
       array(select a.attname from unnest(c.confkey) with ordinality k(n, i)
             join pg_attribute a on a.attrelid = c.confrelid and a.attnum = k.n order by k.i)
           as parent_cols
from pg_constraint c
where c.contype = 'f' and c.connamespace = 'public'::regnamespace
  and exists (select 1 from pg_attribute a where a.attrelid = c.conrelid
              and a.attname = 'organization_id' and not a.attisdropped)
  and exists (select 1 from pg_attribute a where a.attrelid = c.confrelid
              and a.attname = 'organization_id' and not a.attisdropped)
order by 1
"""

# Unit ids inside history snapshots must name units of the snapshot's own organisation.
HISTORY_UNITS_SQL = """
select count(*) from job_lines_history h
cross join jsonb_array_elements(h.lines) l
cross join jsonb_array_elements(l -> 'rotations') ro
join units u on u.id = (ro ->> 'unit_id')::uuid
where u.organization_id <> h.organization_id or u.allocation_run_id <> h.allocation_run_id
"""

# A run "processed twice": more than one completion snapshot, more than one completion log
# row, completion logged by two different workers/attempts, or lines of the run while the
# run is not COMPLETED (a write by an attempt that no longer owned it).
PROCESSED_TWICE_SQL = """
with runs as (
    select r.id, r.state from allocation_planner_runs r
    where r.id = any($1::uuid[]) or ($2::timestamptz is not null and r.created_at >= $2)
), snapshots as (
    select h.planner_run_id as id, count(*) as n from job_lines_history h
    where h.reason = 'complete' group by 1
), completions as (
    select l.run_id as id, count(*) as n,
           count(distinct (l.context ->> 'worker_id', l.context ->> 'attempt')) as writers
    from planner_execution_logs l
    where l.message like 'Run COMPLETED%' group by 1
)
select runs.id from runs
left join snapshots s on s.id = runs.id
left join completions c on c.id = runs.id
where coalesce(s.n, 0) > 1 or coalesce(c.n, 0) > 1 or coalesce(c.writers, 0) > 1
   or (runs.state = 'COMPLETED' and coalesce(s.n, 0) <> 1)
   or (runs.state <> 'COMPLETED'
       and exists (select 1 from job_lines j where j.planner_run_id = runs.id
                   and j.source <> 'restored'))
"""


async def cross_tenant_rows(conn: asyncpg.Connection) -> dict[str, int]:
    """{foreign key: rows whose organisation (or round) differs from their parent's}."""
    found: dict[str, int] = {}
    for fk in await conn.fetch(TENANT_FOREIGN_KEYS_SQL):
        pairs = list(zip(fk["child_cols"], fk["parent_cols"], strict=True))
        keys = [(c, p) for c, p in pairs if c != "organization_id"]
        if any(p == "id" for _, p in keys):  # (round, x_id): join on the id alone
            keys = [(c, p) for c, p in keys if p == "id"]
        if not keys:
            continue  # a bare reference to organizations: the key itself is the check
        child_round = (
            "allocation_run_id" in fk["child_cols"]
            and fk["parent"] != "allocation_runs"
            and all(c != "allocation_run_id" for c, _ in keys)
        )
        mismatch = "c.organization_id is distinct from p.organization_id"
        if child_round:
            mismatch += " or c.allocation_run_id is distinct from p.allocation_run_id"
        on = " and ".join(f"p.{p} = c.{c}" for c, p in keys)
        sql = f"select count(*) from {fk['child']} c join {fk['parent']} p on {on} where {mismatch}"
        found[f"{fk['child']} -> {fk['parent']} ({fk['conname']})"] = await conn.fetchval(sql)
    found["job_lines_history.lines -> units"] = await conn.fetchval(HISTORY_UNITS_SQL)
    return found


@dataclass
class Ledger:
    """Runs the reliability tests created, and the audit of them at the end of the session."""

    default_dsn: str
    started_at: Any = None  # database clock at session start
    tracked: dict[str, dict[uuid.UUID, tuple[str, ...]]] = field(default_factory=dict)
    audited: dict[str, dict[str, Any]] = field(default_factory=dict)

    def track(
        self, run_id: uuid.UUID | str, expect: str | Iterable[str] = FINAL, dsn: str | None = None
    ) -> uuid.UUID:
        run_id = uuid.UUID(str(run_id))
        states = (expect,) if isinstance(expect, str) else tuple(expect)
        assert states and set(states) <= set(FINAL), f"expect final states, not {states}"
        self.tracked.setdefault(dsn or self.default_dsn, {})[run_id] = states
        return run_id

    def track_many(
        self, run_ids: Iterable[uuid.UUID], expect: str | Iterable[str] = FINAL, dsn=None
    ) -> None:
        for run_id in run_ids:
            self.track(run_id, expect, dsn)

    async def audit(self, dsn: str | None = None) -> dict[str, Any]:
        """Audit one database now (call it before a private cluster is dropped)."""
        dsn = dsn or self.default_dsn
        runs = self.tracked.get(dsn, {})
        conn = await asyncpg.connect(dsn)
        await init_connection(conn)
        try:
            rows = {
                r["id"]: r["state"]
                for r in await conn.fetch(
                    "select id, state from allocation_planner_runs where id = any($1::uuid[])",
                    list(runs),
                )
            }
            since = self.started_at if dsn == self.default_dsn else None
            twice = await conn.fetch(PROCESSED_TWICE_SQL, list(runs), since)
            tenants = await cross_tenant_rows(conn)
        finally:
            await conn.close()
        lost = [
            f"{run_id} ({rows.get(run_id, 'missing')}, expected {'/'.join(expect)})"
            for run_id, expect in runs.items()
            if run_id not in rows or (rows[run_id] in FINAL and rows[run_id] not in expect)
        ]
        stuck = [f"{run_id} ({rows[run_id]})" for run_id in runs if rows.get(run_id) in ACTIVE]
        result = {
            "tracked": len(runs),
            "lost": lost,
            "twice": [str(r["id"]) for r in twice],
            "stuck": stuck,
            "cross_tenant": {k: v for k, v in tenants.items() if v},
            "foreign_keys_audited": len(tenants),
        }
        self.audited[dsn] = result
        return result


@pytest.fixture(scope="session", autouse=True)
def reliability_ledger(request: pytest.FixtureRequest, db_dsn: str) -> Iterator[Ledger]:
    with psycopg.connect(db_dsn, autocommit=True) as c:
        started_at = c.execute("select now()").fetchone()[0]
    ledger = Ledger(db_dsn, started_at=started_at)
    yield ledger

    async def audit_all() -> None:
        for dsn in {db_dsn, *ledger.tracked}:
            try:
                await ledger.audit(dsn)
            except (OSError, asyncpg.PostgresError) as exc:
                if dsn in ledger.audited:
                    continue  # a private cluster, gone now: its audit at its last test stands
                count = len(ledger.tracked.get(dsn, {}))
                ledger.audited[dsn] = {
                    "tracked": count,
                    "lost": [f"{count} run(s): cannot audit {dsn}: {exc}"] if count else [],
                    "twice": [],
                    "stuck": [],
                    "cross_tenant": {},
                    "foreign_keys_audited": 0,
                }

    anyio.run(audit_all)
    totals: dict[str, Any] = {"tracked": 0, "lost": [], "twice": [], "stuck": [], "tenant": {}}
    for result in ledger.audited.values():
        totals["tracked"] += result["tracked"]
        totals["lost"] += result["lost"]
        totals["twice"] += result["twice"]
        totals["stuck"] += result["stuck"]
        for key, value in result["cross_tenant"].items():
            totals["tenant"][key] = totals["tenant"].get(key, 0) + value
    totals["fks"] = max((r["foreign_keys_audited"] for r in ledger.audited.values()), default=0)
    request.config.stash[SUMMARY_KEY] = totals
    assert not (totals["lost"] or totals["twice"] or totals["stuck"] or totals["tenant"]), (
        f"reliability audit: lost {totals['lost']}, processed twice {totals['twice']}, "
        f"stuck {totals['stuck']}, cross-tenant rows {totals['tenant']}"
    )


@pytest.fixture(autouse=True)
def _audit_private_clusters(reliability_ledger: Ledger) -> Iterator[None]:
    """After each test, audit the clusters other than the session's that tests tracked runs
    on (a module's own throwaway cluster is gone by the end of the session; the audit after
    its module's last test is the one that counts)."""
    yield
    private = [dsn for dsn in reliability_ledger.tracked if dsn != reliability_ledger.default_dsn]

    async def audit() -> None:
        for dsn in private:
            with contextlib.suppress(OSError, asyncpg.PostgresError):
                await reliability_ledger.audit(dsn)

    if private:
        anyio.run(audit)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if "reliability" not in report.keywords:
        return
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        _SCENARIOS[report.outcome] = _SCENARIOS.get(report.outcome, 0) + 1
        _FUNCTIONS.add(report.nodeid.split("[", 1)[0])


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    totals = config.stash.get(SUMMARY_KEY, None)
    if totals is None and not _SCENARIOS:
        return
    run = sum(_SCENARIOS.values())
    tr = terminalreporter
    tr.section("reliability summary")
    tr.write_line(
        f"scenarios run: {len(_FUNCTIONS)} test functions, {run} test items (passed "
        f"{_SCENARIOS.get('passed', 0)}, failed {_SCENARIOS.get('failed', 0)}, skipped "
        f"{_SCENARIOS.get('skipped', 0)})"
    )
    if totals is None:
        tr.write_line("database audit: not run (the session cluster was never started)")
        return
    figures = {
        "runs lost": len(totals["lost"]),
        "runs processed twice": len(totals["twice"]),
        "runs stuck": len(totals["stuck"]),
        "cross-tenant rows": sum(totals["tenant"].values()),
    }
    bad = any(figures.values())
    tr.write_line(
        " | ".join(f"{name}: {value}" for name, value in figures.items())
        + f"   (runs tracked: {totals['tracked']}, tenant foreign keys audited: {totals['fks']})",
        red=bad,
        green=not bad,
        bold=True,
    )
    if PEER_FIGURES:
        tr.write_line(
            "peer chaos scenarios (hardbyte/postgresql-job-queue-benchmarking), "
            "each: jobs lost: 0 | recovery/baseline >= 95% | recovery time <= 5 s"
        )
    for figures in PEER_FIGURES:
        ok = (
            not figures.lost
            and figures.ratio >= 0.95
            and figures.recovery_s is not None
            and figures.recovery_s <= 5.0
        )
        tr.write_line(f"  {figures.line()}", red=not ok, green=ok)
    for name, items in (
        ("lost", totals["lost"]),
        ("processed twice", totals["twice"]),
        ("stuck", totals["stuck"]),
        ("cross-tenant", [f"{k}: {v}" for k, v in totals["tenant"].items()]),
    ):
        for item in items[:20]:
            tr.write_line(f"  {name}: {item}", red=True)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    totals = session.config.stash.get(SUMMARY_KEY, None)
    if totals and (totals["lost"] or totals["twice"] or totals["stuck"] or totals["tenant"]):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# -- settings, reaping, fingerprints -------------------------------------------------------


class PlannerSettings:
    """Change `planner_settings`; every changed column is restored at teardown."""

    def __init__(self, conn: asyncpg.Connection):
        self._conn = conn
        self._saved: dict[str, Any] = {}

    async def set(self, **values: Any) -> None:
        for column, value in values.items():
            assert column in ("stale_after", "max_runs_per_org_per_hour", "max_attempts"), column
            if column not in self._saved:
                self._saved[column] = await self._conn.fetchval(
                    f"select {column}::text from planner_settings"
                )
            cast = "interval" if column == "stale_after" else "integer"
            await self._conn.execute(
                f"update planner_settings set {column} = $1::text::{cast}, updated_at = now()",
                str(value),
            )

    async def stale_after_s(self) -> float:
        return await self._conn.fetchval(
            "select extract(epoch from stale_after)::float8 from planner_settings"
        )

    async def restore(self) -> None:
        for column, value in self._saved.items():
            cast = "interval" if column == "stale_after" else "integer"
            await self._conn.execute(
                f"update planner_settings set {column} = $1::text::{cast}", value
            )


@pytest.fixture
async def planner_settings(db_dsn: str) -> AsyncIterator[PlannerSettings]:
    own = await asyncpg.connect(db_dsn)
    settings = PlannerSettings(own)
    try:
        yield settings
    finally:
        await settings.restore()
        await own.close()


async def reap_until(
    conn: asyncpg.Connection, run_id: uuid.UUID, timeout: float, *, poll_s: float = 0.05
) -> tuple[dict[str, Any], float]:
    """Call `planner.reap_stale_runs()` until the run leaves GENERATING; (row, seconds)."""
    started = time.monotonic()
    deadline = started + timeout
    while True:
        await conn.fetchval("select planner.reap_stale_runs()")
        row = dict(
            await conn.fetchrow("select * from allocation_planner_runs where id = $1", run_id)
        )
        if row["state"] != "GENERATING":
            return row, time.monotonic() - started
        if time.monotonic() > deadline:
            raise AssertionError(f"run {run_id} not reaped within {timeout}s: {row}")
        await anyio.sleep(poll_s)


async def reap_until_retried(conn, run_id: uuid.UUID, timeout: float) -> dict:
    """Call the reaper until it logged the hand-back; the log row."""
    deadline = time.monotonic() + timeout
    while True:
        await conn.fetchval("select planner.reap_stale_runs()")
        row = await conn.fetchrow(
            "select level, message, context from planner_execution_logs "
            "where run_id = $1 and context ->> 'error' = 'Retry'",
            run_id,
        )
        if row is not None:
            return dict(row)
        assert time.monotonic() < deadline, f"run {run_id} not handed back within {timeout}s"
        await anyio.sleep(0.05)


async def round_fingerprint(conn: asyncpg.Connection, round_id: uuid.UUID) -> dict[str, Any]:
    """Every line (with rotations) and history row of a round, in a comparable form."""
    lines = await conn.fetch(
        """select j.id, j.label, j.locked, j.source, j.planner_run_id, r.term_ordinal,
                  r.unit_id, r.locked as rotation_locked
           from job_lines j left join rotations r on r.job_line_id = j.id
           where j.allocation_run_id = $1 order by j.id, r.term_ordinal""",
        round_id,
    )
    history = await conn.fetch(
        "select id, planner_run_id, reason from job_lines_history "
        "where allocation_run_id = $1 order by id",
        round_id,
    )
    return {"lines": [tuple(r) for r in lines], "history": [tuple(r) for r in history]}


async def run_row(conn: asyncpg.Connection, run_id: uuid.UUID) -> dict[str, Any]:
    return dict(await conn.fetchrow("select * from allocation_planner_runs where id = $1", run_id))


async def insert_run(
    conn: asyncpg.Connection,
    rnd: Any,
    *,
    constraints: Iterable[str] = ("VIC_PGY2",),
    params: dict[str, Any] | None = None,
) -> uuid.UUID:
    return await conn.fetchval(
        "insert into allocation_planner_runs (organization_id, allocation_run_id, constraints, "
        "params) values ($1, $2, $3, $4) returning id",
        rnd.organization_id,
        rnd.allocation_run_id,
        list(constraints),
        params if params is not None else {"time_limit_s": 30, "seed": 0},
    )
