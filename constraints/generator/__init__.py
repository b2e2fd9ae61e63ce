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
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from constraints.generator.catalogue import build_units
from constraints.generator.demand import add_shortfall, derive_demand, never_used_rows
from constraints.generator.openings import draw_openings, unusable_six_month_units
from constraints.generator.sampler import LineSampler
from constraints.generator.variants import ALL_VARIANTS, VARIANTS, apply_variant, cause_of
from constraints.loading import load_plan
from constraints.plan import Demand, Plan, Term, Unit
from constraints.rotations import read_line
from constraints.rules import get_rule_set
from constraints.solution import LineSource, SolutionLine

TERM_WEEKS = {"PGY1": (10, 10, 10, 11, 11), "PGY2": (13, 13, 13, 13)}
DEFAULT_CONSTRAINTS = {
    "PGY1": ("VIC_PGY1", "MAX_ONE_NIGHTS"),
    "PGY2": ("VIC_PGY2", "MAX_ONE_NIGHTS"),
}
CHANGED_SHARE = 0.25  # of current lines that differ from the constructed ones
MISSING_SHARE = 0.03  # of current lines that no longer exist

__all__ = [
    "ALL_VARIANTS",
    "VARIANTS",
    "Expected",
    "GeneratedPlan",
    "Shape",
    "demo_plan",
    "generate",
    "generate_plan",
]


@dataclass(frozen=True)
class Shape:
    """The widened options (issue 14); the defaults reproduce the historical plans exactly."""

    term_weeks: tuple[int, ...] | None = None  # default: the year kind's terms
    hospitals: int | None = None  # default: grows with the line count (1 to 6)
    units: int | None = None  # about this many units (before unused ones are dropped)
    closed_share: float = 0.0  # chance that a unit closes in a term
    unusable_six_month: int = 0  # six-month units with no two consecutive open terms
    slack: float | None = None  # demand spread (0 = tight); None: the historical spread
    churn: float = CHANGED_SHARE  # share of current lines resampled (a previous plan)
    extra_current: float = 0.0  # current lines beyond the constructed ones, as a share
    shortfall: int = 0  # > 0: allow_shortfall with exactly this minimal total shortfall
    time_limit_s: float = 30


@dataclass(frozen=True)
class Expected:
    """What is known about the plan by construction."""

    feasible: bool = True
    cause: str | None = None  # infeasible: the known cause, in words
    shortfall: int | None = None  # allow_shortfall: the proven minimal total shortfall
    lines: int | None = None  # tight demand: the constructed count is the optimal count


@dataclass(frozen=True)
class GeneratedPlan:
    doc: dict  # the plan-file document
    lines: list[SolutionLine]  # the constructed lines (locked ones first); valid unless a variant
    expected: Expected = field(default_factory=Expected)


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
    shape: Shape | None = None,
    check: bool = True,
) -> GeneratedPlan:
    """Build a plan of `lines` lines from the PGY1 or PGY2 catalogue.

    Terms default to PGY1's five (10/10/10/11/11 weeks) or PGY2's four 13-week terms; `shape`
    widens everything else. `locked` fully locked and `partial` partially locked lines are
    taken from the constructed lines (defaults: about 1 in 20 and 1 in 40); `current=True` adds
    a perturbed previous plan. Infeasible variants carry no locks except the one
    `locked_breaks_rule` adds. `check=False` skips the final load (plans the loader on main
    still refuses, see issue 14).
    """
    if kind not in TERM_WEEKS:
        raise ValueError(f"kind must be PGY1 or PGY2, not {kind!r}")
    if lines < 1:
        raise ValueError("lines must be at least 1")
    if variant is not None and variant not in ALL_VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; known: {', '.join(ALL_VARIANTS)}")
    shape = shape or Shape()
    rng = random.Random(f"{kind}/{lines}/{seed}")
    names = list(DEFAULT_CONSTRAINTS[kind] if constraints is None else constraints)
    weeks = shape.term_weeks or TERM_WEEKS[kind]
    terms = [{"ordinal": i, "name": f"Term {i}", "weeks": w} for i, w in enumerate(weeks, 1)]
    ordinals = list(range(1, len(weeks) + 1))
    unit_docs = build_units(
        kind,
        lines,
        rng,
        hospitals=shape.hospitals,
        units=shape.units,
        shortest_term=min(weeks) if shape.term_weeks else None,
    )
    weights = {u["code"]: u.pop("weight") for u in unit_docs}
    opened = draw_openings(unit_docs, ordinals, shape.closed_share, rng)
    skeleton = _skeleton(terms, unit_docs)
    clauses = [c for name in names for c in get_rule_set(name).clauses_for(skeleton)]
    sampler = LineSampler(skeleton, clauses, weights, opened)

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
            [built[i] for i in rest], [labels[i] for i in rest], sampler, rng, shape
        )

    # units nobody uses, this year or last, would only be noise in the plan
    used = {code for line in built for code in line.values()}
    used |= {code for c in current_docs for code in c["rotations"].values()}
    unit_docs = [u for u in unit_docs if u["code"] in used]
    demand = derive_demand(ordinals, unit_docs, built, rng, open_terms=opened, slack=shape.slack)
    if shape.unusable_six_month:
        unusable, unusable_open = unusable_six_month_units(shape.unusable_six_month, ordinals, rng)
        unit_docs += unusable
        demand += never_used_rows(unusable_open, rng)
    params: dict[str, Any] = {
        "max_lines": lines + max(1, math.ceil(lines * 0.05)),
        "time_limit_s": shape.time_limit_s,
        "seed": seed,
        "allow_shortfall": False,
    }
    expected = Expected(lines=lines if shape.slack == 0 and not shape.shortfall else None)
    if shape.shortfall:
        add_shortfall(demand, built, shape.shortfall, rng)
        params.update(max_lines=lines, allow_shortfall=True)
        expected = Expected(shortfall=shape.shortfall)
    doc: dict[str, Any] = {
        "name": f"Generated Health {kind} year, {lines} lines (seed {seed})",
        "terms": terms,
        "units": unit_docs,
        "demand": demand,
        "locked_lines": locked_docs,
        "current_lines": current_docs,
        "constraints": names,
        "params": params,
    }
    if variant is not None:
        doc["name"] += f" - infeasible: {variant}"
        apply_variant(variant, doc, built, labels, rng)
        expected = Expected(feasible=False, cause=cause_of(variant))
    if check:
        load_plan(doc)  # a generator bug, never a user error, if this raises
    return GeneratedPlan(doc=doc, lines=solution, expected=expected)


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
        source: LineSource
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
    built: list[dict[int, str]],
    labels: list[str],
    sampler: LineSampler,
    rng: random.Random,
    shape: Shape,
) -> list[dict]:
    """Last year's lines: mostly the constructed ones, some resampled (`shape.churn`), a few
    missing, and `shape.extra_current` more that this year drops."""
    docs = []
    for line, label in zip(built, labels, strict=True):
        roll = rng.random()
        if roll < MISSING_SHARE:
            continue
        previous = sampler.sample(rng) if roll < shape.churn else line
        docs.append({"label": label, "rotations": _rotations_doc(previous)})
    width = max(3, len(str(len(built))))
    for i in range(round(shape.extra_current * len(built))):
        docs.append(
            {"label": f"C-{i + 1:0{width}d}", "rotations": _rotations_doc(sampler.sample(rng))}
        )
    rng.shuffle(docs)
    return docs


def _rotations_doc(line: dict[int, str]) -> dict[str, str]:
    return {str(t): line[t] for t in sorted(line)}
