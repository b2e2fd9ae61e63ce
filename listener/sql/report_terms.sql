-- The terms of the run's round ($1 = run id).
SELECT t.ordinal, t.name, t.weeks
FROM public.allocation_planner_runs r
JOIN public.plan_terms t
  ON t.organization_id = r.organization_id AND t.allocation_run_id = r.allocation_run_id
WHERE r.id = $1::uuid
ORDER BY t.ordinal
