"""Hand-written plans for rule-set and checker tests: every unit open in every term."""

from __future__ import annotations

from constraints.loading import load_plan
from constraints.plan import Plan
from constraints.solution import SolutionLine

UNITS = [
    # code, specialty, subspecialty, experiences, kind, nights, span_terms, leave_weeks
    ("ED", "Emergency Medicine", "Emergency Medicine", "AC", "clinical", False, 1, 0),
    ("GM", "Medicine", "General Medicine", "AB", "clinical", False, 1, 0),
    ("CARD", "Medicine", "Cardiology", "BC", "clinical", False, 1, 0),
    ("CARD2", "Medicine", "Cardiology", "BC", "clinical", False, 1, 0),
    ("GS", "Surgery", "General Surgery", "CD", "clinical", False, 1, 0),
    ("ORTH", "Surgery", "Orthopaedics", "D", "clinical", False, 1, 0),
    ("PSY", "Psychiatry", "Adult Psychiatry", "AB", "clinical", False, 1, 0),
    ("REL", "Relief", "Medical Relief", "", "service", False, 1, 5),
    ("RELS", "Relief", "Surgical Relief", "", "service", False, 1, 0),
    ("NGT", "Medicine", "After-hours Medicine", "AC", "clinical", True, 1, 0),
    ("NGT2", "Emergency Medicine", "ED Nights", "AC", "clinical", True, 1, 0),
    ("RES", "Research", "Research", "", "non_clinical", False, 1, 0),
    ("EDU", "Medical Education", "Medical Education", "", "non_clinical", False, 1, 0),
    ("LEAVE", "Leave", "Leave", "", "leave", False, 1, 0),
    ("PSY6", "Psychiatry", "Consultation-Liaison Psychiatry", "AB", "clinical", False, 2, 0),
    ("ICU6", "Intensive Care", "Intensive Care", "C", "clinical", False, 2, 0),
    ("NREL6", "Relief", "Night Relief", "", "service", True, 2, 0),
]
PGY1_WEEKS = (10, 10, 10, 11, 11)
PGY2_WEEKS = (13, 13, 13, 13)


def small_doc(weeks=PGY2_WEEKS, constraints=(), *, max_demand: int = 10, **extra) -> dict:
    doc = {
        "name": "Small test plan",
        "terms": [{"ordinal": i, "name": f"Term {i}", "weeks": w} for i, w in enumerate(weeks, 1)],
        "units": [
            {
                "code": code,
                "name": code,
                "specialty": specialty,
                "subspecialty": subspecialty,
                "experiences": list(experiences),
                "kind": kind,
                "nights": nights,
                "span_terms": span,
                "leave_weeks": leave,
            }
            for code, specialty, subspecialty, experiences, kind, nights, span, leave in UNITS
        ],
        "demand": [
            {"unit": u[0], "term": t, "min": 0, "max": max_demand}
            for u in UNITS
            for t in range(1, len(weeks) + 1)
        ],
        "constraints": list(constraints),
    }
    doc.update(extra)
    return doc


def small_plan(weeks=PGY2_WEEKS, constraints=(), **extra) -> Plan:
    return load_plan(small_doc(weeks, constraints, **extra))


def line(label: str, *units: str, locked: tuple[int, ...] = ()) -> SolutionLine:
    """A line from its units in term order (a six-month unit is written twice)."""
    return SolutionLine(label, dict(enumerate(units, 1)), frozenset(locked))


def unit_doc(code: str, kind: str = "clinical") -> dict:
    """A plan-file unit that differs from the others only by its code (and kind)."""
    return {
        "code": code,
        "name": code,
        "specialty": code,
        "subspecialty": code,
        "experiences": ["A"],
        "kind": kind,
        "nights": False,
        "span_terms": 1,
        "leave_weeks": 0,
    }
