"""AMC National Framework, PGY1 (intern) year, as applied in Victoria."""

from constraints.plan import Plan
from constraints.rules.clauses import Clause, Distinct, PerGroup, Total
from constraints.rules.measures import (
    has_experience,
    one,
    specialty,
    subspecialty,
    terms_occupied,
    worked_weeks,
)
from constraints.rules.registry import rule_set

MIN_WEEKS_WORKED = 47


@rule_set(
    "VIC_PGY1",
    "PGY1 (AMC, Victoria): 47+ weeks worked, 4+ specialties, one rotation per subspecialty, "
    "at most half the terms in one specialty, experience in A, B, C and D.",
)
def vic_pgy1(plan: Plan) -> list[Clause]:
    return [
        Total("weeks worked", worked_weeks, at_least=MIN_WEEKS_WORKED),
        Distinct("different specialties", specialty, at_least=4),
        PerGroup("rotations in subspecialty", subspecialty, one, at_most=1),
        PerGroup("terms in specialty", specialty, terms_occupied, at_most=plan.term_count // 2),
        *(Total(f"rotations with experience {c}", has_experience(c), at_least=1) for c in "ABCD"),
    ]
