-- The lines the run ($1) wrote, and the round's locked lines it kept, one row per rotation.
SELECT j.label, j.locked AS line_locked, j.source, ro.term_ordinal AS term, u.code AS unit,
       ro.locked
FROM public.allocation_planner_runs r
JOIN public.job_lines j
  ON j.organization_id = r.organization_id AND j.allocation_run_id = r.allocation_run_id
JOIN public.rotations ro
  ON ro.job_line_id = j.id AND ro.organization_id = r.organization_id
JOIN public.units u
  ON u.id = ro.unit_id AND u.organization_id = r.organization_id
WHERE r.id = $1::uuid AND (j.locked OR j.planner_run_id = r.id)
ORDER BY j.label, ro.term_ordinal
