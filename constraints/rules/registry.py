"""Rule sets by the names the frontend sends.

A rule set is a function `(plan) -> list[Clause]` registered under its name with `@rule_set`.
Bounds that depend on the plan (the number of terms, the weeks of the year) are computed
there. Adding a rule set is a new module in this package plus its `@rule_set` line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from constraints.plan import Plan
from constraints.rules.clauses import Clause

ClauseFactory = Callable[[Plan], list[Clause]]


@dataclass(frozen=True)
class RuleSet:
    name: str
    summary: str  # one sentence a workforce manager understands
    clauses_for: ClauseFactory


RULE_SETS: dict[str, RuleSet] = {}


def rule_set(name: str, summary: str) -> Callable[[ClauseFactory], ClauseFactory]:
    def register(factory: ClauseFactory) -> ClauseFactory:
        if name in RULE_SETS:
            raise ValueError(f"rule set {name} registered twice")
        RULE_SETS[name] = RuleSet(name, summary, factory)
        return factory

    return register


def known_rule_sets() -> list[str]:
    return sorted(RULE_SETS)


def get_rule_set(name: str) -> RuleSet:
    try:
        return RULE_SETS[name]
    except KeyError:
        known = ", ".join(known_rule_sets())
        raise KeyError(f"unknown rule set {name!r}; known rule sets are: {known}") from None
