-- The run state machine, the abuse guard and the notifications, all enforced for every
-- writer (UI, worker, service role, psql): no code path can skip them.

-- PENDING -> GENERATING -> COMPLETED | INFEASIBLE | FAILED; GENERATING -> PENDING (release);
-- PENDING | GENERATING -> CANCELLED. Anything else is an error naming both states.
create function planner.tg_run_state_machine() returns trigger
language plpgsql set search_path = '' as $$
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
        new.finished_at := coalesce(new.finished_at, now());
    elsif new.state = 'PENDING' then
        new.finished_at := null;
    end if;
    return new;
end $$;

create trigger allocation_planner_runs_state_machine
    before insert or update of state on public.allocation_planner_runs
    for each row execute function planner.tg_run_state_machine();

-- "Denial of wallet": one active run per round, at most N runs per organisation per hour.
-- SECURITY DEFINER: it must count runs and read settings whatever the caller may see.
create function planner.tg_run_abuse_guard() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
    active_id uuid;
    active_state text;
    recent integer;
    max_per_hour integer;
begin
    -- Tenancy first. BEFORE triggers run ahead of RLS's WITH CHECK, so without this a
    -- member of another organisation would get this function's answers (the id and state
    -- of the round's active run, the organisation's hourly count) instead of a refusal.
    -- planner.is_member is defined with the RLS policies (…000300_planner_security.sql).
    if coalesce(auth.jwt() ->> 'role', '') not in ('service_role', '')
       and not planner.is_member(new.organization_id) then
        raise exception 'new row violates row-level security policy for table "allocation_planner_runs"'
            using errcode = 'insufficient_privilege';
    end if;

    -- serialise inserts per organisation so two concurrent requests cannot both pass the count
    perform pg_advisory_xact_lock(hashtextextended('planner_runs:' || new.organization_id::text, 0));

    select r.id, r.state into active_id, active_state
    from public.allocation_planner_runs r
    where r.allocation_run_id = new.allocation_run_id and r.state in ('PENDING', 'GENERATING')
    limit 1;
    if found then
        raise exception 'allocation round % already has a % planner run (%); wait for it to finish or cancel it',
            new.allocation_run_id, active_state, active_id
            using errcode = 'unique_violation';
    end if;

    select s.max_runs_per_org_per_hour into max_per_hour from public.planner_settings s;
    select count(*) into recent
    from public.allocation_planner_runs r
    where r.organization_id = new.organization_id and r.created_at > now() - interval '1 hour';
    if recent >= max_per_hour then
        raise exception 'organisation % has requested % planner runs in the last hour (limit %); try again later',
            new.organization_id, recent, max_per_hour
            using errcode = 'program_limit_exceeded';
    end if;
    return new;
end $$;

create trigger allocation_planner_runs_abuse_guard
    before insert on public.allocation_planner_runs
    for each row execute function planner.tg_run_abuse_guard();

-- Workers LISTEN on planner_runs (new work) and planner_cancellations (stop solving).
create function planner.tg_run_notify() returns trigger
language plpgsql set search_path = '' as $$
declare
    payload text := json_build_object('run_id', new.id, 'organization_id', new.organization_id)::text;
begin
    if new.state = 'PENDING' and (tg_op = 'INSERT' or old.state <> 'PENDING') then
        perform pg_notify('planner_runs', payload);
    elsif new.state = 'CANCELLED' and tg_op = 'UPDATE' and old.state <> 'CANCELLED' then
        perform pg_notify('planner_cancellations', payload);
    end if;
    return null;
end $$;

create trigger allocation_planner_runs_notify
    after insert or update of state on public.allocation_planner_runs
    for each row execute function planner.tg_run_notify();
