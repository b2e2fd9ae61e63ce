-- The run state machine, the abuse guard and the notifications, all enforced for every
-- writer (UI, worker, service role, psql): no code path can skip them.

-- PENDING -> GENERATING -> COMPLETED | INFEASIBLE | FAILED; GENERATING -> PENDING (release);
-- PENDING | GENERATING -> CANCELLED. Anything else is an error naming both states.
create function planner.tg_run_state_machine() returns trigger
language plpgsql set search_path = pg_catalog, pg_temp as $$
begin
    if tg_op = 'INSERT' then
        if new.state <> 'PENDING' then
            raise exception 'a planner run must be inserted as PENDING, not %', new.state
                using errcode = 'check_violation';
        end if;
        return new;
    end if;
    if new.state is not distinct from old.state then
        return new;
    end if;
    if (old.state, new.state) not in (
        ('PENDING', 'GENERATING'),
        ('GENERATING', 'COMPLETED'), ('GENERATING', 'INFEASIBLE'), ('GENERATING', 'FAILED'),
        ('GENERATING', 'PENDING'),
        ('PENDING', 'CANCELLED'), ('GENERATING', 'CANCELLED')
    ) then
        raise exception 'illegal planner run state transition: % -> %', old.state, new.state
            using errcode = 'check_violation',
                  hint = 'allowed: PENDING->GENERATING, GENERATING->COMPLETED|INFEASIBLE|FAILED|PENDING, PENDING|GENERATING->CANCELLED';
    end if;
    if new.state in ('COMPLETED', 'INFEASIBLE', 'FAILED', 'CANCELLED') then
        new.finished_at := coalesce(new.finished_at, pg_catalog.now());
    elsif new.state = 'PENDING' then
        new.finished_at := null;
    end if;
    return new;
end $$;

create trigger allocation_planner_runs_state_machine
    before insert or update of state on public.allocation_planner_runs
    for each row execute function planner.tg_run_state_machine();

-- Who is really calling, for checks inside SECURITY DEFINER code (where current_user is the
-- function's owner): the role set by SET ROLE (PostgREST's anon/authenticated/service_role),
-- else the login. Unlike a JWT claim, neither can be forged: SET ROLE needs membership.
create function planner.invoker_bypasses_rls()
returns boolean
language sql stable set search_path = pg_catalog, pg_temp as $$
    select coalesce((
        select r.rolsuper or r.rolbypassrls
               or r.oid = (select n.nspowner from pg_catalog.pg_namespace n where n.nspname = 'planner')
        from pg_catalog.pg_roles r
        where r.rolname = coalesce(nullif(pg_catalog.current_setting('role'), 'none'),
                                   session_user::pg_catalog.text)), false);
$$;

-- The request guard ("denial of wallet"), in order: who (an admin or editor of the run's
-- organisation, unless the caller bypasses RLS anyway), what (the engine's limits), where
-- (the round must be a round of that organisation: the same refusal as a round that does
-- not exist), then one active run per round and at most N requests per organisation per
-- hour, counted from the append-only ledger public.planner_run_requests, which this trigger
-- writes and no member can touch. Every message names only the caller's own organisation.
-- SECURITY DEFINER: it must read rounds, runs, settings and the ledger whatever the caller may.
create function planner.tg_run_abuse_guard() returns trigger
language plpgsql security definer set search_path = pg_catalog, pg_temp as $$
declare
    active_id pg_catalog.uuid;
    active_state pg_catalog.text;
    recent pg_catalog.int4;
    max_per_hour pg_catalog.int4;
    problem pg_catalog.text;
begin
    -- Tenancy first. BEFORE triggers run ahead of RLS's WITH CHECK, so without this a
    -- non-member or a viewer would get this function's answers instead of a refusal.
    if not planner.invoker_bypasses_rls()
       and not planner.has_role(new.organization_id, array['admin', 'editor']::pg_catalog.text[]) then
        raise exception 'new row violates row-level security policy for table "allocation_planner_runs"'
            using errcode = 'insufficient_privilege',
                  hint = 'only an admin or editor of the organisation may request a planner run';
    end if;

    problem := planner.run_request_problem(new.constraints, new.params);
    if problem is not null then
        raise exception 'invalid planner run request: %', problem using errcode = 'check_violation';
    end if;

    if not exists (select 1 from public.allocation_runs a
                   where a.id = new.allocation_run_id and a.organization_id = new.organization_id) then
        raise exception 'allocation round % is not a round of organisation %',
            new.allocation_run_id, new.organization_id
            using errcode = 'foreign_key_violation';
    end if;

    -- serialise inserts per organisation so two concurrent requests cannot both pass the count
    perform pg_catalog.pg_advisory_xact_lock(
        pg_catalog.hashtextextended('planner_runs:' || new.organization_id::pg_catalog.text, 0));

    select r.id, r.state into active_id, active_state
    from public.allocation_planner_runs r
    where r.organization_id = new.organization_id and r.allocation_run_id = new.allocation_run_id
      and r.state in ('PENDING', 'GENERATING')
    limit 1;
    if found then
        raise exception 'allocation round % already has a % planner run (%); wait for it to finish or cancel it',
            new.allocation_run_id, active_state, active_id
            using errcode = 'unique_violation';
    end if;

    select s.max_runs_per_org_per_hour into max_per_hour from public.planner_settings s;
    select pg_catalog.count(*) into recent
    from public.planner_run_requests q
    where q.organization_id = new.organization_id and q.requested_at > pg_catalog.now() - interval '1 hour';
    if recent >= max_per_hour then
        raise exception 'organisation % has requested % planner runs in the last hour (limit %); try again later',
            new.organization_id, recent, max_per_hour
            using errcode = 'program_limit_exceeded';
    end if;

    insert into public.planner_run_requests (organization_id, run_id, allocation_run_id, requested_by)
    values (new.organization_id, new.id, new.allocation_run_id, new.requested_by);
    return new;
end $$;

create trigger allocation_planner_runs_abuse_guard
    before insert on public.allocation_planner_runs
    for each row execute function planner.tg_run_abuse_guard();

-- Workers LISTEN on planner_runs (new work) and planner_cancellations (stop solving).
create function planner.tg_run_notify() returns trigger
language plpgsql set search_path = pg_catalog, pg_temp as $$
declare
    payload pg_catalog.text := pg_catalog.json_build_object('run_id', new.id, 'organization_id', new.organization_id)::pg_catalog.text;
begin
    if new.state = 'PENDING' and (tg_op = 'INSERT' or old.state <> 'PENDING') then
        perform pg_catalog.pg_notify('planner_runs', payload);
    elsif new.state = 'CANCELLED' and tg_op = 'UPDATE' and old.state <> 'CANCELLED' then
        perform pg_catalog.pg_notify('planner_cancellations', payload);
    end if;
    return null;
end $$;

create trigger allocation_planner_runs_notify
    after insert or update of state on public.allocation_planner_runs
    for each row execute function planner.tg_run_notify();
