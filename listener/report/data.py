"""What the plan report shows, as typed values, and how it is gathered from a plan and a
solve result (pure; the database gathering is in `listener.report.database`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from constraints.changes import ChangeReport, ChangeStatus
from constraints.plan import Plan
from constraints.rotations import LineShapeError, read_line
from constraints.solution import SolutionLine


@dataclass(frozen=True)
class ReportTerm:
    ordinal: int
    name: str
    weeks: int


@dataclass(frozen=True)
class ReportUnit:
    code: str
    name: str
    specialty: str
    kind: str
    nights: bool
    span_terms: int


@dataclass(frozen=True)
class ReportLine:
    label: str
    rotations: Mapping[int, str]  # term -> unit code
    locked_terms: frozenset[int]
    source: str  # "locked" | "partial" | "new"
    change: ChangeStatus | None = None  # None: a locked or partial line, or no change report
    changed_terms: frozenset[int] = frozenset()
    previous_units: Mapping[int, str | None] = field(default_factory=dict)  # changed terms
    previous_label: str | None = None


@dataclass(frozen=True)
class Coverage:
    unit: str
    term: int
    min: int
    max: int
    placed: int

    @property
    def missing(self) -> int:
        return max(self.min - self.placed, 0)

    @property
    def over(self) -> int:
        return max(self.placed - self.max, 0)


@dataclass(frozen=True)
class ReportData:
    title: str
    origin: str  # where the plan came from, e.g. "plan.json" or "run 5f0c..."
    status: str
    constraints: tuple[str, ...]
    terms: tuple[ReportTerm, ...]
    units: tuple[ReportUnit, ...]
    lines: tuple[ReportLine, ...]
    coverage: tuple[Coverage, ...]
    fairness: tuple[tuple[int, int], ...]  # (service-or-nights rotations, lines with that many)
    objective: Mapping[str, int]
    changes: ChangeReport | None
    explanation: tuple[str, ...]
    current_line_count: int


def gather(
    plan: Plan,
    lines: Sequence[SolutionLine],
    *,
    status: str,
    objective: Mapping[str, int],
    explanation: Sequence[str],
    changes: ChangeReport | None,
    origin: str,
) -> ReportData:
    return ReportData(
        title=plan.name,
        origin=origin,
        status=status,
        constraints=plan.constraints,
        terms=tuple(ReportTerm(t.ordinal, t.name, t.weeks) for t in plan.terms),
        units=tuple(
            ReportUnit(u.code, u.name, u.specialty, u.kind, u.nights, u.span_terms)
            for u in plan.units
        ),
        # a first generation has nothing to compare with: no line is marked new or changed
        lines=report_lines(lines, changes if plan.current_lines else None),
        coverage=coverage(plan, lines),
        fairness=fairness_spread(plan, lines),
        objective=dict(objective),
        changes=changes,
        explanation=tuple(explanation),
        current_line_count=len(plan.current_lines),
    )


def report_lines(
    lines: Sequence[SolutionLine], changes: ChangeReport | None
) -> tuple[ReportLine, ...]:
    by_label = {c.label: c for c in changes.lines if c.status != "removed"} if changes else {}
    out = []
    for line in lines:
        entry = by_label.get(line.label) if line.source == "new" else None
        out.append(
            ReportLine(
                label=line.label,
                rotations=dict(line.rotations),
                locked_terms=frozenset(line.locked_terms),
                source=line.source,
                change=entry.status if entry else None,
                changed_terms=_changed_terms(entry.status, entry.terms, line)
                if entry
                else frozenset(),
                previous_units={c.term: c.old for c in entry.terms} if entry else {},
                previous_label=entry.previous_label if entry else None,
            )
        )
    return tuple(out)


def _changed_terms(status: str, terms: Sequence, line: SolutionLine) -> frozenset[int]:
    if status == "new":
        return frozenset(line.rotations)  # every term of an unpaired line counts as changed
    return frozenset(c.term for c in terms)


def coverage(plan: Plan, lines: Sequence[SolutionLine]) -> tuple[Coverage, ...]:
    """Placed lines against min/max for every open (unit, term), in the plan's unit order."""
    placed = Counter((unit, term) for line in lines for term, unit in line.rotations.items())
    order = {u.code: k for k, u in enumerate(plan.units)}
    rows = sorted(plan.demand, key=lambda d: (order.get(d.unit, len(order)), d.unit, d.term))
    return tuple(Coverage(d.unit, d.term, d.min, d.max, placed[(d.unit, d.term)]) for d in rows)


def fairness_spread(plan: Plan, lines: Sequence[SolutionLine]) -> tuple[tuple[int, int], ...]:
    """How many lines carry 0, 1, 2... service-or-nights rotations (a six-month rotation and
    a rotation that is both count once, as in the fairness objective)."""
    counts = Counter(_service_nights(plan, line.rotations) for line in lines)
    top = max(counts, default=0)
    return tuple((k, counts.get(k, 0)) for k in range(top + 1))


def _service_nights(plan: Plan, rotations: Mapping[int, str]) -> int:
    try:
        return sum(r.unit.is_service_or_nights for r in read_line(plan, rotations))
    except LineShapeError:  # a malformed line (the checker reports it): count its terms
        units = plan.unit_by_code
        return sum(units[c].is_service_or_nights for c in rotations.values() if c in units)
