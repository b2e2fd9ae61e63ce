"""The rule-set catalogue. Importing this package registers every rule set."""

from constraints.rules import nights, no_repeat_unit, vic_pgy1, vic_pgy2  # noqa: F401  (registers)
from constraints.rules.clauses import Clause, Distinct, PerGroup, Total
from constraints.rules.registry import RULE_SETS, RuleSet, get_rule_set, known_rule_sets, rule_set

__all__ = [
    "RULE_SETS",
    "Clause",
    "Distinct",
    "PerGroup",
    "RuleSet",
    "Total",
    "get_rule_set",
    "known_rule_sets",
    "rule_set",
]
