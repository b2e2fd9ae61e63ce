"""Night-shift limits."""

from constraints.plan import Plan
from constraints.rules.clauses import Clause, Total
from constraints.rules.measures import is_nights
from constraints.rules.registry import rule_set


@rule_set("NO_NIGHTS", "No night-shift rotation on any line.")
def no_nights(plan: Plan) -> list[Clause]:
    return [Total("nights rotations", is_nights, at_most=0)]


@rule_set("MAX_ONE_NIGHTS", "At most one night-shift rotation on a line.")
def max_one_nights(plan: Plan) -> list[Clause]:
    return [Total("nights rotations", is_nights, at_most=1)]
