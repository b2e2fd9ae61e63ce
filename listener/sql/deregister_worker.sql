-- Remove this process's registry entry (graceful exit): worker id, host and pid must match.
SELECT planner.deregister_worker($1::text, $2::text, $3::integer) AS removed
