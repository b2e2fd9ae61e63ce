-- Who may do what. Supabase grants anon/authenticated ALL on new public tables by default,
-- so every table starts from "revoke all" and gets back only what its policies need.
--   anon:            nothing.
--   authenticated:   members read their organisation; admins/editors edit the round and its
--                    lines; members insert PENDING runs and may cancel them; admins read logs.
--   planner_worker:  EXECUTE on the worker API only (SECURITY DEFINER functions).
--   service_role:    everything (BYPASSRLS on Supabase and in the test shim).

-- RLS helpers. SECURITY DEFINER so policies do not recurse into organization_members' own RLS.
create function planner.has_role(organization_id uuid, roles text[])
returns boolean
language sql stable security definer set search_path = '' as $$
    select exists (
        select 1 from public.organization_members m
        where m.organization_id = has_role.organization_id and m.user_id = auth.uid()
          and m.role = any (has_role.roles));
$$;

create function planner.is_member(organization_id uuid)
returns boolean
language sql stable security definer set search_path = '' as $$
    select planner.has_role(is_member.organization_id, array['admin', 'editor', 'viewer']);
$$;

-- Tables ---------------------------------------------------------------------------------
do $$
declare
    t text;
begin
    foreach t in array array[
        'organizations', 'organization_members', 'allocation_runs', 'plan_terms', 'units',
        'unit_demands', 'allocation_planner_runs', 'job_lines', 'rotations',
        'planner_execution_logs', 'job_lines_history', 'planner_settings'
    ] loop
        execute format('alter table public.%I enable row level security', t);
        execute format('revoke all on table public.%I from public, anon, authenticated', t);
        execute format('grant all on table public.%I to service_role', t);
    end loop;
    -- read-only for members; what editors may change is granted below
    foreach t in array array[
        'organizations', 'organization_members', 'allocation_runs', 'plan_terms', 'units',
        'unit_demands', 'allocation_planner_runs', 'job_lines', 'rotations',
        'planner_execution_logs', 'job_lines_history'
    ] loop
        execute format('grant select on table public.%I to authenticated', t);
    end loop;
    -- the round and its lines: admins and editors edit, lock and unlock
    foreach t in array array['allocation_runs', 'plan_terms', 'units', 'unit_demands', 'job_lines', 'rotations'] loop
        execute format('grant insert, update, delete on table public.%I to authenticated', t);
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

-- Runs: members request (PENDING only: only these columns are insertable, so worker_id,
-- result, attempt... keep their defaults) and cancel (only `state` is updatable, only to
-- CANCELLED; the state machine trigger refuses cancelling a finished run).
grant insert (organization_id, allocation_run_id, constraints, params)
    on public.allocation_planner_runs to authenticated;
grant update (state) on public.allocation_planner_runs to authenticated;
create policy allocation_planner_runs_member_read on public.allocation_planner_runs
    for select to authenticated using (planner.is_member(organization_id));
create policy allocation_planner_runs_member_request on public.allocation_planner_runs
    for insert to authenticated
    with check (planner.is_member(organization_id) and state = 'PENDING' and requested_by = auth.uid());
create policy allocation_planner_runs_member_cancel on public.allocation_planner_runs
    for update to authenticated
    using (planner.is_member(organization_id) and state in ('PENDING', 'GENERATING'))
    with check (planner.is_member(organization_id) and state = 'CANCELLED');

-- Functions ------------------------------------------------------------------------------
revoke all on all functions in schema planner from public, anon, authenticated;
grant usage on schema planner to authenticated, service_role;
grant execute on function planner.has_role(uuid, text[]), planner.is_member(uuid),
    planner.restore_snapshot(uuid) to authenticated;

-- The worker's login role: no password here (set it per environment, see docs/database.md).
do $$
begin
    if not exists (select 1 from pg_roles where rolname = 'planner_worker') then
        create role planner_worker login noinherit;
    end if;
end $$;
grant usage on schema planner to planner_worker;
grant execute on function
    planner.claim_run(text),
    planner.load_plan(uuid, uuid),
    planner.heartbeat(uuid, text, integer, jsonb),
    planner.complete_run(uuid, text, integer, jsonb, jsonb),
    planner.finish_run(uuid, text, integer, text, jsonb, text),
    planner.release_run(uuid, text, integer),
    planner.write_logs(jsonb),
    planner.reap_stale_runs(),
    planner.restore_snapshot(uuid)
to planner_worker, service_role;

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
