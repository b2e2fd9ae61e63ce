-- What the UI's "Generate plan" button does: insert a PENDING run.
INSERT INTO public.allocation_planner_runs (organization_id, allocation_run_id, constraints, params)
VALUES ($1, $2, $3, $4)
RETURNING id
