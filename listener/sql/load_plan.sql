-- The run's allocation round as a plan document, scoped by the run row's organisation.
SELECT planner.load_plan($1::uuid, $2::uuid) AS plan
