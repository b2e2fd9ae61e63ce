-- Cancel a leftover active run of the demo round (an interrupted earlier demo).
UPDATE public.allocation_planner_runs
SET state = 'CANCELLED'
WHERE allocation_run_id = $1 AND state IN ('PENDING', 'GENERATING')
RETURNING id
