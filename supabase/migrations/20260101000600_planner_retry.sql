-- Bounded automatic retry of runs whose worker died (issue 13), and the registry's
-- `polling_alone` (at the end).
--
-- planner_settings.max_attempts (default 2): the reaper hands a stale GENERATING run back
-- to PENDING, with a WARNING log row naming the lost worker and attempt, while
-- attempt < max_attempts; only the last attempt ends FAILED with the `Timeout` row. So a
-- crashed worker costs one retry, not the user's run, and a run that kills every worker it
-- lands on (a crash loop) still ends. max_attempts = 1 is the old behaviour (never retry).
-- `attempt` counts claims (planner.claim_run adds 1), so a graceful release counts too.
--
-- SECURITY DEFINER with search_path = pg_catalog, pg_temp and every name qualified.

alter table public.planner_settings
    add column max_attempts integer not null default 2
        check (max_attempts between 1 and 100);

comment on column public.planner_settings.max_attempts is
    'Claims a run may have before a stale heartbeat fails it (1 = never retry a lost run).';

-- ONE guarded UPDATE (never select-then-update), as before: a run heart-beating
-- concurrently either commits first (and is no longer stale) or waits and is re-checked by
-- the UPDATE itself. The self-join `lost` keeps the row as it was (worker, heartbeat) for
-- the log row, because a retried run's worker_id is cleared. Returns the runs reaped
-- (retried or failed); it still sweeps the worker registry, so the one pg_cron job
-- 'planner-reap-stale-runs' does both.
create or replace function planner.reap_stale_runs()
returns integer
language plpgsql volatile security definer set search_path = pg_catalog, pg_temp as $$
declare
    reaped integer;
begin
    with settings as (
        select s.stale_after, s.max_attempts from public.planner_settings s limit 1
    ), stale as (
        update public.allocation_planner_runs r
           set state = case when r.attempt < st.max_attempts then 'PENDING' else 'FAILED' end,
               worker_id = case when r.attempt < st.max_attempts then null else r.worker_id end,
               claimed_at = case when r.attempt < st.max_attempts then null else r.claimed_at end,
               heartbeat_at = case when r.attempt < st.max_attempts then null else r.heartbeat_at end,
               progress = case when r.attempt < st.max_attempts then null else r.progress end,
               finished_at = case when r.attempt < st.max_attempts then null else pg_catalog.now() end,
               error = case when r.attempt < st.max_attempts then null
                            else pg_catalog.format('Timeout: no heartbeat from worker %s since %s',
                                                   r.worker_id, r.heartbeat_at) end
          from settings st, public.allocation_planner_runs lost
         where lost.id = r.id
           and r.state = 'GENERATING'
           and r.heartbeat_at < pg_catalog.now() - st.stale_after
        returning r.id, r.organization_id, r.state, lost.worker_id, r.attempt,
                  lost.heartbeat_at, st.max_attempts
    ), logged as (
        insert into public.planner_execution_logs (run_id, organization_id, level, message, context)
        select stale.id, stale.organization_id,
               case when stale.state = 'PENDING' then 'WARNING' else 'ERROR' end,
               case when stale.state = 'PENDING'
                    then pg_catalog.format(
                        'Worker %s stopped sending heartbeats during attempt %s of %s; run handed '
                        'back to PENDING for another worker', stale.worker_id, stale.attempt,
                        stale.max_attempts)
                    else pg_catalog.format(
                        'Timeout: worker %s stopped sending heartbeats; run marked FAILED',
                        stale.worker_id) end,
               pg_catalog.jsonb_build_object(
                   'error', case when stale.state = 'PENDING' then 'Retry' else 'Timeout' end,
                   'worker_id', stale.worker_id, 'attempt', stale.attempt,
                   'max_attempts', stale.max_attempts, 'last_heartbeat_at', stale.heartbeat_at)
        from stale
        returning 1
    )
    select pg_catalog.count(*)::integer into reaped from logged;
    perform planner.sweep_workers();
    return reaped;
end;
$$;

revoke all on function planner.reap_stale_runs() from public, anon, authenticated;

-- `health` and `status` show a worker running on polling alone (its LISTEN or Realtime
-- wake-up is down and being rebuilt, or PLANNER_WAKEUP=poll): claims then wait up to the
-- poll interval. The worker reports it with every registry refresh (the 4-argument
-- worker_seen; the 3-argument one stays for older workers and leaves the column alone).
alter table public.planner_workers add column polling_alone boolean;

create function planner.worker_seen(
    worker_id text, current_run_id uuid, state text, polling_alone boolean
)
returns boolean
language sql volatile security definer set search_path = pg_catalog, pg_temp as $$
    with seen as (
        update public.planner_workers w
           set last_seen_at = pg_catalog.now(),
               current_run_id = worker_seen.current_run_id,
               state = coalesce(worker_seen.state,
                                case when worker_seen.current_run_id is null then 'idle'
                                     else 'solving' end),
               polling_alone = worker_seen.polling_alone
         where w.worker_id = worker_seen.worker_id
        returning 1
    )
    select exists (select 1 from seen);
$$;

revoke all on function planner.worker_seen(text, uuid, text, boolean)
    from public, anon, authenticated;
grant execute on function planner.worker_seen(text, uuid, text, boolean)
    to planner_worker, service_role;

-- planner.status() of …000500, with each worker's `polling_alone`.
create or replace function planner.status(failures integer default 10)
returns jsonb
language sql stable security definer set search_path = pg_catalog, pg_temp as $$
    with settings as (
        select s.stale_after from public.planner_settings s limit 1
    )
    select pg_catalog.jsonb_build_object(
        'generated_at', pg_catalog.now(),
        'stale_after_s', (select extract(epoch from stale_after)::integer from settings),
        'workers', coalesce((
            select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                       'worker_id', w.worker_id, 'host', w.host, 'pid', w.pid,
                       'version', w.version, 'state', w.state,
                       'started_at', w.started_at, 'last_seen_at', w.last_seen_at,
                       'last_seen_s', pg_catalog.round(extract(epoch from pg_catalog.now() - w.last_seen_at)::numeric, 1),
                       'alive', w.last_seen_at >= pg_catalog.now() - (select stale_after from settings),
                       'current_run_id', w.current_run_id,
                       'polling_alone', w.polling_alone)
                   order by w.worker_id)
            from public.planner_workers w), '[]'::jsonb),
        'queue', planner.queue_stats(),
        'generating', coalesce((
            select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                       'run_id', r.id, 'organization_id', r.organization_id,
                       'organization', o.name, 'allocation_run_id', r.allocation_run_id,
                       'worker_id', r.worker_id, 'attempt', r.attempt,
                       'claimed_at', r.claimed_at, 'heartbeat_at', r.heartbeat_at,
                       'elapsed_s', pg_catalog.round(extract(epoch from pg_catalog.now() - r.claimed_at)::numeric, 1),
                       'heartbeat_age_s', pg_catalog.round(extract(epoch from pg_catalog.now() - r.heartbeat_at)::numeric, 1),
                       'constraints', pg_catalog.to_jsonb(r.constraints),
                       'percent', r.progress -> 'percent',
                       'objective', r.progress -> 'objective',
                       'phase', r.progress -> 'phase',
                       'progress', r.progress)
                   order by r.claimed_at)
            from public.allocation_planner_runs r
            join public.organizations o on o.id = r.organization_id
            where r.state = 'GENERATING'), '[]'::jsonb),
        'failures', coalesce((
            select pg_catalog.jsonb_agg(pg_catalog.to_jsonb(f) - 'ord' order by f.ord)
            from (
                select pg_catalog.row_number() over (order by r.finished_at desc nulls last, r.created_at desc) as ord,
                       r.id as run_id, r.organization_id, o.name as organization,
                       r.allocation_run_id, r.state, r.error, r.worker_id, r.attempt,
                       r.created_at, r.finished_at
                from public.allocation_planner_runs r
                join public.organizations o on o.id = r.organization_id
                where r.state in ('FAILED', 'INFEASIBLE')
                order by r.finished_at desc nulls last, r.created_at desc
                limit greatest(0, least(coalesce(status.failures, 10), 1000))
            ) f), '[]'::jsonb)
    );
$$;
