-- Refresh this worker's registry entry (and whether it runs on polling alone); false = the
-- entry was swept (register again).
SELECT planner.worker_seen($1::text, $2::uuid, $3::text, $4::boolean) AS found
