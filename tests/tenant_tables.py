"""The tenant tables (every public table with an `organization_id`, or `organizations`
itself), named once for the tests that walk them. `tests/db/test_rls.py` checks this list
against the database catalogue, so a new tenant table cannot be left out of the RLS,
security and bad-input tests.
"""

from __future__ import annotations

# Tables of the application, each under row-level security.
TENANT_TABLES: tuple[str, ...] = (
    "organizations",
    "organization_members",
    "allocation_runs",
    "plan_terms",
    "units",
    "unit_demands",
    "allocation_planner_runs",
    "job_lines",
    "rotations",
    "planner_execution_logs",
    "job_lines_history",
)
# The planner's own bookkeeping (written by its SECURITY DEFINER functions only).
PLANNER_TENANT_TABLES: tuple[str, ...] = ("planner_run_requests", "planner_run_claims")

# A member reads every tenant table but the worker's log rows.
MEMBER_READABLE: frozenset[str] = frozenset(TENANT_TABLES) - {"planner_execution_logs"}
# A failing run writes its own run row and log rows only: it leaves these alone.
RUN_LEAVES_ALONE: tuple[str, ...] = tuple(
    t for t in TENANT_TABLES if t not in ("allocation_planner_runs", "planner_execution_logs")
)

# Every public table that is a tenant table by the catalogue's account.
CATALOGUE_TENANT_TABLES_SQL = """
select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
where n.nspname = 'public' and c.relkind in ('r', 'p')
  and (c.relname = 'organizations'
       or exists (select 1 from pg_attribute a where a.attrelid = c.oid
                  and a.attname = 'organization_id' and not a.attisdropped))
"""
