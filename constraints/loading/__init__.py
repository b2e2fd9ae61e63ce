"""Load and validate a plan-file document (DOMAIN.md) into a typed `Plan`.

Every problem is collected with the field path and the offending value, and all of them are
raised together as one `PlanError`, so a workforce manager fixes a file in one pass. The loader
never lets a Python exception escape for JSON-ish input: wrong types are problems too.

Unknown keys inside terms, units, demand rows and lines are ignored; unknown top-level and
`params` keys are reported, because a misspelt `locked_lines` or `max_lines` would otherwise
be silently dropped.

Only what DOMAIN.md makes malformed is refused here: wrong types, unknown names, min > max,
duplicates, values outside LIMITS. Data that merely makes a plan impossible (a six-month unit
without two consecutive open terms, a minimum it can never meet, a lock on a closed unit-term)
loads, and the solver explains it as INFEASIBLE (`constraints/explain.py`); a six-month unit
no term pair opens is simply unusable.

Modules: `problems` (the collector and its typed readers), `terms_units_demand`, `lines`
(locked and current lines), `params` (rule sets and solver parameters), `document` (the entry
points).
"""

from constraints.loading.document import load_plan, plan_to_doc
from constraints.loading.problems import PlanError, Problem

__all__ = ["PlanError", "Problem", "load_plan", "plan_to_doc"]
