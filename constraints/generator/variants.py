"""Infeasible variants of a generated plan, each with one known cause.

Every variant starts from a feasible generated plan (no locks) and breaks it in one way. The
plan still loads (no `PlanError`): these are refusals the solver must explain. Each function's
docstring names the cause, so tests can assert that the explanation mentions it.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Callable

Variant = Callable[[dict, list[dict[int, str]], list[str], random.Random], None]


def term_demand_over_max_lines(doc: dict, built, labels, rng) -> None:
    """`params.max_lines` is one below the largest per-term sum of minimum demand.

    Cause: in the term with the largest total minimum demand ("Term k: minimum demand adds up to
    S"), S lines are needed but only S - 1 are allowed. The term is the first with that sum.
    """
    sums = _min_sums(doc)
    worst = max(sums.values())
    doc["params"]["max_lines"] = worst - 1


def experience_capacity(doc: dict, built, labels, rng) -> None:
    """Too few places with AMC experience C for the VIC rule set (both need C on every line).

    Minimums of C units drop to 0 and their maximums are cut so the whole year offers
    L - 1 C places, where L = the largest per-term sum of the remaining minimum demand (the
    fewest lines the plan needs). Cause: experience category C (acute and critical illness)
    under VIC_PGY1/VIC_PGY2: every line needs a C rotation but at most L - 1 exist. (In a
    PGY1 year D capacity drops too, since the surgical units offer both C and D.)
    """
    c_units = {u["code"] for u in doc["units"] if "C" in u["experiences"]}
    c_rows = [d for d in doc["demand"] if d["unit"] in c_units]
    for row in c_rows:
        row["min"] = 0
    needed = max(_min_sums(doc).values())
    budget = needed - 1
    total = sum(row["max"] for row in c_rows)
    for row in c_rows:
        row["max"] = row["max"] * budget // total
    for row in c_rows[: budget - sum(row["max"] for row in c_rows)]:
        row["max"] += 1


def locked_breaks_rule(doc: dict, built, labels, rng) -> None:
    """One constructed line is locked with the same unit in two terms.

    Cause: locked line `doc["locked_lines"][0]["label"]` has two rotations in one subspecialty,
    which VIC_PGY1/VIC_PGY2 forbid ("at most one rotation in any one subspecialty"). The demand
    max of the repeated unit-term is raised by one so only the rule is broken.
    """
    line, label, source, target = _line_to_break(doc, built, labels)
    repeated = line[source]
    broken = dict(line)
    broken[target] = repeated
    _open(doc, repeated, target, extra=1)
    doc["locked_lines"] = [
        {"label": label, "rotations": {str(t): broken[t] for t in sorted(broken)}}
    ]
    doc["current_lines"] = [c for c in doc["current_lines"] if c["label"] != label]


def _line_to_break(doc: dict, built, labels) -> tuple[dict[int, str], str, int, int]:
    """The first line with a one-term clinical rotation (source) and another one-term slot."""
    units = {u["code"]: u for u in doc["units"]}
    for line, label in zip(built, labels, strict=True):
        singles = [t for t, c in sorted(line.items()) if units[c]["span_terms"] == 1]
        clinical = [t for t in singles if units[line[t]]["kind"] == "clinical"]
        if clinical and len(singles) >= 2:
            return line, label, clinical[0], next(t for t in singles if t != clinical[0])
    raise RuntimeError("no line to break")  # every generated line has relief + clinical


def six_month_cannot_fit(doc: dict, built, labels, rng) -> None:
    """A new six-month unit `CLP6-X` needs exactly one doctor in each of terms 1, 2 and 3.

    Cause: six-month rotations of CLP6-X can only start in terms 1 or 2 (term 4 is closed), so
    term 2's count is term 1's plus term 3's: 1 = 1 + 1 cannot hold. The explanation should
    name CLP6-X and its terms 1-3.
    """
    doc["units"].append(
        {
            "code": "CLP6-X",
            "name": "Consultation-Liaison Psychiatry (six months)",
            "specialty": "Psychiatry",
            "subspecialty": "Consultation-Liaison Psychiatry",
            "experiences": ["A", "B"],
            "kind": "clinical",
            "nights": False,
            "span_terms": 2,
            "leave_weeks": 0,
        }
    )
    doc["demand"] += [{"unit": "CLP6-X", "term": t, "min": 1, "max": 1} for t in (1, 2, 3)]


def demand_conflicts_rule(doc: dict, built, labels, rng) -> None:
    """Nights demand over the year exceeds what MAX_ONE_NIGHTS lets the allowed lines do.

    Each term's minimum nights demand is raised to ceil((max_lines + 1) / T), so the year needs
    at least max_lines + 1 nights rotations while each of at most max_lines lines may take only
    one. Every single term still fits (other minimums are lowered where needed). Cause: only
    the combination explains it, the nights units (stem `NGT`) together with MAX_ONE_NIGHTS
    and params.max_lines.
    """
    if "MAX_ONE_NIGHTS" not in doc["constraints"]:
        doc["constraints"] = [c for c in doc["constraints"] if c != "NO_NIGHTS"]
        doc["constraints"].append("MAX_ONE_NIGHTS")
    max_lines = doc["params"]["max_lines"]
    terms = [t["ordinal"] for t in doc["terms"]]
    per_term = math.ceil((max_lines + 1) / len(terms))
    nights = sorted(u["code"] for u in doc["units"] if u["nights"])
    for term in terms:
        for i, code in enumerate(nights):
            share = per_term // len(nights) + (1 if i < per_term % len(nights) else 0)
            _open(doc, code, term, extra=0)
            row = _row(doc, code, term)
            row["min"] = share
            row["max"] = max(row["max"], share + 1)
        others = [d for d in doc["demand"] if d["term"] == term and d["unit"] not in nights]
        excess = _min_sums(doc)[term] - max_lines
        while excess > 0:
            row = rng.choice([d for d in others if d["min"] > 0])
            row["min"] -= 1
            excess -= 1


def subspecialty_demand_conflicts_rule(doc: dict, built, labels, rng) -> None:
    """One unit's minimum demand over the year exceeds what one-per-subspecialty allows.

        The busiest clinical one-term day unit (no nights) needs ceil((max_lines + 1) / T) doctors
        in every term, so the year needs max_lines + 1 rotations in its subspecialty while each
        line may take only one (VIC_PGY1/VIC_PGY2: "at most one rotation in any one
        subspecialty"). Every term still fits on its own (other minimums are lowered to leave
    max_lines - lines of room), and without the rule set the plan is feasible. No counting
        pre-check sees it (a per-subspecialty limit is not a year total). Cause: that unit's
        demand in every term together with the rule set's one-per-subspecialty limit; only the
        solver-based explanation finds it, naming the unit, its terms and the rule set.
    """
    max_lines = doc["params"]["max_lines"]
    terms = [t["ordinal"] for t in doc["terms"]]
    per_term = math.ceil((max_lines + 1) / len(terms))
    load: dict[str, int] = defaultdict(int)
    for row in doc["demand"]:
        load[row["unit"]] += row["max"]
    day = [
        u
        for u in doc["units"]
        if u["kind"] == "clinical" and not u["nights"] and u["span_terms"] == 1
    ]
    unit = max(day, key=lambda u: (load[u["code"]], u["code"]))
    code, sub = unit["code"], unit["subspecialty"]
    twins = {u["code"] for u in doc["units"] if u["subspecialty"] == sub and u["code"] != code}
    for row in doc["demand"]:
        if row["unit"] in twins:
            row["min"] = 0  # only `code` carries the subspecialty's demand
    for term in terms:
        _open(doc, code, term, extra=0)
        row = _row(doc, code, term)
        row["min"] = per_term
        row["max"] = max(row["max"], per_term + 1)
        others = [d for d in doc["demand"] if d["term"] == term and d["unit"] != code]
        excess = _min_sums(doc)[term] - len(built)  # room to spare: only the rule binds
        while excess > 0:
            pick = rng.choice([d for d in others if d["min"] > 0])
            pick["min"] -= 1
            excess -= 1


VARIANTS: dict[str, Variant] = {
    "term_demand_over_max_lines": term_demand_over_max_lines,
    "experience_capacity": experience_capacity,
    "locked_breaks_rule": locked_breaks_rule,
    "six_month_cannot_fit": six_month_cannot_fit,
    "demand_conflicts_rule": demand_conflicts_rule,
    "subspecialty_demand_conflicts_rule": subspecialty_demand_conflicts_rule,
}


def six_month_never_placeable(doc: dict, built, labels, rng) -> None:
    """A new six-month unit `CLP6-Z`, open only in terms 1 and 3, needs one doctor in term 1.

    Cause: CLP6-Z is a six-month unit with no two consecutive open terms, so no rotation can
    ever be placed in it and its minimum of 1 in term 1 can never be met. DOMAIN.md allows the
    unit (it is unusable, not malformed): the engine must answer INFEASIBLE naming CLP6-Z and
    term 1. (The loader on main still refuses the plan as bad input: issue 14, item 1.)
    """
    doc["units"].append(
        {
            "code": "CLP6-Z",
            "name": "Consultation-Liaison Psychiatry (six months, alternate terms)",
            "specialty": "Psychiatry",
            "subspecialty": "Consultation-Liaison Psychiatry",
            "experiences": ["A", "B"],
            "kind": "clinical",
            "nights": False,
            "span_terms": 2,
            "leave_weeks": 0,
        }
    )
    doc["demand"] += [
        {"unit": "CLP6-Z", "term": 1, "min": 1, "max": 2},
        {"unit": "CLP6-Z", "term": 3, "min": 0, "max": 2},
    ]


# Variants whose plans the loader on main refuses (a six-month unit that can never be placed);
# kept apart so the loader tests over VARIANTS stay about what main accepts.
UNUSABLE_SIX_MONTH_VARIANTS: dict[str, Variant] = {
    "six_month_never_placeable": six_month_never_placeable,
}
ALL_VARIANTS: dict[str, Variant] = {**VARIANTS, **UNUSABLE_SIX_MONTH_VARIANTS}


def apply_variant(
    name: str, doc: dict, built: list[dict[int, str]], labels: list[str], rng: random.Random
) -> None:
    ALL_VARIANTS[name](doc, built, labels, rng)


def cause_of(name: str) -> str:
    """The variant's cause in words: its docstring's first paragraph after "Cause:"."""
    doc = ALL_VARIANTS[name].__doc__ or ""
    paragraphs = [" ".join(part.split()) for part in doc.split("\n\n")]
    caused = [p for p in paragraphs if "Cause:" in p]
    text = caused[0] if caused else paragraphs[0]
    return text[text.find("Cause:") + len("Cause:") :].strip() if "Cause:" in text else text


def _min_sums(doc: dict) -> dict[int, int]:
    sums: dict[int, int] = defaultdict(int)
    for row in doc["demand"]:
        sums[row["term"]] += row["min"]
    return dict(sums)


def _row(doc: dict, code: str, term: int) -> dict:
    return next(d for d in doc["demand"] if d["unit"] == code and d["term"] == term)


def _open(doc: dict, code: str, term: int, *, extra: int) -> None:
    """Make sure `code` is open in `term`, with `extra` more room than before."""
    for row in doc["demand"]:
        if row["unit"] == code and row["term"] == term:
            row["max"] += extra
            return
    doc["demand"].append({"unit": code, "term": term, "min": 0, "max": max(1, extra)})
