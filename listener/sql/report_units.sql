-- The units of the run's round ($1 = run id).
SELECT u.code, u.name, u.specialty, u.subspecialty, u.experiences, u.kind, u.nights,
       u.span_terms, u.leave_weeks
FROM public.allocation_planner_runs r
JOIN public.units u
  ON u.organization_id = r.organization_id AND u.allocation_run_id = r.allocation_run_id
WHERE r.id = $1::uuid
ORDER BY u.code
