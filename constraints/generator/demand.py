"""Demand derived from the constructed lines, so those lines always meet it.

Each unit-term a constructed line uses gets min <= count <= max; `slack` sets how far apart
they are (0 = tight: min = max = count, so the constructed count of lines is optimal). A few
unused open unit-terms get spare places (min 0). Shortfall by construction then raises some
minimums above what the allowed lines can fill, by a known total.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence

from constraints.generator.openings import OpenTerms

SPARE_ROW_SHARE = 0.08  # unit-terms opened with spare capacity although no line uses them


def derive_demand(
    ordinals: Sequence[int],
    unit_docs: Sequence[dict],
    built: Sequence[dict[int, str]],
    rng: random.Random,
    *,
    open_terms: OpenTerms | None = None,
    slack: float | None = None,
) -> list[dict]:
    """min <= count <= max on every used unit-term; `slack=None` is the historical spread
    (min up to 20% below, max up to 25% above), a float the share either way."""
    counts = Counter((code, term) for line in built for term, code in line.items())
    opened = open_terms or {}
    rows = []
    for unit in unit_docs:
        code = unit["code"]
        for term in ordinals:
            count = counts[code, term]
            if count:
                low, high = _spread(count, slack, rng)
            elif (
                unit["span_terms"] == 1
                and rng.random() < SPARE_ROW_SHARE
                and term in opened.get(code, (term,))
            ):
                low, high = 0, rng.randint(1, 2)
            else:
                continue
            rows.append({"unit": code, "term": term, "min": low, "max": high})
    return rows


def _spread(count: int, slack: float | None, rng: random.Random) -> tuple[int, int]:
    if slack is None:
        return count - rng.randint(0, count // 5), count + rng.randint(0, max(1, count // 4))
    below = rng.randint(0, int(count * slack))
    above = rng.randint(0, int(count * slack + 0.5))
    return count - below, count + above


def never_used_rows(open_terms: OpenTerms, rng: random.Random) -> list[dict]:
    """Demand rows (min 0) for units no line can use, e.g. unusable six-month units."""
    return [
        {"unit": code, "term": term, "min": 0, "max": rng.randint(1, 3)}
        for code, terms in sorted(open_terms.items())
        for term in sorted(terms)
    ]


def add_shortfall(
    rows: list[dict], built: Sequence[dict[int, str]], total: int, rng: random.Random
) -> dict[int, int]:
    """Raise minimum demand so that, with at most len(built) lines, exactly `total` is missing.

    In each chosen term every used row becomes tight (min = count), then minimums rise by the
    term's share of `total`. Each line fills one place per term, so with L = len(built) lines a
    term whose minimums add up to L + s misses at least s; the constructed lines miss exactly
    s. Callers set params.max_lines = L. Returns the missing places per term.
    """
    counts = Counter((code, term) for line in built for term, code in line.items())
    terms = sorted({row["term"] for row in rows if counts[row["unit"], row["term"]]})
    chosen = rng.sample(terms, min(len(terms), max(1, total // 3)))
    per_term = {
        t: total // len(chosen) + (1 if i < total % len(chosen) else 0)
        for i, t in enumerate(chosen)
    }
    for term, missing in per_term.items():
        used = [r for r in rows if r["term"] == term and counts[r["unit"], term]]
        for row in used:
            row["min"] = counts[row["unit"], term]
        for _ in range(missing):
            row = rng.choice(used)
            row["min"] += 1
            row["max"] = max(row["max"], row["min"])
    return per_term
