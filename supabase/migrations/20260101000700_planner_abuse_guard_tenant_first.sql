-- Tenant check ahead of the abuse guard (found by the reliability suite, scenario 13).
--
-- The abuse guard is a BEFORE INSERT trigger and SECURITY DEFINER, so it ran before row
-- level security's WITH CHECK and answered a member of ANOTHER organisation with
-- "allocation round ... already has a PENDING planner run (<id>)" or that organisation's
-- hourly run count: the insert was refused, but another tenant's data leaked in the error.
-- Now a request from a PostgREST user (auth.jwt() role other than service_role) for an
-- organisation they are not a member of is refused with the RLS error (42501) before the
-- guard looks at anything. The worker, postgres and service_role are unaffected.

create or replace function planner.tg_run_abuse_guard() returns trigger
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
