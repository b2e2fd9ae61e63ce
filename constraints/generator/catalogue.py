"""The units a generated Victorian health service offers its junior doctors.

Each specialty entry becomes one unit per campus that hosts it. Tiers scale the catalogue
with the size of the year: a 24-line hospital runs the core units only, a 1000-line network
runs every subspecialty at several campuses.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

# tier 1 = every hospital; 2 = from ~60 lines; 3 = from ~200 lines
TIER_FROM_LINES = {1: 0, 2: 60, 3: 200}
CAMPUSES = (
    ("A", "Central"),
    ("B", "Northern"),
    ("C", "Eastern"),
    ("D", "Western"),
    ("E", "Bayside"),
    ("F", "Hills"),
)
RELIEF_LEAVE_WEEKS = 5  # annual leave lives inside the relief rotation (DOMAIN.md)


@dataclass(frozen=True)
class Entry:
    stem: str  # code prefix; the campus letter is appended
    name: str
    specialty: str
    subspecialty: str
    experiences: str  # AMC categories, e.g. "AC"
    kind: str = "clinical"
    nights: bool = False
    span_terms: int = 1
    leave_weeks: int = 0
    weight: int = 1  # how often a line is placed here, relative to the others
    tier: int = 1
    years: str = "PGY1 PGY2"


CATALOGUE: tuple[Entry, ...] = (
    Entry("ED", "Emergency Department", "Emergency Medicine", "Emergency Medicine", "AC", weight=5),
    Entry("GM", "General Medicine", "Medicine", "General Medicine", "AB", weight=5),
    Entry("CARD", "Cardiology", "Medicine", "Cardiology", "BC", weight=2),
    Entry("RESP", "Respiratory Medicine", "Medicine", "Respiratory", "B", weight=2),
    Entry("GER", "Geriatric Medicine", "Medicine", "Geriatrics", "B", weight=2),
    Entry("GS", "General Surgery", "Surgery", "General Surgery", "CD", weight=4),
    Entry("ORTH", "Orthopaedic Surgery", "Surgery", "Orthopaedics", "D", weight=2),
    Entry("ANAES", "Anaesthetics", "Anaesthetics", "Anaesthetics", "CD", weight=1, years="PGY2"),
    Entry("PSY", "Adult Psychiatry", "Psychiatry", "Adult Psychiatry", "AB", weight=2),
    Entry(
        "PSY6",
        "Adult Psychiatry (six months)",
        "Psychiatry",
        "Adult Psychiatry",
        "AB",
        span_terms=2,
        weight=1,
        years="PGY2",
    ),
    Entry(
        "NGT",
        "Night Medicine",
        "Medicine",
        "After-hours Medicine",
        "AC",
        nights=True,
        weight=2,
    ),
    Entry(
        "RELM",
        "Medical Relief",
        "Relief",
        "Medical Relief",
        "",
        kind="service",
        leave_weeks=RELIEF_LEAVE_WEEKS,
    ),
    Entry("GAST", "Gastroenterology", "Medicine", "Gastroenterology", "B", tier=2, weight=2),
    Entry("REN", "Renal Medicine", "Medicine", "Renal", "B", tier=2),
    Entry("ONC", "Medical Oncology", "Medicine", "Oncology", "B", tier=2),
    Entry("REHAB", "Rehabilitation", "Rehabilitation", "Rehabilitation", "B", tier=2),
    Entry("URO", "Urology", "Surgery", "Urology", "D", tier=2),
    Entry("CRS", "Colorectal Surgery", "Surgery", "Colorectal", "D", tier=2),
    Entry("PAED", "Paediatrics", "Paediatrics", "Paediatrics", "AC", tier=2, weight=2),
    Entry("OG", "Obstetrics and Gynaecology", "Obstetrics and Gynaecology", "O&G", "CD", tier=2),
    Entry("ICU", "Intensive Care", "Intensive Care", "Intensive Care", "C", tier=2, years="PGY2"),
    Entry(
        "RELS",
        "Surgical Relief",
        "Relief",
        "Surgical Relief",
        "",
        kind="service",
        leave_weeks=RELIEF_LEAVE_WEEKS,
        tier=2,
    ),
    Entry("RES", "Clinical Research", "Research", "Research", "", kind="non_clinical", tier=2),
    Entry("VASC", "Vascular Surgery", "Surgery", "Vascular", "D", tier=3),
    Entry("PALL", "Palliative Care", "Medicine", "Palliative Care", "B", tier=3),
    Entry(
        "EDU",
        "Medical Education",
        "Medical Education",
        "Medical Education",
        "",
        kind="non_clinical",
        tier=3,
        years="PGY2",
    ),
    Entry(
        "PSYX",
        "Psychiatry (extended, two terms)",
        "Psychiatry",
        "Consultation-Liaison Psychiatry",
        "AB",
        span_terms=2,
        tier=3,
        years="PGY1",
    ),
)


def campus_count(lines: int) -> int:
    return 1 if lines < 60 else 2 if lines < 200 else 3 if lines < 500 else 6


def campuses(count: int) -> list[tuple[str, str]]:
    """The first six named campuses, then numbered hospitals (a state-wide round has ~30)."""
    extra = [(_letters(i), f"Hospital {i + 1}") for i in range(len(CAMPUSES), count)]
    return list(CAMPUSES[:count]) + extra


def _letters(i: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA: a campus suffix for unit codes."""
    return chr(ord("A") + i) if i < 26 else _letters(i // 26 - 1) + chr(ord("A") + i % 26)


def build_units(
    kind: str,
    lines: int,
    rng: random.Random,
    *,
    hospitals: int | None = None,
    units: int | None = None,
    shortest_term: int | None = None,
) -> list[dict]:
    """Unit documents (plan-file format) with a `weight` key the sampler removes later.

    Without `units`, the catalogue scales with `lines` (tiers, campuses); with it, every entry
    of the year is offered once and further (entry, hospital) pairs are drawn until about
    `units` exist. Leave inside a rotation never exceeds `shortest_term` weeks.
    """
    hosts = campuses(campus_count(lines) if hospitals is None else hospitals)
    if units is None:
        pairs = _tiered_pairs(kind, lines, hosts, rng)
    else:
        pairs = _sized_pairs(kind, hosts, units, rng)
    many = len(hosts) > 1
    return [
        _unit_doc(entry, letter, campus, many, shortest_term) for entry, letter, campus in pairs
    ]


def _tiered_pairs(
    kind: str, lines: int, hosts: list[tuple[str, str]], rng: random.Random
) -> list[tuple[Entry, str, str]]:
    pairs = []
    for entry in CATALOGUE:
        if kind not in entry.years.split() or lines < TIER_FROM_LINES[entry.tier]:
            continue
        # core units at every campus; the rarer ones at a random subset, never none
        if entry.tier == 1 or len(hosts) == 1:
            chosen = list(hosts)
        else:
            chosen = sorted(rng.sample(hosts, rng.randint(1, len(hosts))))
        pairs += [(entry, letter, campus) for letter, campus in chosen]
    return pairs


def _sized_pairs(
    kind: str, hosts: list[tuple[str, str]], units: int, rng: random.Random
) -> list[tuple[Entry, str, str]]:
    """Each entry at the first hospital (core tiers first), then random others up to `units`."""
    entries = sorted(
        (e for e in CATALOGUE if kind in e.years.split()), key=lambda e: (e.tier, -e.weight)
    )
    first = [(e, *hosts[0]) for e in entries][:units]
    rest = [(e, *h) for e in entries for h in hosts[1:]]
    # core entries are likelier at every hospital than the rarer ones
    rest.sort(key=lambda pair: rng.random() * pair[0].tier)
    chosen = first + rest[: max(0, units - len(first))]
    order = {id(e): i for i, e in enumerate(CATALOGUE)}
    return sorted(chosen, key=lambda pair: (order[id(pair[0])], pair[1]))


def _unit_doc(
    entry: Entry, letter: str, campus: str, many: bool, shortest_term: int | None
) -> dict:
    leave = entry.leave_weeks if shortest_term is None else min(entry.leave_weeks, shortest_term)
    return {
        "code": f"{entry.stem}-{letter}",
        "name": f"{entry.name} ({campus})" if many else entry.name,
        "specialty": entry.specialty,
        "subspecialty": entry.subspecialty,
        "experiences": list(entry.experiences),
        "kind": entry.kind,
        "nights": entry.nights,
        "span_terms": entry.span_terms,
        "leave_weeks": leave,
        "weight": entry.weight,
    }
