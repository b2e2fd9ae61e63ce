-- The round's job lines with their rotations, one row per (line, term).
SELECT j.label, j.locked, j.source, r.term_ordinal, u.code AS unit, r.locked AS rotation_locked
FROM public.job_lines AS j
JOIN public.rotations AS r ON r.job_line_id = j.id
JOIN public.units AS u ON u.id = r.unit_id
WHERE j.allocation_run_id = $1
ORDER BY j.label, r.term_ordinal
