-- Fair claim, round-robin between organisations.
--
-- The first claim_run ranked a PENDING run by its rank among its organisation's PENDING
-- runs plus that organisation's GENERATING runs, ties to the oldest. When runs finish
-- quickly that forgets who was just served: the moment an organisation's run completes, its
-- next run is rank 1 with nothing GENERATING again, and, being older, it beats the first run
-- of an organisation that has not been served at all. In a burst (organisation after
-- organisation, 3 workers x 2 slots, 10 organisations) one organisation had its third run
-- claimed while others still waited for their first (tests/reliability: claim storm).
--
-- Same priority, plus a tie-break before the age: the organisation served longest ago (or
-- never) goes first. Its last service is the latest claimed_at of its runs (kept on finished
-- runs; a released run clears its own).
create index if not exists allocation_planner_runs_org_claimed_idx
    on public.allocation_planner_runs (organization_id, claimed_at desc)
    where claimed_at is not null;

create or replace function planner.claim_run(worker_id text)
returns table (
    id uuid, organization_id uuid, allocation_run_id uuid, attempt integer,
    constraints text[], params jsonb
)
language sql volatile security definer set search_path = '' as $$
    with generating as (
        select g.organization_id, count(*) as n
        from public.allocation_planner_runs g
        where g.state = 'GENERATING'
        group by g.organization_id
    ), ranked as (
        select p.id, p.organization_id,
               row_number() over (partition by p.organization_id order by p.created_at, p.id) as rank_in_org
        from public.allocation_planner_runs p
        where p.state = 'PENDING'
    ), served as (
        select o.organization_id,
               (select max(c.claimed_at) from public.allocation_planner_runs c
                 where c.organization_id = o.organization_id and c.claimed_at is not null) as last_claimed_at
        from (select distinct ranked.organization_id from ranked) o
    ), candidate as (
        select r.id
        from public.allocation_planner_runs r
        join ranked on ranked.id = r.id
        left join generating on generating.organization_id = r.organization_id
        left join served on served.organization_id = r.organization_id
        where r.state = 'PENDING'
        order by ranked.rank_in_org + coalesce(generating.n, 0),
                 served.last_claimed_at nulls first, r.created_at, r.id
        limit 1
        for update of r skip locked
    )
    update public.allocation_planner_runs r
       set state = 'GENERATING', worker_id = claim_run.worker_id, attempt = r.attempt + 1,
           claimed_at = now(), heartbeat_at = now(), progress = null, result = null, error = null
      from candidate
     where r.id = candidate.id
    returning r.id, r.organization_id, r.allocation_run_id, r.attempt, r.constraints, r.params;
$$;
