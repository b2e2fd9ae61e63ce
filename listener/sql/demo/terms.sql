-- The round's terms, for the table header.
SELECT ordinal, name, weeks
FROM public.plan_terms
WHERE allocation_run_id = $1
ORDER BY ordinal
