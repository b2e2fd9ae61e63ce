-- The demand of the run's round ($1 = run id), by unit code.
SELECT u.code AS unit, d.term_ordinal AS term, d.min_lines, d.max_lines
FROM public.allocation_planner_runs r
JOIN public.unit_demands d
  ON d.organization_id = r.organization_id AND d.allocation_run_id = r.allocation_run_id
JOIN public.units u
  ON u.id = d.unit_id AND u.organization_id = r.organization_id
 AND u.allocation_run_id = r.allocation_run_id
WHERE r.id = $1::uuid
ORDER BY u.code, d.term_ordinal
