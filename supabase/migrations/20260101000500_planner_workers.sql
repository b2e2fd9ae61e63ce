-- Worker registry and the on-call status view.
--
-- public.planner_workers: one row per running worker (no tenant data). Workers write it only
-- through planner.register_worker / worker_seen / deregister_worker; nobody but service_role
-- and postgres reads the table directly (on-call staff use planner.status()).
-- Stale rows (last_seen_at older than planner_settings.stale_after) are swept by
-- planner.sweep_workers(), which planner.reap_stale_runs() calls: the existing pg_cron job
-- 'planner-reap-stale-runs' does both, so there is still ONE job to watch.

create table public.planner_workers (
    worker_id text primary key check (length(worker_id) between 1 and 200),
    host text not null default '' check (length(host) <= 255),
    pid integer check (pid is null or pid > 0),
    version text not null default '' check (length(version) <= 64),
    started_at timestamptz not null default pg_catalog.now(),
    last_seen_at timestamptz not null default pg_catalog.now(),
    current_run_id uuid,
    state text not null default 'idle' check (state in ('starting', 'idle', 'solving', 'stopping')),
    -- the worker's push wake-up (LISTEN or Realtime) is down: claims wait for the poll
    polling_alone boolean
);
create index planner_workers_last_seen_idx on public.planner_workers (last_seen_at);

alter table public.planner_workers enable row level security;
revoke all on table public.planner_workers from public, anon, authenticated;
grant all on table public.planner_workers to service_role;

-- Register (or re-register) a worker. Returns true when another live process (different
-- host or pid, seen within stale_after) already held this worker id: two workers share a
-- PLANNER_WORKER_ID, which the worker reports as a warning.
create function planner.register_worker(
    worker_id text, host text, pid integer, version text, started_at timestamptz default null
)
returns boolean
language plpgsql volatile security definer set search_path = pg_catalog, pg_temp as $$
declare
    previous public.planner_workers;
    clash pg_catalog.bool := false;
begin
    select * into previous from public.planner_workers w
     where w.worker_id = register_worker.worker_id for update;
    if found then
        clash := (previous.host is distinct from coalesce(register_worker.host, '')
                  or previous.pid is distinct from register_worker.pid)
                 and previous.last_seen_at >= pg_catalog.now() - (select s.stale_after from public.planner_settings s);
    end if;
    insert into public.planner_workers as w
        (worker_id, host, pid, version, started_at, last_seen_at, current_run_id, state)
    values (register_worker.worker_id, coalesce(register_worker.host, ''), register_worker.pid,
            coalesce(register_worker.version, ''), coalesce(register_worker.started_at, pg_catalog.now()),
            pg_catalog.now(), null, 'idle')
    on conflict on constraint planner_workers_pkey do update
        set host = excluded.host, pid = excluded.pid, version = excluded.version,
            started_at = excluded.started_at, last_seen_at = pg_catalog.now(), current_run_id = null,
            state = 'idle';
    return clash;
end;
$$;

-- Keep the entry fresh. false = the entry is gone (swept while the worker could not reach
-- the database): the worker registers again.
create function planner.worker_seen(
    worker_id text, current_run_id uuid default null, state text default null,
    polling_alone boolean default null
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

-- A process removes only the entry it registered: worker id, host and pid must all match
-- (the worker login is shared, so this is what "its own" can mean; a second process that
-- shares a PLANNER_WORKER_ID cannot remove the first one's entry).
create function planner.deregister_worker(worker_id text, host text, pid integer)
returns boolean
language sql volatile security definer set search_path = pg_catalog, pg_temp as $$
    with gone as (
        delete from public.planner_workers w
         where w.worker_id = deregister_worker.worker_id
           and w.host = coalesce(deregister_worker.host, '')
           and w.pid is not distinct from deregister_worker.pid
        returning 1
    )
    select exists (select 1 from gone);
$$;

-- Entries not seen for longer than stale_after belong to workers that died without
-- deregistering (killed, host lost). Returns how many were removed.
create function planner.sweep_workers()
returns integer
language sql volatile security definer set search_path = pg_catalog, pg_temp as $$
    with swept as (
        delete from public.planner_workers w
         where w.last_seen_at < pg_catalog.now() - (select s.stale_after from public.planner_settings s)
        returning 1
    )
    select pg_catalog.count(*)::pg_catalog.int4 from swept;
$$;

-- The reaper, run by the pg_cron job 'planner-reap-stale-runs'. A stale GENERATING run (its
-- worker died or lost the database) goes back to PENDING, with a WARNING log row naming the
-- lost worker and attempt, while attempt < planner_settings.max_attempts; the last attempt
-- ends FAILED with the `Timeout` row. So a crashed worker costs one retry, not the user's
-- run, and a run that kills every worker it lands on (a crash loop) still ends. `attempt`
-- counts claims (planner.claim_run adds 1), so a graceful release counts too.
-- ONE guarded UPDATE (never select-then-update), as before: a run heart-beating
-- concurrently either commits first (and is no longer stale) or waits and is re-checked by
-- the UPDATE itself. The self-join `lost` keeps the row as it was (worker, heartbeat) for
-- the log row, because a retried run's worker_id is cleared. Returns the runs reaped
-- (retried or failed); it still sweeps the worker registry, so the one pg_cron job
-- 'planner-reap-stale-runs' does both.
create function planner.reap_stale_runs()
returns integer
language plpgsql volatile security definer set search_path = pg_catalog, pg_temp as $$
declare
    reaped pg_catalog.int4;
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
    select pg_catalog.count(*)::pg_catalog.int4 into reaped from logged;
    perform planner.sweep_workers();
    return reaped;
end;
$$;

-- Cheap queue figures (the metrics gauge refreshes them every few seconds): served by the
-- partial indexes on PENDING and GENERATING runs.
create function planner.queue_stats()
returns jsonb
language sql stable security definer set search_path = pg_catalog, pg_temp as $$
    select jsonb_build_object(
        'pending', (select pg_catalog.count(*) from public.allocation_planner_runs r where r.state = 'PENDING'),
        'generating', (select pg_catalog.count(*) from public.allocation_planner_runs r where r.state = 'GENERATING'),
        'oldest_pending_at', (select min(r.created_at) from public.allocation_planner_runs r
                               where r.state = 'PENDING'),
        'oldest_pending_age_s', (select round(extract(epoch from pg_catalog.now() - min(r.created_at))::pg_catalog.numeric, 3)
                                 from public.allocation_planner_runs r where r.state = 'PENDING')
    );
$$;

-- Everything `receptor-planner status` shows, as one jsonb document, so the least-privilege
-- worker role can run it without any table privilege. `failures` = how many of the most
-- recent FAILED/INFEASIBLE runs to list.
create function planner.status(failures integer default 10)
returns jsonb
language sql stable security definer set search_path = pg_catalog, pg_temp as $$
    with settings as (
        select s.stale_after from public.planner_settings s limit 1
    )
    select jsonb_build_object(
        'generated_at', pg_catalog.now(),
        'stale_after_s', (select extract(epoch from stale_after)::pg_catalog.int4 from settings),
        'workers', coalesce((
            select jsonb_agg(jsonb_build_object(
                       'worker_id', w.worker_id, 'host', w.host, 'pid', w.pid,
                       'version', w.version, 'state', w.state,
                       'started_at', w.started_at, 'last_seen_at', w.last_seen_at,
                       'last_seen_s', round(extract(epoch from pg_catalog.now() - w.last_seen_at)::pg_catalog.numeric, 1),
                       'alive', w.last_seen_at >= pg_catalog.now() - (select stale_after from settings),
                       'current_run_id', w.current_run_id,
                       'polling_alone', w.polling_alone)
                   order by w.worker_id)
            from public.planner_workers w), '[]'::pg_catalog.jsonb),
        'queue', planner.queue_stats(),
        'generating', coalesce((
            select jsonb_agg(jsonb_build_object(
                       'run_id', r.id, 'organization_id', r.organization_id,
                       'organization', o.name, 'allocation_run_id', r.allocation_run_id,
                       'worker_id', r.worker_id, 'attempt', r.attempt,
                       'claimed_at', r.claimed_at, 'heartbeat_at', r.heartbeat_at,
                       'elapsed_s', round(extract(epoch from pg_catalog.now() - r.claimed_at)::pg_catalog.numeric, 1),
                       'heartbeat_age_s', round(extract(epoch from pg_catalog.now() - r.heartbeat_at)::pg_catalog.numeric, 1),
                       'constraints', to_jsonb(r.constraints),
                       'percent', r.progress -> 'percent',
                       'objective', r.progress -> 'objective',
                       'phase', r.progress -> 'phase',
                       'progress', r.progress)
                   order by r.claimed_at)
            from public.allocation_planner_runs r
            join public.organizations o on o.id = r.organization_id
            where r.state = 'GENERATING'), '[]'::pg_catalog.jsonb),
        'failures', coalesce((
            select jsonb_agg(to_jsonb(f) - 'ord' order by f.ord)
            from (
                select row_number() over (order by r.finished_at desc nulls last, r.created_at desc) as ord,
                       r.id as run_id, r.organization_id, o.name as organization,
                       r.allocation_run_id, r.state, r.error, r.worker_id, r.attempt,
                       r.created_at, r.finished_at
                from public.allocation_planner_runs r
                join public.organizations o on o.id = r.organization_id
                where r.state in ('FAILED', 'INFEASIBLE')
                order by r.finished_at desc nulls last, r.created_at desc
                limit greatest(0, least(coalesce(status.failures, 10), 1000))
            ) f), '[]'::pg_catalog.jsonb)
    );
$$;

revoke all on function
    planner.register_worker(text, text, integer, text, timestamptz),
    planner.worker_seen(text, uuid, text, boolean),
    planner.deregister_worker(text, text, integer),
    planner.sweep_workers(),
    planner.queue_stats(),
    planner.status(integer)
from public, anon, authenticated;
grant execute on function
    planner.register_worker(text, text, integer, text, timestamptz),
    planner.worker_seen(text, uuid, text, boolean),
    planner.deregister_worker(text, text, integer),
    planner.queue_stats(),
    planner.status(integer)
to planner_worker, service_role;
grant execute on function planner.sweep_workers(), planner.reap_stale_runs() to service_role;
