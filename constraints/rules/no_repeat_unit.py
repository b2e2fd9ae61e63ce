"""A line never returns to a unit it has already done."""

from constraints.plan import Plan
from constraints.rules.clauses import Clause, PerGroup
from constraints.rules.measures import one, unit_code
from constraints.rules.registry import rule_set


@rule_set("NO_REPEAT_UNIT", "No unit twice on one line.")
def no_repeat_unit(plan: Plan) -> list[Clause]:
    return [PerGroup("rotations in unit", unit_code, one, at_most=1)]
