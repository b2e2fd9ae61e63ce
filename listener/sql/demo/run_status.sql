-- The run row as the UI polls it.
SELECT state, progress, result, error, worker_id
FROM public.allocation_planner_runs
WHERE id = $1
