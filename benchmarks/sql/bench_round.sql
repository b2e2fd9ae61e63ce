-- A fresh organisation and allocation round for the benchmark: 4 terms of 13 weeks and
-- $1 units (four specialties cycling), each needing between $2 and $3 lines in every term.
-- Returns (organization_id, allocation_run_id).
WITH org AS (
    INSERT INTO public.organizations (name) VALUES ('Benchmark ' || gen_random_uuid()) RETURNING id
), round AS (
    INSERT INTO public.allocation_runs (organization_id, name)
    SELECT id, 'Benchmark round' FROM org RETURNING id, organization_id
), terms AS (
    INSERT INTO public.plan_terms (organization_id, allocation_run_id, ordinal, name, weeks)
    SELECT r.organization_id, r.id, t, 'Term ' || t, 13 FROM round r, generate_series(1, 4) t
    RETURNING organization_id, allocation_run_id, ordinal
), kinds (k, specialty, experiences) AS (
    VALUES (0, 'Emergency Medicine', '{A,C}'::text[]), (1, 'General Medicine', '{A,B}'::text[]),
           (2, 'Surgery', '{C,D}'::text[]), (3, 'Psychiatry', '{B}'::text[])
), units AS (
    INSERT INTO public.units (organization_id, allocation_run_id, code, name, specialty,
                              subspecialty, experiences, kind, nights, span_terms, leave_weeks)
    SELECT r.organization_id, r.id, 'U' || i, 'Unit ' || i, k.specialty, k.specialty || ' ' || i,
           k.experiences, 'clinical', false, 1, 0
    FROM round r, generate_series(0, $1::int - 1) i JOIN kinds k ON k.k = i % 4
    RETURNING id, organization_id, allocation_run_id
)
INSERT INTO public.unit_demands (organization_id, allocation_run_id, unit_id, term_ordinal,
                                 min_lines, max_lines)
SELECT u.organization_id, u.allocation_run_id, u.id, t.ordinal, $2::int, $3::int
FROM units u JOIN terms t ON t.allocation_run_id = u.allocation_run_id
RETURNING organization_id, allocation_run_id
