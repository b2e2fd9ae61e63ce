-- Claim the next PENDING run fairly across organisations (0 or 1 row).
SELECT id, organization_id, allocation_run_id, attempt, constraints, params
FROM planner.claim_run($1::text)
