-- RLS: every public table has it on, anon reads nothing, a member reads its organisation
-- and an outsider reads nothing of it. `supabase test db` (or pg_prove) runs this file;
-- everything happens in one transaction that is rolled back.
begin;
create extension if not exists pgtap with schema extensions;
select plan(8);

select is(
    (select array_agg(c.relname order by c.relname) from pg_class c
     where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p')
       and not c.relrowsecurity),
    null,
    'row level security is enabled on every table in public'
);

-- the demo admin from seed.sql, an outsider with no membership
insert into auth.users (id, aud, role, email)
values ('d3000000-0000-4000-8000-0000000000ff', 'authenticated', 'authenticated',
        'outsider@example.test');

set local role anon;
select set_config('request.jwt.claims', '{"role": "anon"}', true);
select throws_ok(
    'select count(*) from public.allocation_runs', '42501', null,
    'anon may not read allocation rounds at all'
);
reset role;

set local role authenticated;
select set_config('request.jwt.claims',
    '{"role": "authenticated", "sub": "d3000000-0000-4000-8000-000000000001"}', true);
select is((select count(*)::int from public.organizations), 1,
          'the demo admin sees its own organisation');
select is((select count(*)::int from public.units
           where allocation_run_id = 'd3000000-0000-4000-8000-000000000020'), 15,
          'the demo admin sees the demo round''s 15 units');
select lives_ok(
    $$update public.units set name = name where code = 'ED'$$,
    'an admin may edit its own units'
);

select set_config('request.jwt.claims',
    '{"role": "authenticated", "sub": "d3000000-0000-4000-8000-0000000000ff"}', true);
select is((select count(*)::int from public.organizations), 0,
          'an outsider sees no organisation');
select is((select count(*)::int from public.units), 0, 'an outsider sees no units');
select throws_ok(
    $$insert into public.allocation_runs (organization_id, name)
      values ('d3000000-0000-4000-8000-000000000010', 'Hijack')$$,
    '42501', null,
    'an outsider may not add a round to another organisation'
);
reset role;

select * from finish();
rollback;
