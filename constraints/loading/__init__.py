"""Load and validate a plan-file document (DOMAIN.md) into a typed `Plan`.

Every problem is collected with the field path and the offending value, and all of them are
raised together as one `PlanError`, so a workforce manager fixes a file in one pass. The loader
never lets a Python exception escape for JSON-ish input: wrong types are problems too.

Unknown keys inside terms, units, demand rows and lines are ignored; unknown top-level and
`params` keys are reported, because a misspelt `locked_lines` or `max_lines` would otherwise
be silently dropped.

Modules: `problems` (the collector and its typed readers), `terms_units_demand`, `lines`
(locked and current lines), `params` (rule sets and solver parameters), `crosschecks` (what
only the sections together can tell), `document` (the entry points).
"""

from constraints.loading.document import load_plan, plan_to_doc
from constraints.loading.problems import PlanError, Problem

__all__ = ["PlanError", "Problem", "load_plan", "plan_to_doc"]
