-- The planner run a report is about ($1), with its round's name. Every other report_* query
-- starts from this row and reads only rows of its organisation and round.
SELECT r.id, r.organization_id, r.allocation_run_id, r.state, r.constraints, r.params,
       r.result, r.finished_at, a.name AS round_name
FROM public.allocation_planner_runs r
JOIN public.allocation_runs a
  ON a.id = r.allocation_run_id AND a.organization_id = r.organization_id
WHERE r.id = $1::uuid
