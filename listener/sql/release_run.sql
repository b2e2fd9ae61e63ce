-- Hand the run back to PENDING (graceful shutdown).
SELECT planner.release_run($1::uuid, $2::text, $3::integer) AS owned
