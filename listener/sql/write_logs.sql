-- Append a batch of run log entries (each naming its run, worker and attempt) to planner_execution_logs.
SELECT planner.write_logs($1::jsonb) AS written
