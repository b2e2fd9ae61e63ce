-- True on Supabase (and on a cluster that already has the shim): auth.uid() exists.
SELECT to_regprocedure('auth.uid()') IS NOT NULL
