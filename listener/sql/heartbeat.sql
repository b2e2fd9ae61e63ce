-- Keep the claim alive and publish progress; false = the run is no longer ours.
SELECT planner.heartbeat($1::uuid, $2::text, $3::integer, $4::jsonb) AS owned
