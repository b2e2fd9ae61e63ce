-- receptor-planner: tables of ../shared/DOMAIN.md.
-- Every reference between tenant tables carries organization_id (and, below the allocation
-- round, allocation_run_id), so a row can never point into another organisation or round.
-- Every unique key starts with organization_id too: a duplicate-key error then only ever
-- talks about the inserter's own organisation, never confirms another's labels or codes.

create schema if not exists planner;
-- No function in schema planner is executable by PUBLIC unless granted, including ones
-- added later. A per-schema ALTER DEFAULT PRIVILEGES can only add to the global default,
-- which gives PUBLIC EXECUTE on every new function, so the revoke must be global too: it
-- covers every function the role running the migrations creates from now on (Supabase's
-- own per-schema grants to anon/authenticated/service_role on `public` are unaffected).
alter default privileges revoke execute on functions from public;
alter default privileges in schema planner revoke execute on functions from public;

create table public.organizations (
    id uuid primary key default gen_random_uuid(),
    name text not null check (btrim(name) <> ''),
    created_at timestamptz not null default now()
);

create table public.organization_members (
    organization_id uuid not null references public.organizations (id) on delete cascade,
    user_id uuid not null references auth.users (id) on delete cascade,
    role text not null default 'viewer' check (role in ('admin', 'editor', 'viewer')),
    created_at timestamptz not null default now(),
    primary key (organization_id, user_id)
);
create index organization_members_user_idx on public.organization_members (user_id);

-- An allocation round ("2027 PGY2 lines"): the plan context.
create table public.allocation_runs (
    id uuid primary key default gen_random_uuid(),
    organization_id uuid not null references public.organizations (id) on delete cascade,
    name text not null check (btrim(name) <> ''),
    created_at timestamptz not null default now(),
    unique (organization_id, id)
);
create index allocation_runs_org_idx on public.allocation_runs (organization_id, created_at desc);

create table public.plan_terms (
    id uuid primary key default gen_random_uuid(),
    organization_id uuid not null,
    allocation_run_id uuid not null,
    ordinal integer not null check (ordinal between 1 and 52),
    name text not null check (btrim(name) <> ''),
    weeks integer not null check (weeks between 1 and 52),
    unique (organization_id, allocation_run_id, ordinal),
    foreign key (organization_id, allocation_run_id)
        references public.allocation_runs (organization_id, id) on delete cascade
);

create table public.units (
    id uuid primary key default gen_random_uuid(),
    organization_id uuid not null,
    allocation_run_id uuid not null,
    code text not null check (code ~ '^\S+$'),
    name text not null check (btrim(name) <> ''),
    specialty text not null check (btrim(specialty) <> ''),
    subspecialty text not null check (btrim(subspecialty) <> ''),
    experiences text[] not null default '{}'
        check (experiences <@ array['A', 'B', 'C', 'D'] and array_position(experiences, null) is null),
    kind text not null default 'clinical'
        check (kind in ('clinical', 'non_clinical', 'service', 'leave')),
    nights boolean not null default false,
    span_terms integer not null default 1 check (span_terms in (1, 2)),
    leave_weeks integer not null default 0 check (leave_weeks between 0 and 52),
    unique (organization_id, allocation_run_id, code),
    unique (organization_id, allocation_run_id, id),
    foreign key (organization_id, allocation_run_id)
        references public.allocation_runs (organization_id, id) on delete cascade
);

-- No row for a (unit, term) = the unit is closed in that term.
create table public.unit_demands (
    id uuid primary key default gen_random_uuid(),
    organization_id uuid not null,
    allocation_run_id uuid not null,
    unit_id uuid not null,
    term_ordinal integer not null,
    min_lines integer not null check (min_lines >= 0),
    max_lines integer not null,
    check (min_lines <= max_lines),
    unique (organization_id, allocation_run_id, unit_id, term_ordinal),
    foreign key (organization_id, allocation_run_id, unit_id)
        references public.units (organization_id, allocation_run_id, id) on delete cascade,
    foreign key (organization_id, allocation_run_id, term_ordinal)
        references public.plan_terms (organization_id, allocation_run_id, ordinal) on delete cascade
);
create index unit_demands_round_idx on public.unit_demands (allocation_run_id, term_ordinal);

-- What a run request may ask for, mirroring the engine's loader (constraints/limits.py,
-- constraints/loading/params.py, the rule sets of constraints/rules/): NULL when fine, else
-- every problem, "; "-separated, named by field as the loader names them (constraints[1],
-- params.seed). Used by a CHECK on the runs table (always enforced) and by the request guard
-- (which raises it as a readable message). tests/security keeps the lists below equal to the
-- Python ones.
create function planner.run_request_problem(constraints text[], params jsonb)
returns text
language plpgsql immutable parallel safe set search_path = pg_catalog, pg_temp as $$
declare
    known constant pg_catalog.text[] :=
        array['MAX_ONE_NIGHTS', 'NO_NIGHTS', 'NO_REPEAT_UNIT', 'VIC_PGY1', 'VIC_PGY2'];
    param_keys constant pg_catalog.text[] :=
        array['min_lines', 'max_lines', 'time_limit_s', 'seed', 'allow_shortfall', 'deterministic'];
    max_constraints constant pg_catalog.int4 := 20;
    max_lines constant pg_catalog.numeric := 5000;
    max_seed constant pg_catalog.numeric := 2147483647;
    max_time_limit_s constant pg_catalog.numeric := 3600;
    problems pg_catalog.text[] := '{}'::pg_catalog.text[];
    key pg_catalog.text;
    limit_value pg_catalog.numeric;
    v pg_catalog.jsonb;
begin
    if constraints is null then
        problems := problems || 'constraints: must be a list of rule-set names'::pg_catalog.text;
    else
        if pg_catalog.cardinality(constraints) > max_constraints then
            problems := problems || pg_catalog.format('constraints: %s items: too many: the limit is %s rule sets',
                                                      pg_catalog.cardinality(constraints), max_constraints);
        end if;
        problems := problems || array(
            select pg_catalog.format('constraints[%s]: %s', x.n - 1,
                       case when x.c is null then 'must be a rule-set name (a string), not null'
                            when x.c <> all (known) then
                                pg_catalog.format('%L: unknown rule set; known rule sets are: %s',
                                                  pg_catalog.left(x.c, 80), pg_catalog.array_to_string(known, ', '))
                            else pg_catalog.format('%L: rule set listed twice', x.c) end)
            from (select u.c, u.n, pg_catalog.row_number() over (partition by u.c order by u.n) as k
                  from pg_catalog.unnest(constraints) with ordinality as u(c, n)) x
            where x.c is null or x.c <> all (known) or x.k > 1
            order by x.n);
    end if;

    if params is null or pg_catalog.jsonb_typeof(params) <> 'object' then
        problems := problems || 'params: must be an object'::pg_catalog.text;
        return pg_catalog.array_to_string(problems, '; ');
    end if;
    problems := problems || array(
        select pg_catalog.format('params.%s: unknown parameter; known: %s', pg_catalog.left(k, 80),
                                 pg_catalog.array_to_string(param_keys, ', '))
        from pg_catalog.jsonb_object_keys(params) k where k <> all (param_keys) order by k);
    foreach key in array array['min_lines', 'max_lines', 'seed'] loop
        v := params -> key;
        continue when v is null or v = 'null'::pg_catalog.jsonb;
        limit_value := (case key when 'seed' then max_seed else max_lines end);
        if pg_catalog.jsonb_typeof(v) <> 'number' or v::pg_catalog.text !~ '^-?[0-9]+$' then
            problems := problems || pg_catalog.format('params.%s: must be a whole number', key);
        elsif v::pg_catalog.text::pg_catalog.numeric < 0 then
            problems := problems || pg_catalog.format('params.%s: must be >= 0', key);
        elsif v::pg_catalog.text::pg_catalog.numeric > limit_value then
            problems := problems || pg_catalog.format('params.%s: must be <= %s', key, limit_value);
        end if;
    end loop;
    if pg_catalog.jsonb_typeof(params -> 'min_lines') = 'number'
       and pg_catalog.jsonb_typeof(params -> 'max_lines') = 'number'
       and (params ->> 'min_lines')::pg_catalog.numeric > (params ->> 'max_lines')::pg_catalog.numeric then
        problems := problems || pg_catalog.format('params.min_lines: must not exceed params.max_lines (%s)',
                                                  params ->> 'max_lines');
    end if;
    v := params -> 'time_limit_s';
    if v is not null and v <> 'null'::pg_catalog.jsonb then
        if pg_catalog.jsonb_typeof(v) <> 'number' then
            problems := problems || 'params.time_limit_s: must be a number of seconds'::pg_catalog.text;
        elsif (v::pg_catalog.text)::pg_catalog.numeric <= 0 then
            problems := problems || 'params.time_limit_s: must be a positive number of seconds'::pg_catalog.text;
        elsif (v::pg_catalog.text)::pg_catalog.numeric > max_time_limit_s then
            problems := problems || pg_catalog.format('params.time_limit_s: must be <= %s (the time limit''s limit)',
                                                      max_time_limit_s);
        end if;
    end if;
    foreach key in array array['allow_shortfall', 'deterministic'] loop
        v := params -> key;
        if v is not null and pg_catalog.jsonb_typeof(v) <> 'boolean' then
            problems := problems || pg_catalog.format('params.%s: must be true or false', key);
        end if;
    end loop;
    -- a readable refusal, however many problems: the first ten, then how many more
    if pg_catalog.cardinality(problems) > 10 then
        problems := problems[1:10]
                    || pg_catalog.format('and %s more', pg_catalog.cardinality(problems) - 10);
    end if;
    return nullif(pg_catalog.array_to_string(problems, '; '), '');
end $$;

create table public.allocation_planner_runs (
    id uuid primary key default gen_random_uuid(),
    organization_id uuid not null,
    allocation_run_id uuid not null,
    constraints text[] not null default '{}',
    params jsonb not null default '{}',
    state text not null default 'PENDING' check (
        state in ('PENDING', 'GENERATING', 'COMPLETED', 'INFEASIBLE', 'FAILED', 'CANCELLED')
    ),
    attempt integer not null default 0 check (attempt >= 0),
    worker_id text,
    claimed_at timestamptz,
    heartbeat_at timestamptz,
    finished_at timestamptz,
    progress jsonb,
    result jsonb,
    error text,
    requested_by uuid default auth.uid(),
    created_at timestamptz not null default now(),
    check (state <> 'GENERATING' or (worker_id is not null and heartbeat_at is not null)),
    -- the engine's own limits on what a request may ask for (see planner.run_request_problem)
    constraint allocation_planner_runs_request_within_limits
        check (planner.run_request_problem(constraints, params) is null),
    unique (organization_id, id),
    foreign key (organization_id, allocation_run_id)
        references public.allocation_runs (organization_id, id) on delete cascade
);
-- The claim scans PENDING runs by organisation and age; the reaper scans GENERATING by heartbeat.
create index allocation_planner_runs_pending_idx
    on public.allocation_planner_runs (organization_id, created_at) where state = 'PENDING';
create index allocation_planner_runs_generating_idx
    on public.allocation_planner_runs (heartbeat_at) where state = 'GENERATING';
-- The UI lists a round's runs newest first; the abuse guard counts an org's last hour.
create index allocation_planner_runs_round_idx
    on public.allocation_planner_runs (allocation_run_id, created_at desc);
create index allocation_planner_runs_org_created_idx
    on public.allocation_planner_runs (organization_id, created_at);
-- Last service of an organisation, for the round-robin tie-break of planner.claim_run.
create index allocation_planner_runs_org_claimed_idx
    on public.allocation_planner_runs (organization_id, claimed_at desc)
    where claimed_at is not null;
-- Backstop for the abuse guard under concurrent inserts: one active run per round.
create unique index allocation_planner_runs_one_active_per_round
    on public.allocation_planner_runs (organization_id, allocation_run_id)
    where state in ('PENDING', 'GENERATING');

create table public.job_lines (
    id uuid primary key default gen_random_uuid(),
    organization_id uuid not null,
    allocation_run_id uuid not null,
    planner_run_id uuid,
    label text not null check (btrim(label) <> ''),
    locked boolean not null default false,
    source text not null default 'manual'
        check (source in ('manual', 'new', 'partial', 'locked', 'restored')),
    created_at timestamptz not null default now(),
    unique (organization_id, allocation_run_id, label),
    unique (organization_id, allocation_run_id, id),
    foreign key (organization_id, allocation_run_id)
        references public.allocation_runs (organization_id, id) on delete cascade,
    foreign key (organization_id, planner_run_id)
        references public.allocation_planner_runs (organization_id, id) on delete set null (planner_run_id)
);

create table public.rotations (
    id uuid primary key default gen_random_uuid(),
    organization_id uuid not null,
    allocation_run_id uuid not null,
    job_line_id uuid not null,
    term_ordinal integer not null,
    unit_id uuid not null,
    locked boolean not null default false,
    unique (organization_id, allocation_run_id, job_line_id, term_ordinal),
    foreign key (organization_id, allocation_run_id, job_line_id)
        references public.job_lines (organization_id, allocation_run_id, id) on delete cascade,
    foreign key (organization_id, allocation_run_id, unit_id)
        references public.units (organization_id, allocation_run_id, id),
    foreign key (organization_id, allocation_run_id, term_ordinal)
        references public.plan_terms (organization_id, allocation_run_id, ordinal) on delete cascade
);
create index rotations_unit_idx on public.rotations (unit_id, term_ordinal);
-- a line's rotations (the plan document, snapshots, completion checks look them up by line)
create index rotations_line_idx on public.rotations (job_line_id, term_ordinal);
create index rotations_round_idx on public.rotations (allocation_run_id);

create table public.planner_execution_logs (
    id uuid primary key default gen_random_uuid(),
    run_id uuid not null,
    organization_id uuid not null,
    level text not null default 'INFO'
        check (level in ('TRACE', 'DEBUG', 'INFO', 'SUCCESS', 'WARNING', 'ERROR', 'CRITICAL')),
    message text not null,
    traceback text,
    context jsonb not null default '{}',
    created_at timestamptz not null default now(),
    foreign key (organization_id, run_id)
        references public.allocation_planner_runs (organization_id, id) on delete cascade
);
create index planner_execution_logs_run_idx on public.planner_execution_logs (run_id, created_at);
create index planner_execution_logs_org_idx on public.planner_execution_logs (organization_id, created_at desc);

-- What a completed run (or a restore) replaced: the round's unlocked lines with rotations,
-- as [{label, source, planner_run_id, rotations: [{term, unit, unit_id, locked}]}].
create table public.job_lines_history (
    id uuid primary key default gen_random_uuid(),
    organization_id uuid not null,
    allocation_run_id uuid not null,
    planner_run_id uuid,
    reason text not null check (reason in ('complete', 'restore')),
    lines jsonb not null check (jsonb_typeof(lines) = 'array'),
    created_at timestamptz not null default now(),
    foreign key (organization_id, allocation_run_id)
        references public.allocation_runs (organization_id, id) on delete cascade,
    foreign key (organization_id, planner_run_id)
        references public.allocation_planner_runs (organization_id, id) on delete set null (planner_run_id)
);
create index job_lines_history_round_idx on public.job_lines_history (allocation_run_id, created_at desc);

-- Operational knobs, one row. Read by the reaper and the abuse guard.
create table public.planner_settings (
    id boolean primary key default true check (id),
    stale_after interval not null default interval '2 minutes' check (stale_after > interval '0'),
    max_runs_per_org_per_hour integer not null default 30 check (max_runs_per_org_per_hour > 0),
    -- Claims a run may have before a stale heartbeat fails it: the reaper hands a lost run
    -- back to PENDING while attempt < max_attempts (1 = never retry a lost run).
    max_attempts integer not null default 2 check (max_attempts between 1 and 100),
    updated_at timestamptz not null default now()
);
insert into public.planner_settings default values;

-- Append-only ledgers, written only by SECURITY DEFINER code (no grants to members or to the
-- worker login; RLS on, no policies). Neither references the runs table, so deleting a round
-- (whose runs cascade away) erases nothing here.
--   planner_run_requests: every accepted run request; the hourly cap counts these.
--   planner_run_claims:   every (run, attempt, worker) handed out by planner.claim_run; a
--                         worker may write logs only for an attempt it was given.
create table public.planner_run_requests (
    id bigint generated always as identity primary key,
    organization_id uuid not null references public.organizations (id) on delete cascade,
    run_id uuid not null,
    allocation_run_id uuid not null,
    requested_by uuid,
    requested_at timestamptz not null default now()
);
create index planner_run_requests_org_idx on public.planner_run_requests (organization_id, requested_at);

create table public.planner_run_claims (
    run_id uuid not null,
    attempt integer not null,
    organization_id uuid not null references public.organizations (id) on delete cascade,
    worker_id text not null,
    claimed_at timestamptz not null default now(),
    primary key (run_id, attempt)
);
