"""AMC National Framework, PGY2 year, as applied in Victoria."""

from constraints.plan import Plan
from constraints.rules.clauses import Clause, Distinct, PerGroup, Total
from constraints.rules.measures import (
    has_experience,
    is_kind,
    one,
    service_weeks,
    subspecialty,
    worked_weeks,
)
from constraints.rules.registry import rule_set

MIN_WEEKS_WORKED = 47


@rule_set(
    "VIC_PGY2",
    "PGY2 (AMC, Victoria): 47+ weeks worked, 3+ subspecialties, one rotation per subspecialty, "
    "at most one non-clinical rotation, experience in A, B and C, service at most 25% of weeks.",
)
def vic_pgy2(plan: Plan) -> list[Clause]:
    return [
        Total("weeks worked", worked_weeks, at_least=MIN_WEEKS_WORKED),
        Distinct("different subspecialties", subspecialty, at_least=3),
        PerGroup("rotations in subspecialty", subspecialty, one, at_most=1),
        Total("non-clinical rotations", is_kind("non_clinical"), at_most=1),
        *(Total(f"rotations with experience {c}", has_experience(c), at_least=1) for c in "ABC"),
        # service weeks <= 25% of the year  <=>  service weeks <= floor(total weeks / 4)
        Total("weeks in service rotations", service_weeks, at_most=plan.total_weeks // 4),
    ]
