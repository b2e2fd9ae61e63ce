"""The benchmark family: named plans with the shapes hospitals enter (issue 14, item 6).

Four to six terms of unequal length and a 13-term year, 14 to 500 units over 1 to 30
hospitals, closed unit-terms (unusable six-month units included), tight to loose demand, 0 to
40% of lines locked (mostly partially), heavy churn against the previous plan, shortfall by
construction, every rule-set combination, 24 to 2000 lines; plus infeasible plans with a
known cause. Every feasible plan comes with its constructed lines (a valid plan, the witness).

    uv run python -m constraints.generator --family DIR [--seed N]

writes DIR/NAME.json per plan, DIR/certificates/NAME.solution.json (the witness, feasible
plans) and DIR/NAME.cause.json (infeasible plans): the layout validate.py reads.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from constraints.generator import GeneratedPlan, Shape, generate

T4 = (13, 13, 13, 13)
T4_UNEVEN = (14, 12, 13, 13)
T5 = (10, 10, 10, 11, 11)
T5_MID = (10, 10, 11, 11, 10)
T6 = (9, 9, 9, 9, 8, 8)
T13 = (4,) * 13
PARTIAL_SHARE = 0.8  # of the locked lines, how many lock only some terms
PGY2_MORE = ("VIC_PGY2", "NO_NIGHTS", "NO_REPEAT_UNIT")
PGY1_MORE = ("VIC_PGY1", "MAX_ONE_NIGHTS", "NO_REPEAT_UNIT")


@dataclass(frozen=True)
class Member:
    name: str
    kind: str  # catalogue year: PGY1 or PGY2
    lines: int
    constraints: tuple[str, ...]
    shape: Shape = field(default_factory=Shape)
    locked_share: float = 0.05
    variant: str | None = None


def _m(name, kind, lines, rules, weeks, locked=0.05, variant=None, **shape) -> Member:
    limit = 30 if lines <= 500 else 60 if lines <= 1000 else 120
    built = Shape(term_weeks=weeks, time_limit_s=limit, **shape)
    return Member(name, kind, lines, tuple(rules), built, locked, variant)


FAMILY: tuple[Member, ...] = (
    # small: every rule-set combination, every term layout
    _m("g_s_t4_pgy2_tight", "PGY2", 24, ["VIC_PGY2"], T4, hospitals=1, units=14, slack=0.0),
    _m("g_s_t5_pgy1", "PGY1", 24, ["VIC_PGY1"], T5_MID, hospitals=1, units=18),
    _m("g_s_t6_pgy2", "PGY2", 40, ["VIC_PGY2"], T6, hospitals=1, units=24),
    _m("g_s_t4u_norule", "PGY2", 30, [], T4_UNEVEN, hospitals=1, units=16, slack=0.5),
    _m("g_s_t5_nonights", "PGY1", 40, ["NO_NIGHTS"], T5, hospitals=2, units=30),
    _m("g_s_t6_maxone", "PGY2", 40, ["MAX_ONE_NIGHTS"], T6, hospitals=2, units=30),
    _m("g_s_t4_norepeat", "PGY2", 30, ["NO_REPEAT_UNIT"], T4, hospitals=1, units=20),
    _m("g_s_t4_pgy2_all", "PGY2", 40, PGY2_MORE, T4, hospitals=2, units=30),
    _m("g_s_t5_pgy1_all", "PGY1", 40, PGY1_MORE, T5, hospitals=2, units=30),
    _m("g_s_t4_closed6", "PGY2", 40, ["VIC_PGY2"], T4, closed_share=0.15, unusable_six_month=1),
    _m("g_s_t5_pgy1_locked40", "PGY1", 60, ["VIC_PGY1"], T5, locked=0.4, hospitals=2, units=34),
    _m("g_s_t4_churn", "PGY2", 40, ["VIC_PGY2"], T4, churn=0.9, extra_current=0.2),
    _m("g_s_t4_shortfall", "PGY2", 40, ["VIC_PGY2"], T4, shortfall=3, hospitals=1, units=20),
    _m("g_s_t13_nonights", "PGY2", 60, ["NO_NIGHTS"], T13, hospitals=2, units=50, slack=1.0),
    # medium
    _m("g_m_t13_pgy2", "PGY2", 120, ["VIC_PGY2"], T13, hospitals=3, units=70),
    _m("g_m_t6_pgy2_tight", "PGY2", 120, ["VIC_PGY2", "MAX_ONE_NIGHTS"], T6, slack=0.0),
    _m("g_m_t6_pgy1", "PGY1", 120, ["VIC_PGY1"], T6, hospitals=3, units=50),
    _m("g_m_t5_pgy1_locked40", "PGY1", 120, ["VIC_PGY1", "MAX_ONE_NIGHTS"], T5, locked=0.4),
    _m(
        "g_m_t4_pgy2_closed6",
        "PGY2",
        200,
        ["VIC_PGY2"],
        T4,
        hospitals=4,
        units=80,
        closed_share=0.2,
        unusable_six_month=2,
    ),
    _m(
        "g_m_t5_pgy1_closed_locked",
        "PGY1",
        200,
        ["VIC_PGY1"],
        T5_MID,
        locked=0.2,
        closed_share=0.15,
    ),
    _m("g_m_t4_norule_loose", "PGY2", 200, [], T4, slack=1.0, hospitals=5, units=90),
    _m(
        "g_m_t6_churn_locked",
        "PGY2",
        200,
        ["VIC_PGY2"],
        T6,
        locked=0.1,
        churn=0.8,
        extra_current=0.15,
    ),
    _m("g_m_t5_pgy1_shortfall", "PGY1", 200, ["VIC_PGY1"], T5, shortfall=6),
    # large
    _m("g_l_t6_pgy2", "PGY2", 300, ["VIC_PGY2", "MAX_ONE_NIGHTS"], T6),
    _m("g_l_t4_shortfall", "PGY2", 300, ["VIC_PGY2"], T4, shortfall=5),
    _m("g_l_t5_pgy1_locked30", "PGY1", 300, ["VIC_PGY1"], T5, locked=0.3),
    _m(
        "g_l_t4_closed6_500",
        "PGY2",
        500,
        ["VIC_PGY2", "NO_NIGHTS"],
        T4,
        hospitals=10,
        units=150,
        closed_share=0.15,
        unusable_six_month=3,
    ),
    _m("g_l_t13_pgy2", "PGY2", 300, ["VIC_PGY2", "MAX_ONE_NIGHTS"], T13, units=90, churn=0.6),
    _m("g_l_t5_pgy1_all_500", "PGY1", 500, PGY1_MORE, T5, hospitals=8, units=120),
    # extra large: a network, then a state-wide round
    _m("g_xl_t5_pgy1_locked", "PGY1", 1000, ["VIC_PGY1", "MAX_ONE_NIGHTS"], T5, locked=0.06),
    _m("g_xl_t6_pgy2", "PGY2", 1000, ["VIC_PGY2"], T6, hospitals=14, units=240),
    _m("g_xl_t4_shortfall", "PGY2", 1000, ["VIC_PGY2"], T4, shortfall=8),
    _m(
        "g_xl_t4_churn_closed",
        "PGY2",
        1000,
        ["VIC_PGY2", "MAX_ONE_NIGHTS"],
        T4,
        closed_share=0.1,
        churn=0.9,
        extra_current=0.1,
    ),
    _m("g_xxl_t4_state", "PGY2", 2000, ["VIC_PGY2"], T4, hospitals=30, units=500),
    _m(
        "g_xxl_t5_pgy1_state",
        "PGY1",
        2000,
        ["VIC_PGY1", "MAX_ONE_NIGHTS"],
        T5,
        locked=0.1,
        hospitals=30,
        units=500,
    ),
    # infeasible, each for one known cause
    _m("g_s_inf_term_sum", "PGY2", 40, ["VIC_PGY2"], T6, variant="term_demand_over_max_lines"),
    _m("g_m_inf_experience", "PGY2", 120, ["VIC_PGY2"], T4, variant="experience_capacity"),
    _m("g_m_inf_locked_rule", "PGY1", 120, ["VIC_PGY1"], T5, variant="locked_breaks_rule"),
    _m("g_m_inf_six_month", "PGY2", 120, ["VIC_PGY2"], T6, variant="six_month_cannot_fit"),
    _m(
        "g_m_inf_nights",
        "PGY1",
        120,
        ["VIC_PGY1", "MAX_ONE_NIGHTS"],
        T5,
        variant="demand_conflicts_rule",
    ),
    _m(
        "g_m_inf_subspecialty",
        "PGY2",
        120,
        ["VIC_PGY2"],
        T4,
        variant="subspecialty_demand_conflicts_rule",
    ),
    _m("g_s_inf_unusable_six", "PGY2", 40, ["VIC_PGY2"], T4, variant="six_month_never_placeable"),
    _m(
        "g_l_inf_term_sum_t13",
        "PGY2",
        300,
        ["NO_NIGHTS"],
        T13,
        variant="term_demand_over_max_lines",
    ),
)


def build(member: Member, seed: int = 0) -> GeneratedPlan:
    """One member, deterministic in (member, seed); not loaded (see `generate(check=...)`)."""
    locked = round(member.locked_share * member.lines)
    partial = round(locked * PARTIAL_SHARE)
    generated = generate(
        member.kind,
        member.lines,
        seed * 1000 + FAMILY.index(member),
        variant=member.variant,
        constraints=member.constraints,
        locked=locked - partial,
        partial=partial,
        shape=member.shape,
        check=False,
    )
    generated.doc["name"] = f"{member.name}: {generated.doc['name']}"
    return generated


def members(max_lines: int | None = None) -> Iterator[Member]:
    return (m for m in FAMILY if max_lines is None or m.lines <= max_lines)


def witness_doc(generated: GeneratedPlan) -> dict:
    """The constructed lines as a solution file (what validate.py reads)."""
    return {
        "status": "FEASIBLE",
        "lines": [line.to_json() for line in generated.lines],
    }


def write_family(directory: Path, seed: int = 0, max_lines: int | None = None) -> list[Path]:
    """Write every member (up to `max_lines` lines) in validate.py's layout; returns the plans."""
    (directory / "certificates").mkdir(parents=True, exist_ok=True)
    written = []
    for member in members(max_lines):
        generated = build(member, seed)
        path = directory / f"{member.name}.json"
        path.write_text(json.dumps(generated.doc, indent=1) + "\n")
        if generated.expected.feasible:
            witness = directory / "certificates" / f"{member.name}.solution.json"
            witness.write_text(json.dumps(witness_doc(generated)) + "\n")
        else:
            cause = {"infeasible": True, "cause": generated.expected.cause}
            (directory / f"{member.name}.cause.json").write_text(json.dumps(cause) + "\n")
        expected = {k: v for k, v in vars(generated.expected).items() if v is not None}
        (directory / f"{member.name}.expected.json").write_text(json.dumps(expected) + "\n")
        written.append(path)
    return written
