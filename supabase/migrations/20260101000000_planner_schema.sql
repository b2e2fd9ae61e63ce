-- receptor-planner: tables of ../shared/DOMAIN.md.
-- Every reference between tenant tables carries organization_id (and, below the allocation
-- round, allocation_run_id), so a row can never point into another organisation or round.

create schema if not exists planner;

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
    unique (allocation_run_id, ordinal),
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
    unique (allocation_run_id, code),
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
    unique (unit_id, term_ordinal),
    foreign key (organization_id, allocation_run_id, unit_id)
        references public.units (organization_id, allocation_run_id, id) on delete cascade,
    foreign key (organization_id, allocation_run_id, term_ordinal)
        references public.plan_terms (organization_id, allocation_run_id, ordinal) on delete cascade
);
create index unit_demands_round_idx on public.unit_demands (allocation_run_id, term_ordinal);

create table public.allocation_planner_runs (
    id uuid primary key default gen_random_uuid(),
    organization_id uuid not null,
    allocation_run_id uuid not null,
    constraints text[] not null default '{}',
    params jsonb not null default '{}' check (jsonb_typeof(params) = 'object'),
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
    on public.allocation_planner_runs (allocation_run_id) where state in ('PENDING', 'GENERATING');

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
    unique (allocation_run_id, label),
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
    unique (job_line_id, term_ordinal),
    foreign key (organization_id, allocation_run_id, job_line_id)
        references public.job_lines (organization_id, allocation_run_id, id) on delete cascade,
    foreign key (organization_id, allocation_run_id, unit_id)
        references public.units (organization_id, allocation_run_id, id),
    foreign key (organization_id, allocation_run_id, term_ordinal)
        references public.plan_terms (organization_id, allocation_run_id, ordinal) on delete cascade
);
create index rotations_unit_idx on public.rotations (unit_id, term_ordinal);
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
    updated_at timestamptz not null default now()
);
insert into public.planner_settings default values;
