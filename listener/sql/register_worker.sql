-- Record this worker in planner_workers; true = another live process held the same id.
SELECT planner.register_worker($1::text, $2::text, $3::integer, $4::text, $5::timestamptz) AS clash
