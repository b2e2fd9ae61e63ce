-- Bounded automatic retry of runs whose worker died (issue 13).
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
