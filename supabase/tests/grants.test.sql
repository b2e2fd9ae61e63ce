-- Grants: Supabase's default privileges give anon, authenticated and service_role ALL on
-- every new object in public; the migrations must take that back where it matters.
begin;
create extension if not exists pgtap with schema extensions;
select plan(7);

select is(
    (select array_agg(c.relname order by c.relname) from pg_class c
     where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p', 'v')
       and (has_table_privilege('anon', c.oid, 'select')
            or has_table_privilege('anon', c.oid, 'insert')
            or has_table_privilege('anon', c.oid, 'update')
            or has_table_privilege('anon', c.oid, 'delete'))),
    null,
    'anon holds no table privilege in public'
);
select ok(not has_table_privilege('authenticated', 'public.planner_settings', 'select'),
          'authenticated cannot read planner_settings');
select ok(not has_table_privilege('authenticated', 'public.allocation_planner_runs', 'delete'),
          'authenticated cannot delete planner runs');
select ok(not has_column_privilege('authenticated', 'public.allocation_planner_runs', 'result', 'update'),
          'authenticated cannot write a run''s result');
select ok(not has_function_privilege('authenticated', 'planner.claim_run(text)', 'execute'),
          'authenticated cannot claim runs');
select ok(not has_function_privilege('anon', 'planner.complete_run(uuid, text, integer, jsonb, jsonb)', 'execute'),
          'anon cannot complete runs');
select ok(has_function_privilege('planner_worker', 'planner.claim_run(text)', 'execute'),
          'planner_worker can claim runs');

select * from finish();
rollback;
