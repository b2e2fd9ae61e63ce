"""Seeded generator of realistic plan files, feasible by construction (or infeasible on purpose).

`generate_plan("PGY2", 120, seed=1)` builds a Victorian health service's year: it samples valid
lines first (each checked against the selected rule sets' clauses), then derives demand from
how many lines use each unit in each term, so those very lines satisfy the plan. Locked lines
and partially locked lines are taken from the constructed lines; current lines are a perturbed
copy of the rest (a previous year's plan). `generate(...)` also returns the constructed lines,
which tests feed to the checker.

Infeasible variants (`variant=`) each break the plan in one documented way; see `VARIANTS`
and the functions in `constraints.generator.variants`.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from constraints.generator.catalogue import build_units
from constraints.generator.sampler import LineSampler
from constraints.generator.variants import VARIANTS, apply_variant
from constraints.loading import load_plan
from constraints.plan import Demand, Plan, Term, Unit
from constraints.rotations import read_line
from constraints.rules import get_rule_set
from constraints.solution import SolutionLine

TERM_WEEKS = {"PGY1": (10, 10, 10, 11, 11), "PGY2": (13, 13, 13, 13)}
DEFAULT_CONSTRAINTS = {
    "PGY1": ("VIC_PGY1", "MAX_ONE_NIGHTS"),
    "PGY2": ("VIC_PGY2", "MAX_ONE_NIGHTS"),
}
CHANGED_SHARE = 0.25  # of current lines that differ from the constructed ones
SPARE_ROW_SHARE = 0.08  # unit-terms opened with spare capacity although no line uses them

__all__ = ["VARIANTS", "GeneratedPlan", "demo_plan", "generate", "generate_plan"]


@dataclass(frozen=True)
class GeneratedPlan:
    doc: dict  # the plan-file document
    lines: list[SolutionLine]  # the constructed lines (locked ones first); valid unless a variant


def generate_plan(kind: str, lines: int, seed: int, **options: Any) -> dict:
    """A plan-file document: `generate(kind, lines, seed, **options).doc`."""
    return generate(kind, lines, seed, **options).doc


def generate(
    kind: str,
    lines: int,
    seed: int,
    *,
    variant: str | None = None,
    constraints: Sequence[str] | None = None,
    locked: int | None = None,
    partial: int | None = None,
    current: bool = True,
) -> GeneratedPlan:
    """Build a plan of `lines` lines for a PGY1 (5 terms) or PGY2 (4 x 13 weeks) year.

    `locked` fully locked and `partial` partially locked lines are taken from the constructed
    lines (defaults: about 1 in 20 and 1 in 40); `current=True` adds a perturbed previous plan.
    Infeasible variants carry no locks except the one `locked_breaks_rule` adds.
    """
    if kind not in TERM_WEEKS:
        raise ValueError(f"kind must be PGY1 or PGY2, not {kind!r}")
    if lines < 1:
        raise ValueError("lines must be at least 1")
    if variant is not None and variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}")
    rng = random.Random(f"{kind}/{lines}/{seed}")
    names = list(constraints or DEFAULT_CONSTRAINTS[kind])
    terms = [
        {"ordinal": i, "name": f"Term {i}", "weeks": w}
        for i, w in enumerate(TERM_WEEKS[kind], start=1)
    ]
    unit_docs = build_units(kind, lines, rng)
    weights = {u["code"]: u.pop("weight") for u in unit_docs}
    skeleton = _skeleton(terms, unit_docs)
    clauses = [c for name in names for c in get_rule_set(name).clauses_for(skeleton)]
    sampler = LineSampler(skeleton, clauses, weights)

    width = max(3, len(str(lines)))
    built = [sampler.sample(rng) for _ in range(lines)]
    labels = [f"L-{i:0{width}d}" for i in range(1, lines + 1)]

    if variant is not None:
        locked, partial = 0, 0
    n_locked = max(1, lines // 20) if locked is None else locked
    n_partial = max(1, lines // 40) if partial is None else partial
    n_locked = min(n_locked, lines)
    n_partial = min(n_partial, lines - n_locked)
    locked_docs, solution = _locks(skeleton, built, labels, n_locked, n_partial, rng)
    current_docs = []
    if current:
        rest = range(n_locked + n_partial, lines)
        current_docs = _current_lines(
            [built[i] for i in rest], [labels[i] for i in rest], sampler, rng
        )

    # units nobody uses, this year or last, would only be noise in the plan
    used = {code for line in built for code in line.values()}
    used |= {code for c in current_docs for code in c["rotations"].values()}
    unit_docs = [u for u in unit_docs if u["code"] in used]
    doc = {
        "name": f"Generated Health {kind} year, {lines} lines (seed {seed})",
        "terms": terms,
        "units": unit_docs,
        "demand": _demand(skeleton, unit_docs, built, rng),
        "locked_lines": locked_docs,
        "current_lines": current_docs,
        "constraints": names,
        "params": {
            "max_lines": lines + max(1, math.ceil(lines * 0.05)),
            "time_limit_s": 30,
            "seed": seed,
            "allow_shortfall": False,
        },
    }
    if variant is not None:
        doc["name"] += f" - infeasible: {variant}"
        apply_variant(variant, doc, built, labels, rng)
    load_plan(doc)  # a generator bug, never a user error, if this raises
    return GeneratedPlan(doc=doc, lines=solution)


def demo_plan() -> dict:
    """The small PGY2 plan shipped as examples/demo-plan.json (a test keeps them equal)."""
    doc = generate_plan("PGY2", 14, seed=2027, locked=1, partial=1)
    doc["name"] = "Demo Health 2027 PGY2"
    doc["params"]["time_limit_s"] = 10
    return doc


def _skeleton(terms: list[dict], unit_docs: list[dict]) -> Plan:
    """Terms and units only: enough to read lines and build clauses before demand exists."""
    units = tuple(
        Unit(
            code=u["code"],
            name=u["name"],
            specialty=u["specialty"],
            subspecialty=u["subspecialty"],
            experiences=frozenset(u["experiences"]),
            kind=u["kind"],
            nights=u["nights"],
            span_terms=u["span_terms"],
            leave_weeks=u["leave_weeks"],
        )
        for u in unit_docs
    )
    return Plan(
        name="skeleton",
        terms=tuple(Term(t["ordinal"], t["name"], t["weeks"]) for t in terms),
        units=units,
        demand=(Demand(units[0].code, 1, 0, 0),),
    )


def _demand(
    plan: Plan, unit_docs: list[dict], built: list[dict[int, str]], rng: random.Random
) -> list[dict]:
    """min = count - slack, max = count + slack, so the constructed lines always fit."""
    counts = Counter((code, term) for line in built for term, code in line.items())
    rows = []
    for unit in unit_docs:
        code = unit["code"]
        for term in plan.ordinals:
            count = counts[code, term]
            if count:
                low = count - rng.randint(0, count // 5)
                high = count + rng.randint(0, max(1, count // 4))
            elif unit["span_terms"] == 1 and rng.random() < SPARE_ROW_SHARE:
                low, high = 0, rng.randint(1, 2)
            else:
                continue
            rows.append({"unit": code, "term": term, "min": low, "max": high})
    return rows


def _locks(
    plan: Plan,
    built: list[dict[int, str]],
    labels: list[str],
    n_locked: int,
    n_partial: int,
    rng: random.Random,
) -> tuple[list[dict], list[SolutionLine]]:
    """The first lines become locked, the next partially locked (whole six-month rotations)."""
    docs: list[dict] = []
    solution: list[SolutionLine] = []
    for i, (line, label) in enumerate(zip(built, labels, strict=True)):
        if i < n_locked:
            kept, source = set(line), "locked"
        elif i < n_locked + n_partial:
            kept, source = _partial_terms(plan, line, rng), "partial"
        else:
            kept, source = set(), "new"
        if kept:
            rotations = {str(t): line[t] for t in sorted(kept)}
            docs.append({"label": label, "rotations": rotations})
        solution.append(SolutionLine(label, dict(line), frozenset(kept), source))
    return docs, solution


def _partial_terms(plan: Plan, line: dict[int, str], rng: random.Random) -> set[int]:
    rotations = [r.terms for r in read_line(plan, line)]
    chosen = rng.sample(rotations, rng.randint(1, max(1, len(rotations) - 1)))
    return {t for terms in chosen for t in terms}


def _current_lines(
    built: list[dict[int, str]], labels: list[str], sampler: LineSampler, rng: random.Random
) -> list[dict]:
    """Last year's lines: mostly the constructed ones, some resampled, a few missing."""
    docs = []
    for line, label in zip(built, labels, strict=True):
        roll = rng.random()
        if roll < 0.03:
            continue
        previous = sampler.sample(rng) if roll < CHANGED_SHARE else line
        docs.append({"label": label, "rotations": {str(t): previous[t] for t in sorted(previous)}})
    rng.shuffle(docs)
    return docs
