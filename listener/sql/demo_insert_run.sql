-- What the UI's "Generate plan" button does: insert a PENDING run.
INSERT INTO public.allocation_planner_runs (organization_id, allocation_run_id, constraints, params)
VALUES (%(organization_id)s, %(allocation_run_id)s, %(constraints)s, %(params)s)
RETURNING id
