-- Remove this worker's registry entry (graceful exit).
SELECT planner.deregister_worker($1::text) AS removed
