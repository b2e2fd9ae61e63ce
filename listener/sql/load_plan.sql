-- The run's allocation round as a plan document; only while this worker holds this attempt.
SELECT planner.load_plan($1::uuid, $2::text, $3::integer) AS plan
