-- Refresh this worker's registry entry; false = the entry was swept (register again).
SELECT planner.worker_seen($1::text, $2::uuid, $3::text) AS found
