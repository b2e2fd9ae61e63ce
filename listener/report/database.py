"""Gathering the plan report of a COMPLETED run from the database (`receptor-planner report`).

Every query (listener/sql/report_*.sql) starts from the run row and reads only rows of its
organisation and round. The change report is the one stored in the run's result under
`changes` when there is one; otherwise it is recomputed from the snapshot of the lines the
run replaced (job_lines_history), pairing by label first where that is an optimal pairing.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg

from constraints.changes import ChangeReport, change_report, natural_key
from constraints.loading import PlanError, load_plan
from constraints.plan import Plan
from constraints.solution import LineSource, SolutionLine
from listener.report.data import ReportData, gather
from listener.sql import query


class ReportError(Exception):
    """The run cannot be reported on; the message says why, for the person who asked."""


@dataclass(frozen=True)
class RunRecord:
    id: uuid.UUID
    organization_id: uuid.UUID
    allocation_run_id: uuid.UUID
    state: str
    constraints: tuple[str, ...]
    params: Mapping[str, Any]
    result: Mapping[str, Any]
    finished_at: Any
    round_name: str


async def fetch_report(conn: asyncpg.Connection, run_id: uuid.UUID) -> ReportData:
    run = await fetch_run(conn, run_id)
    rows = {
        name: await conn.fetch(query(f"report_{name}"), run.id)
        for name in ("terms", "units", "demand", "lines", "previous_lines")
    }
    lines = solution_lines(rows["lines"])
    expected = run.result.get("line_count")
    if expected is not None and len(lines) != expected:
        raise ReportError(
            f"The lines of run {run.id} have since been replaced (by a later run or an undo): "
            f"{len(lines)} of its {expected} lines remain. Report on the run whose lines are "
            "current instead."
        )
    plan = _plan(run, rows)
    stored = run.result.get("changes")
    changes = ChangeReport.from_json(stored) if stored else change_report(plan, lines)
    return gather(
        plan,
        lines,
        status=str(run.result.get("status", run.state)),
        objective=run.result.get("objective") or {},
        explanation=run.result.get("explanation") or (),
        changes=changes,
        origin=f"run {run.id}, completed {run.finished_at:%Y-%m-%d %H:%M %Z}".rstrip(),
    )


async def fetch_run(conn: asyncpg.Connection, run_id: uuid.UUID) -> RunRecord:
    row = await conn.fetchrow(query("report_run"), run_id)
    if row is None:
        raise ReportError(f"There is no planner run {run_id}.")
    if row["state"] != "COMPLETED":
        raise ReportError(
            f"Run {run_id} is {row['state']}: only a COMPLETED run has job lines to report on."
        )
    return RunRecord(
        id=row["id"],
        organization_id=row["organization_id"],
        allocation_run_id=row["allocation_run_id"],
        state=row["state"],
        constraints=tuple(row["constraints"]),
        params=_json(row["params"]),
        result=_json(row["result"]),
        finished_at=row["finished_at"],
        round_name=row["round_name"],
    )


def solution_lines(rows: Iterable[Mapping[str, Any]]) -> list[SolutionLine]:
    """Rotation rows -> lines: locked lines first, then partial, then the new lines, each in
    label order (as the solver hands them out)."""
    rotations: dict[str, dict[int, str]] = defaultdict(dict)
    locked_terms: dict[str, set[int]] = defaultdict(set)
    line_locked: dict[str, bool] = {}
    for row in rows:
        label = row["label"]
        rotations[label][row["term"]] = row["unit"]
        line_locked[label] = row["line_locked"]
        if row["line_locked"] or row["locked"]:
            locked_terms[label].add(row["term"])
    lines = []
    for label, by_term in rotations.items():
        terms = frozenset(locked_terms.get(label, ()))
        source: LineSource = "locked" if line_locked[label] else "partial" if terms else "new"
        lines.append(SolutionLine(label, dict(by_term), terms, source))
    order = {"locked": 0, "partial": 1, "new": 2}
    return sorted(lines, key=lambda ln: (order[ln.source], natural_key(ln.label)))


def _plan(run: RunRecord, rows: Mapping[str, list]) -> Plan:
    """The round as a plan document (the plan-file format), read by the engine's loader; the
    current lines are the unlocked lines the run replaced."""
    lines = solution_lines(rows["lines"])
    previous: dict[str, dict[int, str]] = defaultdict(dict)
    had_lock: set[str] = set()
    for row in rows["previous_lines"]:
        previous[row["label"]][row["term"]] = row["unit"]
        if row["locked"]:
            had_lock.add(row["label"])
    doc = {
        "name": run.round_name,
        "terms": [dict(t) for t in rows["terms"]],
        "units": [{**dict(u), "experiences": list(u["experiences"])} for u in rows["units"]],
        "demand": [
            {"unit": d["unit"], "term": d["term"], "min": d["min_lines"], "max": d["max_lines"]}
            for d in rows["demand"]
        ],
        "locked_lines": [
            {"label": ln.label, "rotations": {str(t): ln.rotations[t] for t in ln.locked_terms}}
            for ln in lines
            if ln.source != "new"
        ],
        # a replaced line with locked rotations was a partial line, not a current one
        "current_lines": [
            {"label": label, "rotations": {str(t): u for t, u in by_term.items()}}
            for label, by_term in previous.items()
            if label not in had_lock
        ],
        "constraints": list(run.constraints),
        "params": dict(run.params),
    }
    try:
        return load_plan(doc)
    except PlanError as exc:
        raise ReportError(f"The round of run {run.id} no longer reads as a plan: {exc}") from exc


def _json(value: Any) -> Mapping[str, Any]:
    if value is None:
        return {}
    return json.loads(value) if isinstance(value, str) else value
