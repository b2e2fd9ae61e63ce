-- The worker's SQL API (docs/design.md). Run-scoped functions are fenced by
-- (run_id, worker_id, attempt): they act only while the run is GENERATING with exactly that
-- worker and attempt, so a reaped, cancelled or re-claimed worker can change nothing, and a
-- worker reads only the plan of a run it holds.
--
-- Every function here is SECURITY DEFINER (the least-privilege planner_worker role has no
-- table privileges), so every one is written to be safe whatever the caller's session holds:
--   * search_path = pg_catalog, pg_temp: pg_temp LAST. Left out (as with search_path = ''),
--     pg_temp is searched FIRST for relations and types, so a caller's temporary table or a
--     domain such as pg_temp.uuid would run its triggers or CHECKs as the owner.
--   * every relation and type is schema-qualified (public.x, pg_catalog.uuid); built-in
--     functions and operators resolve in pg_catalog, first on the path (pg_temp is never
--     searched for functions or operators).
--   * no temporary tables: intermediate sets are CTEs or set-returning functions.

-- Fair claim: a PENDING run's priority is its rank among its organisation's PENDING runs
-- (oldest first) plus the number of runs that organisation already has GENERATING, so a
-- burst from one organisation interleaves with everyone else instead of queueing them. Ties
-- go to the organisation served longest ago (or never), then to the oldest run: otherwise an
-- organisation whose run just finished would beat one never served (the claim storm test).
-- Each claim is recorded in public.planner_run_claims (the fence of write_logs).
create function planner.claim_run(worker_id text)
returns table (
    id uuid, organization_id uuid, allocation_run_id uuid, attempt integer,
    constraints text[], params jsonb
)
language sql volatile security definer set search_path = pg_catalog, pg_temp as $$
    with generating as (
        select g.organization_id, pg_catalog.count(*) as n
        from public.allocation_planner_runs g
        where g.state = 'GENERATING'
        group by g.organization_id
    ), ranked as (
        select p.id, p.organization_id,
               pg_catalog.row_number() over (partition by p.organization_id order by p.created_at, p.id) as rank_in_org
        from public.allocation_planner_runs p
        where p.state = 'PENDING'
    ), served as (
        select o.organization_id,
               (select pg_catalog.max(c.claimed_at) from public.allocation_planner_runs c
                 where c.organization_id = o.organization_id and c.claimed_at is not null) as last_claimed_at
        from (select distinct ranked.organization_id from ranked) o
    ), candidate as (
        select r.id
        from public.allocation_planner_runs r
        join ranked on ranked.id = r.id
        left join generating on generating.organization_id = r.organization_id
        left join served on served.organization_id = r.organization_id
        where r.state = 'PENDING'
        order by ranked.rank_in_org + coalesce(generating.n, 0),
                 served.last_claimed_at nulls first, r.created_at, r.id
        limit 1
        for update of r skip locked
    ), claimed as (
        update public.allocation_planner_runs r
           set state = 'GENERATING', worker_id = claim_run.worker_id, attempt = r.attempt + 1,
               claimed_at = pg_catalog.now(), heartbeat_at = pg_catalog.now(),
               progress = null, result = null, error = null
          from candidate
         where r.id = candidate.id
        returning r.id, r.organization_id, r.allocation_run_id, r.attempt, r.constraints, r.params,
                  r.worker_id
    ), recorded as (
        insert into public.planner_run_claims (run_id, attempt, organization_id, worker_id)
        select c.id, c.attempt, c.organization_id, c.worker_id from claimed c
    )
    select c.id, c.organization_id, c.allocation_run_id, c.attempt, c.constraints, c.params
    from claimed c;
$$;

-- The fence itself, for the plpgsql functions below: the run row, locked, when it is
-- GENERATING by exactly this worker and attempt; NULL otherwise (whatever the reason, so a
-- caller learns nothing about runs that are not its own).
create function planner.fenced_run(run_id uuid, worker_id text, attempt integer)
returns public.allocation_planner_runs
language sql volatile set search_path = pg_catalog, pg_temp as $$
    select r.* from public.allocation_planner_runs r
    where r.id = fenced_run.run_id and r.state = 'GENERATING'
      and r.worker_id = fenced_run.worker_id and r.attempt = fenced_run.attempt
    for update;
$$;

create function planner.heartbeat(run_id uuid, worker_id text, attempt integer, progress jsonb default null)
returns boolean
language sql volatile security definer set search_path = pg_catalog, pg_temp as $$
    with hit as (
        update public.allocation_planner_runs r
           set heartbeat_at = pg_catalog.now(), progress = coalesce(heartbeat.progress, r.progress)
         where r.id = heartbeat.run_id and r.state = 'GENERATING'
           and r.worker_id = heartbeat.worker_id and r.attempt = heartbeat.attempt
        returning 1
    )
    select exists (select 1 from hit);
$$;

create function planner.finish_run(
    run_id uuid, worker_id text, attempt integer, state text, result jsonb default null, error text default null
)
returns boolean
language plpgsql volatile security definer set search_path = pg_catalog, pg_temp as $$
begin
    if finish_run.state is null or finish_run.state not in ('INFEASIBLE', 'FAILED') then
        raise exception 'finish_run: state must be INFEASIBLE or FAILED, not %', finish_run.state
            using errcode = 'invalid_parameter_value';
    end if;
    update public.allocation_planner_runs r
       set state = finish_run.state, result = finish_run.result, error = finish_run.error,
           finished_at = pg_catalog.now()
     where r.id = finish_run.run_id and r.state = 'GENERATING'
       and r.worker_id = finish_run.worker_id and r.attempt = finish_run.attempt;
    return found;
end $$;

-- Graceful shutdown: hand the run back so another worker claims it (with attempt + 1).
create function planner.release_run(run_id uuid, worker_id text, attempt integer)
returns boolean
language sql volatile security definer set search_path = pg_catalog, pg_temp as $$
    with hit as (
        update public.allocation_planner_runs r
           set state = 'PENDING', worker_id = null, claimed_at = null, heartbeat_at = null,
               progress = null
         where r.id = release_run.run_id and r.state = 'GENERATING'
           and r.worker_id = release_run.worker_id and r.attempt = release_run.attempt
        returning 1
    )
    select exists (select 1 from hit);
$$;

-- Batch of {run_id, worker_id, attempt, level, message, traceback, context}. An entry is
-- written only for an attempt that planner.claim_run gave that worker (the claim ledger), so
-- a worker logs into its own runs only, also after they finished (its closing lines) but
-- never into a run it did not claim. organization_id comes from the run row, created_at is
-- the database's clock, worker_id and attempt are stamped into context. Other entries are
-- dropped (the count tells); text is capped so one batch cannot flood the table.
create function planner.write_logs(entries jsonb)
returns integer
language sql volatile security definer set search_path = pg_catalog, pg_temp as $$
    with batch as (
        select e, n
        from pg_catalog.jsonb_array_elements(
                 case when pg_catalog.jsonb_typeof(write_logs.entries) = 'array'
                      then write_logs.entries else '[]'::pg_catalog.jsonb end) with ordinality as x(e, n)
        where pg_catalog.jsonb_typeof(e) = 'object'
          and (e ->> 'run_id') ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
          and (e ->> 'attempt') ~ '^[0-9]{1,9}$'
          and n <= 1000
    ), written as (
        insert into public.planner_execution_logs
            (run_id, organization_id, level, message, traceback, context, created_at)
        select r.id, r.organization_id, pg_catalog.upper(coalesce(b.e ->> 'level', 'INFO')),
               pg_catalog.left(coalesce(b.e ->> 'message', ''), 10000),
               pg_catalog.left(b.e ->> 'traceback', 100000),
               (case when pg_catalog.jsonb_typeof(b.e -> 'context') = 'object'
                          and pg_catalog.octet_length((b.e -> 'context')::pg_catalog.text) <= 65536
                     then b.e -> 'context'
                     when b.e -> 'context' is null or b.e -> 'context' = 'null'::pg_catalog.jsonb
                     then '{}'::pg_catalog.jsonb
                     else pg_catalog.jsonb_build_object('context_dropped', 'not an object or over 64 KiB')
                end)
               || pg_catalog.jsonb_build_object('worker_id', c.worker_id, 'attempt', c.attempt),
               pg_catalog.now()
        from batch b
        join public.planner_run_claims c
          on c.run_id = (b.e ->> 'run_id')::pg_catalog.uuid
         and c.attempt = (b.e ->> 'attempt')::pg_catalog.int4
         and c.worker_id = b.e ->> 'worker_id'
        join public.allocation_planner_runs r on r.id = c.run_id and r.organization_id = c.organization_id
        where pg_catalog.upper(coalesce(b.e ->> 'level', 'INFO'))
              in ('TRACE', 'DEBUG', 'INFO', 'SUCCESS', 'WARNING', 'ERROR', 'CRITICAL')
        returning 1
    )
    select pg_catalog.count(*)::pg_catalog.int4 from written;
$$;

-- The plan-file document of DOMAIN.md for a run, read inside the run's own organisation.
-- Internal (no grants): planner.load_plan is the worker's fenced door to it, and
-- planner.plan_document the service role's.
create function planner.plan_document_of(run public.allocation_planner_runs)
returns jsonb
language plpgsql stable set search_path = pg_catalog, pg_temp as $$
declare
    doc pg_catalog.jsonb;
begin
    with lines as (
        select j.id, j.label, j.locked,
               exists (select 1 from public.rotations x
                       where x.job_line_id = j.id and x.locked) as partial
        from public.job_lines j
        where j.organization_id = run.organization_id and j.allocation_run_id = run.allocation_run_id
    ), line_docs as (
        select l.label, (l.locked or l.partial) as in_locked,
               pg_catalog.jsonb_build_object('label', l.label, 'rotations', coalesce((
                   select pg_catalog.jsonb_object_agg(ro.term_ordinal::pg_catalog.text, u.code order by ro.term_ordinal)
                   from public.rotations ro join public.units u on u.id = ro.unit_id
                   where ro.job_line_id = l.id and (l.locked or ro.locked or not l.partial)
               ), '{}'::pg_catalog.jsonb)) as doc
        from lines l
    )
    select pg_catalog.jsonb_build_object(
        'name', a.name,
        'terms', coalesce((
            select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('ordinal', t.ordinal, 'name', t.name, 'weeks', t.weeks)
                                        order by t.ordinal)
            from public.plan_terms t where t.allocation_run_id = a.id and t.organization_id = a.organization_id
        ), '[]'::pg_catalog.jsonb),
        'units', coalesce((
            select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                       'code', u.code, 'name', u.name, 'specialty', u.specialty,
                       'subspecialty', u.subspecialty, 'experiences', pg_catalog.to_jsonb(u.experiences),
                       'kind', u.kind, 'nights', u.nights, 'span_terms', u.span_terms,
                       'leave_weeks', u.leave_weeks) order by u.code)
            from public.units u where u.allocation_run_id = a.id and u.organization_id = a.organization_id
        ), '[]'::pg_catalog.jsonb),
        'demand', coalesce((
            select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('unit', u.code, 'term', d.term_ordinal,
                                                                      'min', d.min_lines, 'max', d.max_lines)
                                        order by u.code, d.term_ordinal)
            from public.unit_demands d join public.units u on u.id = d.unit_id
            where d.allocation_run_id = a.id and d.organization_id = a.organization_id
        ), '[]'::pg_catalog.jsonb),
        'locked_lines', coalesce((select pg_catalog.jsonb_agg(ld.doc order by ld.label) from line_docs ld where ld.in_locked), '[]'::pg_catalog.jsonb),
        'current_lines', coalesce((select pg_catalog.jsonb_agg(ld.doc order by ld.label) from line_docs ld where not ld.in_locked), '[]'::pg_catalog.jsonb),
        'constraints', pg_catalog.to_jsonb(run.constraints),
        'params', run.params
    ) into doc
    from public.allocation_runs a
    where a.id = run.allocation_run_id and a.organization_id = run.organization_id;
    return doc;
end $$;

-- The worker's read: only the plan of a run it holds (GENERATING, its worker id and attempt).
-- One refusal for "no such run" and "not yours".
create function planner.load_plan(run_id uuid, worker_id text, attempt integer)
returns jsonb
language plpgsql volatile security definer set search_path = pg_catalog, pg_temp as $$
declare
    run public.allocation_planner_runs;
begin
    select * into run from public.allocation_planner_runs r
    where r.id = load_plan.run_id and r.state = 'GENERATING'
      and r.worker_id = load_plan.worker_id and r.attempt = load_plan.attempt;
    if not found then
        raise exception 'planner run % is not GENERATING for worker % at attempt %',
            load_plan.run_id, load_plan.worker_id, load_plan.attempt
            using errcode = 'insufficient_privilege';
    end if;
    return planner.plan_document_of(run);
end $$;

-- Any run's plan document for the service role and operators (tests, support): scoped by
-- the organisation the caller names, with one refusal for "no such run" and "not in it".
create function planner.plan_document(run_id uuid, organization_id uuid)
returns jsonb
language plpgsql stable security definer set search_path = pg_catalog, pg_temp as $$
declare
    run public.allocation_planner_runs;
begin
    select * into run from public.allocation_planner_runs r
    where r.id = plan_document.run_id and r.organization_id = plan_document.organization_id;
    if not found then
        raise exception 'planner run % is not a run of organisation %', plan_document.run_id, plan_document.organization_id
            using errcode = 'insufficient_privilege';
    end if;
    return planner.plan_document_of(run);
end $$;

-- Internal: snapshot a round's unlocked lines (ids included, so an undo brings back the
-- same rows) into job_lines_history, then delete them unless clear is false (complete_run
-- keeps them and updates the paired ones in place).
create function planner.snapshot_and_clear_unlocked_lines(
    organization_id uuid, allocation_run_id uuid, planner_run_id uuid, reason text,
    clear boolean default true
)
returns uuid
language plpgsql volatile set search_path = pg_catalog, pg_temp as $$
declare
    history_id pg_catalog.uuid;
begin
    insert into public.job_lines_history (organization_id, allocation_run_id, planner_run_id, reason, lines)
    select snapshot_and_clear_unlocked_lines.organization_id, snapshot_and_clear_unlocked_lines.allocation_run_id,
           snapshot_and_clear_unlocked_lines.planner_run_id, snapshot_and_clear_unlocked_lines.reason,
           coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'id', j.id, 'label', j.label, 'source', j.source, 'planner_run_id', j.planner_run_id,
               'rotations', coalesce((
                   select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('term', ro.term_ordinal, 'unit', u.code,
                                                                             'unit_id', ro.unit_id, 'locked', ro.locked)
                                               order by ro.term_ordinal)
                   from public.rotations ro join public.units u on u.id = ro.unit_id
                   where ro.job_line_id = j.id), '[]'::pg_catalog.jsonb)
           ) order by j.label), '[]'::pg_catalog.jsonb)
    from public.job_lines j
    where j.organization_id = snapshot_and_clear_unlocked_lines.organization_id
      and j.allocation_run_id = snapshot_and_clear_unlocked_lines.allocation_run_id
      and not j.locked
    returning id into history_id;

    delete from public.job_lines j
    where snapshot_and_clear_unlocked_lines.clear
      and j.organization_id = snapshot_and_clear_unlocked_lines.organization_id
      and j.allocation_run_id = snapshot_and_clear_unlocked_lines.allocation_run_id
      and not j.locked;
    return history_id;
end $$;

-- Internal: the completion payload flattened to one row per rotation (a set-returning
-- function instead of a session temp table: a caller's pg_temp objects never come into it).
create function planner.payload_rotations(lines jsonb)
returns table (label text, term integer, unit text, locked boolean)
language sql immutable set search_path = pg_catalog, pg_temp as $$
    select e ->> 'label',
           case when pg_catalog.jsonb_typeof(ro -> 'term') = 'number'
                then (ro ->> 'term')::pg_catalog.numeric::pg_catalog.int4 end,
           ro ->> 'unit',
           coalesce((ro ->> 'locked')::pg_catalog.bool, false)
    from pg_catalog.jsonb_array_elements(payload_rotations.lines) e
    cross join pg_catalog.jsonb_array_elements(e -> 'rotations') ro;
$$;

-- Payload: [{"label", "rotations": [{"term", "unit", "locked"}], "source"?, "locked_terms"?}].
-- Everything is resolved inside the run's own round; organization_id and allocation_run_id
-- of every written row come from the run row.
create function planner.complete_run(run_id uuid, worker_id text, attempt integer, lines jsonb, result jsonb)
returns boolean
language plpgsql volatile security definer set search_path = pg_catalog, pg_temp as $$
declare
    run public.allocation_planner_runs;
    problem pg_catalog.text;
begin
    -- the row lock makes a concurrent cancel/reap either win before us or wait for us
    run := planner.fenced_run(complete_run.run_id, complete_run.worker_id, complete_run.attempt);
    if run.id is null then
        return false;
    end if;
    -- serialise with restore_snapshot on the same round
    perform 1 from public.allocation_runs a
    where a.id = run.allocation_run_id and a.organization_id = run.organization_id for update;

    if pg_catalog.jsonb_typeof(complete_run.lines) is distinct from 'array' then
        raise exception 'complete_run: lines must be a JSON array' using errcode = 'invalid_parameter_value';
    end if;

    select pg_catalog.string_agg(pg_catalog.format('line #%s', n), ', ') into problem
    from pg_catalog.jsonb_array_elements(complete_run.lines) with ordinality as x(e, n)
    where pg_catalog.jsonb_typeof(e) <> 'object' or pg_catalog.jsonb_typeof(e -> 'label') is distinct from 'string'
       or pg_catalog.btrim(e ->> 'label') = '' or pg_catalog.jsonb_typeof(e -> 'rotations') is distinct from 'array';
    if problem is not null then
        raise exception 'complete_run: % must be an object with a non-empty "label" and a "rotations" array', problem
            using errcode = 'invalid_parameter_value';
    end if;

    select pg_catalog.string_agg(distinct k, ', ') into problem
    from pg_catalog.jsonb_array_elements(complete_run.lines) e, pg_catalog.jsonb_object_keys(e) k
    where k not in ('label', 'rotations', 'source', 'locked_terms');
    if problem is null then
        select pg_catalog.string_agg(distinct coalesce(k, '(not an object)'), ', ') into problem
        from pg_catalog.jsonb_array_elements(complete_run.lines) e
        cross join pg_catalog.jsonb_array_elements(e -> 'rotations') ro
        left join lateral pg_catalog.jsonb_object_keys(case when pg_catalog.jsonb_typeof(ro) = 'object' then ro end) k on true
        where pg_catalog.jsonb_typeof(ro) <> 'object' or k not in ('term', 'unit', 'locked');
    end if;
    if problem is not null then
        raise exception 'complete_run: unexpected field(s) in payload: % (organisation and round come from the run)', problem
            using errcode = 'invalid_parameter_value';
    end if;

    select pg_catalog.string_agg(distinct e ->> 'label', ', ') into problem
    from pg_catalog.jsonb_array_elements(complete_run.lines) e
    group by e ->> 'label' having pg_catalog.count(*) > 1;
    if problem is not null then
        raise exception 'complete_run: duplicate line label(s): %', problem using errcode = 'invalid_parameter_value';
    end if;

    select pg_catalog.string_agg(distinct pg_catalog.format('%s term %s', p.label, coalesce(p.term::pg_catalog.text, '?')), ', ')
      into problem
    from planner.payload_rotations(complete_run.lines) p
    where p.term is null or not exists (
        select 1 from public.plan_terms t
        where t.organization_id = run.organization_id and t.allocation_run_id = run.allocation_run_id
          and t.ordinal = p.term);
    if problem is not null then
        raise exception 'complete_run: term(s) not in allocation round %: %', run.allocation_run_id, problem
            using errcode = 'invalid_parameter_value';
    end if;

    select pg_catalog.string_agg(distinct coalesce(p.unit, '(missing)'), ', ') into problem
    from planner.payload_rotations(complete_run.lines) p
    where not exists (
        select 1 from public.units u
        where u.organization_id = run.organization_id and u.allocation_run_id = run.allocation_run_id
          and u.code = p.unit);
    if problem is not null then
        raise exception 'complete_run: unit(s) % are not units of allocation round %', problem, run.allocation_run_id
            using errcode = 'foreign_key_violation';
    end if;

    select pg_catalog.string_agg(distinct pg_catalog.format('%s term %s', p.label, p.term), ', ') into problem
    from planner.payload_rotations(complete_run.lines) p group by p.label, p.term having pg_catalog.count(*) > 1;
    if problem is not null then
        raise exception 'complete_run: more than one rotation for %', problem using errcode = 'invalid_parameter_value';
    end if;

    -- A locked line may be repeated only exactly (then skipped); the locked rotations of
    -- unlocked lines must reappear unchanged under the same label.
    with payload as (select * from planner.payload_rotations(complete_run.lines))
    select pg_catalog.string_agg(distinct j.label, ', ') into problem
    from public.job_lines j
    where j.organization_id = run.organization_id and j.allocation_run_id = run.allocation_run_id
      and j.locked and exists (select 1 from payload p where p.label = j.label)
      and exists (
          (select ro.term_ordinal, u.code from public.rotations ro join public.units u on u.id = ro.unit_id
            where ro.job_line_id = j.id
           except select p.term, p.unit from payload p where p.label = j.label)
          union all
          (select p.term, p.unit from payload p where p.label = j.label
           except select ro.term_ordinal, u.code from public.rotations ro join public.units u on u.id = ro.unit_id
            where ro.job_line_id = j.id));
    if problem is not null then
        raise exception 'complete_run: locked line(s) % must be repeated exactly or left out: no other line may take a locked line''s label', problem
            using errcode = 'invalid_parameter_value';
    end if;

    with payload as (select * from planner.payload_rotations(complete_run.lines))
    select pg_catalog.string_agg(pg_catalog.format('%s term %s (%s)', j.label, ro.term_ordinal, u.code), ', ') into problem
    from public.job_lines j
    join public.rotations ro on ro.job_line_id = j.id and ro.locked
    join public.units u on u.id = ro.unit_id
    where j.organization_id = run.organization_id and j.allocation_run_id = run.allocation_run_id
      and not j.locked
      and not exists (select 1 from payload p
                      where p.label = j.label and p.term = ro.term_ordinal and p.unit = u.code and p.locked);
    if problem is not null then
        raise exception 'complete_run: locked rotation(s) missing or changed in the payload: %', problem
            using errcode = 'invalid_parameter_value';
    end if;

    -- Line identity: a payload line under the label of an unlocked line of the round IS that
    -- line (the worker relabels paired lines with the current labels), so its row and id stay
    -- and only its rotations change; unmatched current lines go, unmatched payload lines come.
    perform planner.snapshot_and_clear_unlocked_lines(
        run.organization_id, run.allocation_run_id, run.id, 'complete', clear => false);

    delete from public.job_lines j
    where j.organization_id = run.organization_id and j.allocation_run_id = run.allocation_run_id
      and not j.locked
      and not exists (select 1 from pg_catalog.jsonb_array_elements(complete_run.lines) e
                      where e ->> 'label' = j.label);

    update public.job_lines j
       set planner_run_id = run.id, source = coalesce(e ->> 'source', 'new')
      from pg_catalog.jsonb_array_elements(complete_run.lines) e
     where j.organization_id = run.organization_id and j.allocation_run_id = run.allocation_run_id
       and not j.locked and j.label = e ->> 'label';

    -- a kept line's rotations: those the payload repeats stay (ids too), the others go
    delete from public.rotations ro
     using public.job_lines j, public.units u
     where j.id = ro.job_line_id and u.id = ro.unit_id
       and j.organization_id = run.organization_id and j.allocation_run_id = run.allocation_run_id
       and not j.locked
       and not exists (select 1 from planner.payload_rotations(complete_run.lines) p
                       where p.label = j.label and p.term = ro.term_ordinal and p.unit = u.code
                         and p.locked = ro.locked);

    insert into public.job_lines (organization_id, allocation_run_id, planner_run_id, label, locked, source)
    select run.organization_id, run.allocation_run_id, run.id, e ->> 'label', false,
           coalesce(e ->> 'source', 'new')
    from pg_catalog.jsonb_array_elements(complete_run.lines) e
    where not exists (
        select 1 from public.job_lines j
        where j.organization_id = run.organization_id and j.allocation_run_id = run.allocation_run_id
          and j.label = e ->> 'label');

    -- every rotation of the payload's unlocked lines that is not already there, as it is
    insert into public.rotations (organization_id, allocation_run_id, job_line_id, term_ordinal, unit_id, locked)
    select run.organization_id, run.allocation_run_id, j.id, p.term, u.id, p.locked
    from planner.payload_rotations(complete_run.lines) p
    join public.job_lines j
      on j.organization_id = run.organization_id and j.allocation_run_id = run.allocation_run_id
     and j.label = p.label and not j.locked
    join public.units u
      on u.organization_id = run.organization_id and u.allocation_run_id = run.allocation_run_id
     and u.code = p.unit
    where not exists (select 1 from public.rotations ro
                      where ro.job_line_id = j.id and ro.term_ordinal = p.term);

    update public.allocation_planner_runs r
       set state = 'COMPLETED', result = complete_run.result, finished_at = pg_catalog.now()
     where r.id = run.id;
    return true;
end $$;

-- Undo a regenerate: put a snapshot's lines back, snapshotting what they replace first.
-- For the organisation's admins and editors (membership, read from organization_members by
-- auth.uid()), and for callers that bypass RLS anyway (service role, the owner). One refusal
-- for "no such snapshot" and "not yours". Not granted to the worker login: it never restores.
create function planner.restore_snapshot(history_id uuid)
returns uuid
language plpgsql volatile security definer set search_path = pg_catalog, pg_temp as $$
declare
    snap public.job_lines_history;
    problem pg_catalog.text;
    new_history_id pg_catalog.uuid;
begin
    select * into snap from public.job_lines_history h where h.id = restore_snapshot.history_id;
    if not found
       or not (planner.invoker_bypasses_rls()
               or planner.has_role(snap.organization_id, array['admin', 'editor']::pg_catalog.text[])) then
        raise exception 'job line snapshot % does not exist or you may not restore it (admins and editors of its organisation may)',
            restore_snapshot.history_id
            using errcode = 'insufficient_privilege';
    end if;

    perform 1 from public.allocation_runs a
    where a.id = snap.allocation_run_id and a.organization_id = snap.organization_id for update;
    if exists (select 1 from public.allocation_planner_runs r
               where r.organization_id = snap.organization_id and r.allocation_run_id = snap.allocation_run_id
                 and r.state in ('PENDING', 'GENERATING')) then
        raise exception 'allocation round % has a planner run in progress; cancel it before restoring', snap.allocation_run_id
            using errcode = 'object_in_use';
    end if;
    select pg_catalog.string_agg(j.label, ', ') into problem
    from public.job_lines j
    where j.organization_id = snap.organization_id and j.allocation_run_id = snap.allocation_run_id and j.locked
      and (j.label in (select s ->> 'label' from pg_catalog.jsonb_array_elements(snap.lines) s)
           or j.id::pg_catalog.text in (select s ->> 'id' from pg_catalog.jsonb_array_elements(snap.lines) s));
    if problem is not null then
        raise exception 'cannot restore: line(s) % of the snapshot are now locked lines', problem
            using errcode = 'unique_violation';
    end if;

    new_history_id := planner.snapshot_and_clear_unlocked_lines(
        snap.organization_id, snap.allocation_run_id, null, 'restore');

    -- the snapshot's own ids (older snapshots without them get new ones)
    with restored as (
        insert into public.job_lines (id, organization_id, allocation_run_id, planner_run_id, label, locked, source)
        select coalesce((s ->> 'id')::pg_catalog.uuid, pg_catalog.gen_random_uuid()),
               snap.organization_id, snap.allocation_run_id,
               (select r.id from public.allocation_planner_runs r
                 where r.id = (s ->> 'planner_run_id')::pg_catalog.uuid and r.organization_id = snap.organization_id),
               s ->> 'label', false, coalesce(s ->> 'source', 'restored')
        from pg_catalog.jsonb_array_elements(snap.lines) s
        returning job_lines.id, job_lines.label
    )
    insert into public.rotations (organization_id, allocation_run_id, job_line_id, term_ordinal, unit_id, locked)
    select snap.organization_id, snap.allocation_run_id, restored.id,
           (ro ->> 'term')::pg_catalog.int4, (ro ->> 'unit_id')::pg_catalog.uuid,
           coalesce((ro ->> 'locked')::pg_catalog.bool, false)
    from pg_catalog.jsonb_array_elements(snap.lines) s
    join restored on restored.label = s ->> 'label'
    cross join pg_catalog.jsonb_array_elements(s -> 'rotations') ro;

    return new_history_id;
end $$;
