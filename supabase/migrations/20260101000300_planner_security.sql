-- Who may do what (the README's "Security model" is the summary). Supabase grants
-- anon/authenticated ALL on new public tables by default, so every table starts from
-- "revoke all" and gets back only what its policies need.
--   anon:            nothing.
--   authenticated:   members read their organisation; admins/editors edit the round and its
--                    lines, request runs (PENDING only) and cancel them; admins read logs.
--   planner_worker:  EXECUTE on exactly the functions the listener calls (SECURITY DEFINER).
--   service_role:    everything (BYPASSRLS on Supabase and in the test shim).
-- Role checks read organization_members by auth.uid() (the verified JWT subject that
-- PostgREST sets) and, inside SECURITY DEFINER code, the real SQL role
-- (planner.invoker_bypasses_rls); never a role claim from the JWT, which any session able
-- to run set_config('request.jwt.claims', ...) could forge. Every statement here runs as
-- a non-superuser database owner (Supabase's `postgres`).

-- RLS helpers. SECURITY DEFINER so policies do not recurse into organization_members' own RLS.
create function planner.has_role(organization_id uuid, roles text[])
returns boolean
language sql stable security definer set search_path = pg_catalog, pg_temp as $$
    select exists (
        select 1 from public.organization_members m
        where m.organization_id = has_role.organization_id and m.user_id = auth.uid()
          and m.role = any (has_role.roles));
$$;

create function planner.is_member(organization_id uuid)
returns boolean
language sql stable security definer set search_path = pg_catalog, pg_temp as $$
    select planner.has_role(is_member.organization_id, array['admin', 'editor', 'viewer']::pg_catalog.text[]);
$$;

-- Tables ---------------------------------------------------------------------------------
-- Members never choose ids (nor move rows between rounds): only the columns below are
-- insertable/updatable, so a duplicate-key error can never confirm another organisation's id.
do $$
declare
    t text;
    editable constant jsonb := '{
        "allocation_runs": {"insert": "organization_id, name", "update": "name"},
        "plan_terms": {"insert": "organization_id, allocation_run_id, ordinal, name, weeks",
                       "update": "ordinal, name, weeks"},
        "units": {"insert": "organization_id, allocation_run_id, code, name, specialty, subspecialty, experiences, kind, nights, span_terms, leave_weeks",
                  "update": "code, name, specialty, subspecialty, experiences, kind, nights, span_terms, leave_weeks"},
        "unit_demands": {"insert": "organization_id, allocation_run_id, unit_id, term_ordinal, min_lines, max_lines",
                         "update": "unit_id, term_ordinal, min_lines, max_lines"},
        "job_lines": {"insert": "organization_id, allocation_run_id, label, locked, source",
                      "update": "label, locked, source"},
        "rotations": {"insert": "organization_id, allocation_run_id, job_line_id, term_ordinal, unit_id, locked",
                      "update": "term_ordinal, unit_id, locked"}
    }';
begin
    foreach t in array array[
        'organizations', 'organization_members', 'allocation_runs', 'plan_terms', 'units',
        'unit_demands', 'allocation_planner_runs', 'job_lines', 'rotations',
        'planner_execution_logs', 'job_lines_history', 'planner_settings',
        'planner_run_requests', 'planner_run_claims'
    ] loop
        execute format('alter table public.%I enable row level security', t);
        execute format('revoke all on table public.%I from public, anon, authenticated', t);
        execute format('grant all on table public.%I to service_role', t);
    end loop;
    -- the ledgers are append-only for everyone but their owner
    revoke insert, update, delete, truncate on table public.planner_run_requests, public.planner_run_claims
        from service_role;
    -- read-only for members; what editors may change is granted below
    foreach t in array array[
        'organizations', 'organization_members', 'allocation_runs', 'plan_terms', 'units',
        'unit_demands', 'allocation_planner_runs', 'job_lines', 'rotations',
        'planner_execution_logs', 'job_lines_history'
    ] loop
        execute format('grant select on table public.%I to authenticated', t);
    end loop;
    -- the round and its lines: admins and editors edit, lock and unlock
    for t in select jsonb_object_keys(editable) loop
        execute format('grant insert (%s) on table public.%I to authenticated', editable -> t ->> 'insert', t);
        execute format('grant update (%s) on table public.%I to authenticated', editable -> t ->> 'update', t);
        execute format('grant delete on table public.%I to authenticated', t);
        execute format($p$create policy %I on public.%I for select to authenticated
                          using (planner.is_member(organization_id))$p$, t || '_member_read', t);
        execute format($p$create policy %I on public.%I for insert to authenticated
                          with check (planner.has_role(organization_id, array['admin', 'editor']))$p$,
                       t || '_editor_insert', t);
        execute format($p$create policy %I on public.%I for update to authenticated
                          using (planner.has_role(organization_id, array['admin', 'editor']))
                          with check (planner.has_role(organization_id, array['admin', 'editor']))$p$,
                       t || '_editor_update', t);
        execute format($p$create policy %I on public.%I for delete to authenticated
                          using (planner.has_role(organization_id, array['admin', 'editor']))$p$,
                       t || '_editor_delete', t);
    end loop;
end $$;

create policy organizations_member_read on public.organizations
    for select to authenticated using (planner.is_member(id));
create policy organization_members_member_read on public.organization_members
    for select to authenticated using (planner.is_member(organization_id));
create policy job_lines_history_member_read on public.job_lines_history
    for select to authenticated using (planner.is_member(organization_id));
create policy planner_execution_logs_admin_read on public.planner_execution_logs
    for select to authenticated using (planner.has_role(organization_id, array['admin']));

-- Runs: admins and editors request (PENDING only: only these columns are insertable, so
-- worker_id, result, attempt... keep their defaults) and cancel (only `state` is updatable,
-- only to CANCELLED; the state machine trigger refuses cancelling a finished run). Viewers
-- may not: a completed run replaces the round's unlocked lines, which viewers may not edit.
grant insert (organization_id, allocation_run_id, constraints, params)
    on public.allocation_planner_runs to authenticated;
grant update (state) on public.allocation_planner_runs to authenticated;
create policy allocation_planner_runs_member_read on public.allocation_planner_runs
    for select to authenticated using (planner.is_member(organization_id));
create policy allocation_planner_runs_editor_request on public.allocation_planner_runs
    for insert to authenticated
    with check (planner.has_role(organization_id, array['admin', 'editor'])
                and state = 'PENDING' and requested_by = auth.uid());
create policy allocation_planner_runs_editor_cancel on public.allocation_planner_runs
    for update to authenticated
    using (planner.has_role(organization_id, array['admin', 'editor']) and state in ('PENDING', 'GENERATING'))
    with check (planner.has_role(organization_id, array['admin', 'editor']) and state = 'CANCELLED');

-- Functions ------------------------------------------------------------------------------
revoke all on all functions in schema planner from public, anon, authenticated;
grant usage on schema planner to authenticated, service_role;
-- the CHECK on the runs table calls run_request_problem as the inserting role
grant execute on function planner.has_role(uuid, text[]), planner.is_member(uuid),
    planner.run_request_problem(text[], jsonb), planner.restore_snapshot(uuid)
    to authenticated, service_role;
grant execute on function planner.plan_document(uuid, uuid) to service_role;

-- The worker's login role: no password here (set it per environment, see docs/database.md).
-- Creating it needs CREATEROLE, which Supabase's `postgres` has.
do $$
begin
    if not exists (select 1 from pg_roles where rolname = 'planner_worker') then
        create role planner_worker login noinherit;
    end if;
end $$;
grant usage on schema planner to planner_worker;
-- Exactly what listener/sql/ calls (a test greps it); the registry, queue_stats, status and
-- the reaper follow in …000500_planner_workers.sql.
grant execute on function
    planner.claim_run(text),
    planner.load_plan(uuid, text, integer),
    planner.heartbeat(uuid, text, integer, jsonb),
    planner.complete_run(uuid, text, integer, jsonb, jsonb),
    planner.finish_run(uuid, text, integer, text, jsonb, text),
    planner.release_run(uuid, text, integer),
    planner.write_logs(jsonb)
to planner_worker, service_role;

-- Temporary objects: nothing here needs them, and a session's pg_temp is what a caller can
-- slip under SECURITY DEFINER code. PUBLIC loses TEMPORARY on this database; the service
-- roles that may use it keep it. Only the database's owner can revoke PUBLIC's grant: on
-- Supabase the database belongs to supabase_admin, so there `postgres` gets a WARNING
-- naming the owner and the statement to run, and PUBLIC keeps TEMPORARY. That is defence in
-- depth only: no SECURITY DEFINER function uses a temporary table, and each one searches
-- pg_temp last (tests/security/test_escalations.py runs the attacks with TEMPORARY granted).
do $$
declare
    r text;
    owner text;
begin
    execute format('revoke temporary on database %I from public', current_database());
    select pg_catalog.pg_get_userbyid(d.datdba) into owner
      from pg_catalog.pg_database d where d.datname = pg_catalog.current_database();
    if exists (
        select 1
          from pg_catalog.pg_database d, pg_catalog.aclexplode(d.datacl) a
         where d.datname = pg_catalog.current_database()
           and a.grantee = 0 and a.privilege_type = 'TEMPORARY'
    ) or (select d.datacl is null from pg_catalog.pg_database d
           where d.datname = pg_catalog.current_database()) then
        raise warning 'TEMPORARY stays granted to PUBLIC on database %: only its owner (%) can revoke it',
            current_database(), owner
            using hint = format('As %s: revoke temporary on database %I from public;',
                                owner, current_database());
        return;
    end if;
    foreach r in array array[
        'service_role', 'supabase_admin', 'supabase_auth_admin', 'supabase_storage_admin',
        'supabase_realtime_admin', 'supabase_functions_admin', 'dashboard_user'
    ] loop
        if exists (select 1 from pg_roles where rolname = r) then
            execute format('grant temporary on database %I to %I', current_database(), r);
        end if;
    end loop;
exception when insufficient_privilege then
    raise warning 'could not revoke TEMPORARY on database % from PUBLIC (%): run this block as its owner',
        current_database(), sqlerrm;
end $$;

-- Realtime: the UI watches state and progress live. Supabase always has the publication.
do $$
begin
    if not exists (select 1 from pg_publication where pubname = 'supabase_realtime') then
        create publication supabase_realtime;
    end if;
    if not exists (select 1 from pg_publication_tables
                   where pubname = 'supabase_realtime' and schemaname = 'public'
                     and tablename = 'allocation_planner_runs') then
        alter publication supabase_realtime add table public.allocation_planner_runs;
    end if;
end $$;
