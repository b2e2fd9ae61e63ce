-- Snapshot, replace the unlocked lines and mark COMPLETED in one transaction.
SELECT planner.complete_run($1::uuid, $2::text, $3::integer, $4::jsonb, $5::jsonb) AS owned
