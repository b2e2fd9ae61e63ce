-- The unlocked lines the run ($1) replaced: the snapshot its completion took, one row per
-- rotation (the change report compares the run's lines with these).
SELECT s ->> 'label' AS label, (ro ->> 'term')::integer AS term, ro ->> 'unit' AS unit,
       coalesce((ro ->> 'locked')::boolean, false) AS locked
FROM public.allocation_planner_runs r
JOIN public.job_lines_history h
  ON h.organization_id = r.organization_id AND h.allocation_run_id = r.allocation_run_id
 AND h.planner_run_id = r.id AND h.reason = 'complete'
CROSS JOIN LATERAL jsonb_array_elements(h.lines) s
CROSS JOIN LATERAL jsonb_array_elements(s -> 'rotations') ro
WHERE r.id = $1::uuid
ORDER BY label, term
