-- The round's terms, for the table header.
SELECT ordinal, name, weeks
FROM public.plan_terms
WHERE allocation_run_id = %(allocation_run_id)s
ORDER BY ordinal
