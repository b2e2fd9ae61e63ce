"""Which terms each unit is open in: hospitals close units for a term (a ward refurbished, a
consultant on leave), six-month units included; some six-month units end up unusable.

A unit with no demand row for a term is closed in that term (DOMAIN.md). Closures are drawn
before any line is sampled, so the constructed lines, and the demand derived from them, only
use open unit-terms.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

OpenTerms = dict[str, frozenset[int]]


def draw_openings(
    unit_docs: Sequence[dict], ordinals: Sequence[int], share: float, rng: random.Random
) -> OpenTerms:
    """Every unit open in every term, except that each unit-term closes with chance `share`.

    A one-term unit keeps at least one open term; a six-month unit keeps at least one pair of
    consecutive open terms, so it stays usable (unusable ones are made on purpose, below).
    Relief (service) units never close: every constructed line carries the year's leave there.
    """
    terms = list(ordinals)
    opened: OpenTerms = {}
    for unit in unit_docs:
        code = unit["code"]
        if share <= 0 or unit["kind"] == "service":
            opened[code] = frozenset(terms)
            continue
        kept = {t for t in terms if rng.random() >= share}
        if unit["span_terms"] == 2 and not any(t + 1 in kept for t in kept):
            start = rng.choice(terms[:-1])
            kept |= {start, start + 1}
        elif not kept:
            kept = {rng.choice(terms)}
        opened[code] = frozenset(kept)
    return opened


def unusable_six_month_units(
    count: int, ordinals: Sequence[int], rng: random.Random
) -> tuple[list[dict], OpenTerms]:
    """`count` six-month units open only in terms no two of which are consecutive.

    No rotation can ever be placed in them (a six-month rotation occupies two consecutive
    terms); their demand rows have minimum 0, so the plan stays feasible. DOMAIN.md allows
    them: it is ordinary hospital data (a unit that runs in alternate terms).
    """
    terms = list(ordinals)
    docs, opened = [], {}
    for i in range(count):
        parity = rng.randint(0, 1)
        alternate = [t for t in terms if t % 2 == parity]
        kept = set(rng.sample(alternate, max(1, len(alternate) - rng.randint(0, 1))))
        code = f"CLP6-{i + 1}"
        docs.append(
            {
                "code": code,
                "name": f"Consultation-Liaison Psychiatry (six months, stream {i + 1})",
                "specialty": "Psychiatry",
                "subspecialty": "Consultation-Liaison Psychiatry",
                "experiences": ["A", "B"],
                "kind": "clinical",
                "nights": False,
                "span_terms": 2,
                "leave_weeks": 0,
            }
        )
        opened[code] = frozenset(kept)
    return docs, opened
