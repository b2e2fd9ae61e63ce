-- The planner run state machine: PENDING -> GENERATING -> COMPLETED | INFEASIBLE | FAILED,
-- GENERATING -> PENDING (release), CANCELLED from PENDING or GENERATING, nothing out of a
-- final state.
begin;
create extension if not exists pgtap with schema extensions;
select plan(7);

-- no other run may be queued ahead of ours: claims are global
update public.allocation_planner_runs set state = 'CANCELLED'
where state in ('PENDING', 'GENERATING');

select throws_ok(
    $$insert into public.allocation_planner_runs (organization_id, allocation_run_id, state)
      values ('d3000000-0000-4000-8000-000000000010', 'd3000000-0000-4000-8000-000000000020',
              'COMPLETED')$$,
    '23514', null, 'a run cannot be inserted in a final state'
);

insert into public.allocation_planner_runs (id, organization_id, allocation_run_id, constraints)
values ('d3000000-0000-4000-8000-0000000009a1', 'd3000000-0000-4000-8000-000000000010',
        'd3000000-0000-4000-8000-000000000020', '{VIC_PGY2}');
select is((select state::text from public.allocation_planner_runs
           where id = 'd3000000-0000-4000-8000-0000000009a1'),
          'PENDING', 'a new run is PENDING');

select throws_ok(
    $$update public.allocation_planner_runs set state = 'COMPLETED'
      where id = 'd3000000-0000-4000-8000-0000000009a1'$$,
    '23514', null, 'PENDING -> COMPLETED is refused (only a worker''s claim starts a run)'
);
select is((select id from planner.claim_run('pgtap-worker')),
          'd3000000-0000-4000-8000-0000000009a1'::uuid, 'claim_run hands out the PENDING run');
select is((select state::text from public.allocation_planner_runs
           where id = 'd3000000-0000-4000-8000-0000000009a1'),
          'GENERATING', 'a claimed run is GENERATING');
select lives_ok(
    $$update public.allocation_planner_runs set state = 'CANCELLED'
      where id = 'd3000000-0000-4000-8000-0000000009a1'$$,
    'GENERATING -> CANCELLED is allowed'
);
select throws_ok(
    $$update public.allocation_planner_runs set state = 'GENERATING'
      where id = 'd3000000-0000-4000-8000-0000000009a1'$$,
    '23514', null, 'nothing leaves CANCELLED'
);

select * from finish();
rollback;
