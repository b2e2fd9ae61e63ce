-- The seed's demo allocation round (or, on another database, the oldest round).
SELECT a.id, a.organization_id, a.name
FROM public.allocation_runs AS a
ORDER BY (a.name = 'Demo Health 2027 PGY2') DESC, a.created_at, a.id
LIMIT 1
