SELECT state, created_at, claimed_at, heartbeat_at, progress, error
FROM public.allocation_planner_runs WHERE id = $1
