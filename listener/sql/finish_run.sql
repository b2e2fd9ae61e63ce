-- End the run as INFEASIBLE or FAILED with a result and a readable error.
SELECT planner.finish_run($1::uuid, $2::text, $3::integer, $4::text, $5::jsonb, $6::text) AS owned
