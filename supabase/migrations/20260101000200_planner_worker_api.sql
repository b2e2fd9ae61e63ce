-- The worker's SQL API (docs/design.md). Run-scoped functions are fenced by
-- (run_id, worker_id, attempt): they act only while the run is GENERATING with exactly that
-- worker and attempt, so a reaped, cancelled or re-claimed worker can change nothing.
-- SECURITY DEFINER + empty search_path: the least-privilege planner_worker role needs no
-- table privileges, and every name below is schema-qualified.

-- Fair claim: a PENDING run's priority is its rank among its organisation's PENDING runs
-- (oldest first) plus the number of runs that organisation already has GENERATING, so a
-- burst from one organisation interleaves with everyone else instead of queueing them. Ties
-- go to the organisation served longest ago (or never), then to the oldest run: otherwise an
-- organisation whose run just finished would beat one never served (the claim storm test).
create function planner.claim_run(worker_id text)
returns table (
    id uuid, organization_id uuid, allocation_run_id uuid, attempt integer,
    constraints text[], params jsonb
)
language sql volatile security definer set search_path = '' as $$
    with generating as (
        select g.organization_id, count(*) as n
        from public.allocation_planner_runs g
        where g.state = 'GENERATING'
        group by g.organization_id
    ), ranked as (
        select p.id, p.organization_id,
               row_number() over (partition by p.organization_id order by p.created_at, p.id) as rank_in_org
        from public.allocation_planner_runs p
        where p.state = 'PENDING'
    ), served as (
        select o.organization_id,
               (select max(c.claimed_at) from public.allocation_planner_runs c
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
    )
    update public.allocation_planner_runs r
       set state = 'GENERATING', worker_id = claim_run.worker_id, attempt = r.attempt + 1,
           claimed_at = now(), heartbeat_at = now(), progress = null, result = null, error = null
      from candidate
     where r.id = candidate.id
    returning r.id, r.organization_id, r.allocation_run_id, r.attempt, r.constraints, r.params;
$$;

create function planner.heartbeat(run_id uuid, worker_id text, attempt integer, progress jsonb default null)
returns boolean
language sql volatile security definer set search_path = '' as $$
    with hit as (
        update public.allocation_planner_runs r
           set heartbeat_at = now(), progress = coalesce(heartbeat.progress, r.progress)
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
language plpgsql volatile security definer set search_path = '' as $$
begin
    if finish_run.state not in ('INFEASIBLE', 'FAILED') then
        raise exception 'finish_run: state must be INFEASIBLE or FAILED, not %', finish_run.state
            using errcode = 'invalid_parameter_value';
    end if;
    update public.allocation_planner_runs r
       set state = finish_run.state, result = finish_run.result, error = finish_run.error,
           finished_at = now()
     where r.id = finish_run.run_id and r.state = 'GENERATING'
       and r.worker_id = finish_run.worker_id and r.attempt = finish_run.attempt;
    return found;
end $$;

-- Graceful shutdown: hand the run back so another worker claims it (with attempt + 1).
create function planner.release_run(run_id uuid, worker_id text, attempt integer)
returns boolean
language sql volatile security definer set search_path = '' as $$
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

-- Batch of {run_id, level, message, traceback, context, created_at?}; organization_id comes
-- from the run row. Entries naming an unknown run are dropped (the count tells).
create function planner.write_logs(entries jsonb)
returns integer
language sql volatile security definer set search_path = '' as $$
    with written as (
        insert into public.planner_execution_logs
            (run_id, organization_id, level, message, traceback, context, created_at)
        select r.id, r.organization_id, upper(coalesce(e ->> 'level', 'INFO')),
               coalesce(e ->> 'message', ''), e ->> 'traceback',
               coalesce(nullif(e -> 'context', 'null'::jsonb), '{}'::jsonb),
               coalesce((e ->> 'created_at')::timestamptz, now())
        from jsonb_array_elements(write_logs.entries) e
        join public.allocation_planner_runs r on r.id = (e ->> 'run_id')::uuid
        returning 1
    )
    select count(*)::integer from written;
$$;

-- ONE guarded UPDATE (never select-then-update): a run heart-beating concurrently either
-- commits first (and is no longer stale) or waits and is re-checked by the UPDATE itself.
create function planner.reap_stale_runs()
returns integer
language sql volatile security definer set search_path = '' as $$
    with reaped as (
        update public.allocation_planner_runs r
           set state = 'FAILED', finished_at = now(),
               error = format('Timeout: no heartbeat from worker %s since %s', r.worker_id, r.heartbeat_at)
         where r.state = 'GENERATING'
           and r.heartbeat_at < now() - (select s.stale_after from public.planner_settings s)
        returning r.id, r.organization_id, r.worker_id, r.attempt, r.heartbeat_at
    ), logged as (
        insert into public.planner_execution_logs (run_id, organization_id, level, message, context)
        select id, organization_id, 'ERROR',
               format('Timeout: worker %s stopped sending heartbeats; run marked FAILED', worker_id),
               jsonb_build_object('error', 'Timeout', 'worker_id', worker_id, 'attempt', attempt,
                                  'last_heartbeat_at', heartbeat_at)
        from reaped
        returning 1
    )
    select count(*)::integer from logged;
$$;

-- The plan-file document of DOMAIN.md for one run, read inside the run's own organisation.
create function planner.load_plan(run_id uuid, organization_id uuid)
returns jsonb
language plpgsql stable security definer set search_path = '' as $$
declare
    run public.allocation_planner_runs;
    doc jsonb;
begin
    select * into run from public.allocation_planner_runs r where r.id = load_plan.run_id;
    if not found then
        raise exception 'planner run % does not exist', load_plan.run_id using errcode = 'no_data_found';
    end if;
    if run.organization_id <> load_plan.organization_id then
        raise exception 'planner run % does not belong to organisation %', run.id, load_plan.organization_id
            using errcode = 'insufficient_privilege';
    end if;

    with lines as (
        select j.id, j.label, j.locked,
               exists (select 1 from public.rotations x where x.job_line_id = j.id and x.locked) as partial
        from public.job_lines j
        where j.organization_id = run.organization_id and j.allocation_run_id = run.allocation_run_id
    ), line_docs as (
        select l.label, (l.locked or l.partial) as in_locked,
               jsonb_build_object('label', l.label, 'rotations', coalesce((
                   select jsonb_object_agg(ro.term_ordinal::text, u.code order by ro.term_ordinal)
                   from public.rotations ro join public.units u on u.id = ro.unit_id
                   where ro.job_line_id = l.id and (l.locked or ro.locked or not l.partial)
               ), '{}'::jsonb)) as doc
        from lines l
    )
    select jsonb_build_object(
        'name', a.name,
        'terms', coalesce((
            select jsonb_agg(jsonb_build_object('ordinal', t.ordinal, 'name', t.name, 'weeks', t.weeks)
                             order by t.ordinal)
            from public.plan_terms t where t.allocation_run_id = a.id and t.organization_id = a.organization_id
        ), '[]'::jsonb),
        'units', coalesce((
            select jsonb_agg(jsonb_build_object(
                       'code', u.code, 'name', u.name, 'specialty', u.specialty,
                       'subspecialty', u.subspecialty, 'experiences', to_jsonb(u.experiences),
                       'kind', u.kind, 'nights', u.nights, 'span_terms', u.span_terms,
                       'leave_weeks', u.leave_weeks) order by u.code)
            from public.units u where u.allocation_run_id = a.id and u.organization_id = a.organization_id
        ), '[]'::jsonb),
        'demand', coalesce((
            select jsonb_agg(jsonb_build_object('unit', u.code, 'term', d.term_ordinal,
                                                'min', d.min_lines, 'max', d.max_lines)
                             order by u.code, d.term_ordinal)
            from public.unit_demands d join public.units u on u.id = d.unit_id
            where d.allocation_run_id = a.id and d.organization_id = a.organization_id
        ), '[]'::jsonb),
        'locked_lines', coalesce((select jsonb_agg(ld.doc order by ld.label) from line_docs ld where ld.in_locked), '[]'::jsonb),
        'current_lines', coalesce((select jsonb_agg(ld.doc order by ld.label) from line_docs ld where not ld.in_locked), '[]'::jsonb),
        'constraints', to_jsonb(run.constraints),
        'params', run.params
    ) into doc
    from public.allocation_runs a
    where a.id = run.allocation_run_id and a.organization_id = run.organization_id;
    return doc;
end $$;

-- Internal: snapshot a round's unlocked lines into job_lines_history, then delete them.
create function planner.snapshot_and_clear_unlocked_lines(
    organization_id uuid, allocation_run_id uuid, planner_run_id uuid, reason text
)
returns uuid
language plpgsql volatile set search_path = '' as $$
declare
    history_id uuid;
begin
    insert into public.job_lines_history (organization_id, allocation_run_id, planner_run_id, reason, lines)
    select snapshot_and_clear_unlocked_lines.organization_id, snapshot_and_clear_unlocked_lines.allocation_run_id,
           snapshot_and_clear_unlocked_lines.planner_run_id, snapshot_and_clear_unlocked_lines.reason,
           coalesce(jsonb_agg(jsonb_build_object(
               'label', j.label, 'source', j.source, 'planner_run_id', j.planner_run_id,
               'rotations', coalesce((
                   select jsonb_agg(jsonb_build_object('term', ro.term_ordinal, 'unit', u.code,
                                                       'unit_id', ro.unit_id, 'locked', ro.locked)
                                    order by ro.term_ordinal)
                   from public.rotations ro join public.units u on u.id = ro.unit_id
                   where ro.job_line_id = j.id), '[]'::jsonb)
           ) order by j.label), '[]'::jsonb)
    from public.job_lines j
    where j.organization_id = snapshot_and_clear_unlocked_lines.organization_id
      and j.allocation_run_id = snapshot_and_clear_unlocked_lines.allocation_run_id
      and not j.locked
    returning id into history_id;

    delete from public.job_lines j
    where j.organization_id = snapshot_and_clear_unlocked_lines.organization_id
      and j.allocation_run_id = snapshot_and_clear_unlocked_lines.allocation_run_id
      and not j.locked;
    return history_id;
end $$;

-- Payload: [{"label", "rotations": [{"term", "unit", "locked"}], "source"?, "locked_terms"?}].
-- Everything is resolved inside the run's own round; organization_id and allocation_run_id
-- of every written row come from the run row.
create function planner.complete_run(run_id uuid, worker_id text, attempt integer, lines jsonb, result jsonb)
returns boolean
language plpgsql volatile security definer set search_path = '' as $$
declare
    run public.allocation_planner_runs;
    problem text;
begin
    -- the row lock makes a concurrent cancel/reap either win before us or wait for us
    select * into run from public.allocation_planner_runs r where r.id = complete_run.run_id for update;
    if not found or run.state <> 'GENERATING' or run.worker_id is distinct from complete_run.worker_id
       or run.attempt <> complete_run.attempt then
        return false;
    end if;
    -- serialise with restore_snapshot on the same round
    perform 1 from public.allocation_runs a
    where a.id = run.allocation_run_id and a.organization_id = run.organization_id for update;

    if jsonb_typeof(complete_run.lines) is distinct from 'array' then
        raise exception 'complete_run: lines must be a JSON array' using errcode = 'invalid_parameter_value';
    end if;

    select string_agg(format('line #%s', n), ', ') into problem
    from jsonb_array_elements(complete_run.lines) with ordinality as x(e, n)
    where jsonb_typeof(e) <> 'object' or jsonb_typeof(e -> 'label') is distinct from 'string'
       or btrim(e ->> 'label') = '' or jsonb_typeof(e -> 'rotations') is distinct from 'array';
    if problem is not null then
        raise exception 'complete_run: % must be an object with a non-empty "label" and a "rotations" array', problem
            using errcode = 'invalid_parameter_value';
    end if;

    select string_agg(distinct k, ', ') into problem
    from jsonb_array_elements(complete_run.lines) e, jsonb_object_keys(e) k
    where k not in ('label', 'rotations', 'source', 'locked_terms');
    if problem is null then
        select string_agg(distinct coalesce(k, '(not an object)'), ', ') into problem
        from jsonb_array_elements(complete_run.lines) e
        cross join jsonb_array_elements(e -> 'rotations') ro
        left join lateral jsonb_object_keys(case when jsonb_typeof(ro) = 'object' then ro end) k on true
        where jsonb_typeof(ro) <> 'object' or k not in ('term', 'unit', 'locked');
    end if;
    if problem is not null then
        raise exception 'complete_run: unexpected field(s) in payload: % (organisation and round come from the run)', problem
            using errcode = 'invalid_parameter_value';
    end if;

    select string_agg(distinct e ->> 'label', ', ') into problem
    from jsonb_array_elements(complete_run.lines) e
    group by e ->> 'label' having count(*) > 1;
    if problem is not null then
        raise exception 'complete_run: duplicate line label(s): %', problem using errcode = 'invalid_parameter_value';
    end if;

    -- flatten once; every later check reads this
    create temporary table if not exists pg_temp.payload_rotations (
        label text, term integer, unit text, locked boolean
    ) on commit drop;
    truncate pg_temp.payload_rotations;
    insert into pg_temp.payload_rotations
    select e ->> 'label',
           case when jsonb_typeof(ro -> 'term') = 'number' then (ro ->> 'term')::numeric::integer end,
           ro ->> 'unit',
           coalesce((ro ->> 'locked')::boolean, false)
    from jsonb_array_elements(complete_run.lines) e
    cross join jsonb_array_elements(e -> 'rotations') ro;

    select string_agg(distinct format('%s term %s', p.label, coalesce(p.term::text, '?')), ', ') into problem
    from pg_temp.payload_rotations p
    where p.term is null or not exists (
        select 1 from public.plan_terms t
        where t.organization_id = run.organization_id and t.allocation_run_id = run.allocation_run_id
          and t.ordinal = p.term);
    if problem is not null then
        raise exception 'complete_run: term(s) not in allocation round %: %', run.allocation_run_id, problem
            using errcode = 'invalid_parameter_value';
    end if;

    select string_agg(distinct coalesce(p.unit, '(missing)'), ', ') into problem
    from pg_temp.payload_rotations p
    where not exists (
        select 1 from public.units u
        where u.organization_id = run.organization_id and u.allocation_run_id = run.allocation_run_id
          and u.code = p.unit);
    if problem is not null then
        raise exception 'complete_run: unit(s) % are not units of allocation round %', problem, run.allocation_run_id
            using errcode = 'foreign_key_violation';
    end if;

    select string_agg(distinct format('%s term %s', p.label, p.term), ', ') into problem
    from pg_temp.payload_rotations p group by p.label, p.term having count(*) > 1;
    if problem is not null then
        raise exception 'complete_run: more than one rotation for %', problem using errcode = 'invalid_parameter_value';
    end if;

    -- A locked line may be repeated only exactly (then skipped); the locked rotations of
    -- unlocked lines must reappear unchanged under the same label.
    select string_agg(distinct j.label, ', ') into problem
    from public.job_lines j
    where j.organization_id = run.organization_id and j.allocation_run_id = run.allocation_run_id
      and j.locked and exists (select 1 from pg_temp.payload_rotations p where p.label = j.label)
      and exists (
          (select ro.term_ordinal, u.code from public.rotations ro join public.units u on u.id = ro.unit_id
            where ro.job_line_id = j.id
           except select p.term, p.unit from pg_temp.payload_rotations p where p.label = j.label)
          union all
          (select p.term, p.unit from pg_temp.payload_rotations p where p.label = j.label
           except select ro.term_ordinal, u.code from public.rotations ro join public.units u on u.id = ro.unit_id
            where ro.job_line_id = j.id));
    if problem is not null then
        raise exception 'complete_run: locked line(s) % must be repeated exactly or left out', problem
            using errcode = 'invalid_parameter_value';
    end if;

    select string_agg(format('%s term %s (%s)', j.label, ro.term_ordinal, u.code), ', ') into problem
    from public.job_lines j
    join public.rotations ro on ro.job_line_id = j.id and ro.locked
    join public.units u on u.id = ro.unit_id
    where j.organization_id = run.organization_id and j.allocation_run_id = run.allocation_run_id
      and not j.locked
      and not exists (select 1 from pg_temp.payload_rotations p
                      where p.label = j.label and p.term = ro.term_ordinal and p.unit = u.code and p.locked);
    if problem is not null then
        raise exception 'complete_run: locked rotation(s) missing or changed in the payload: %', problem
            using errcode = 'invalid_parameter_value';
    end if;

    perform planner.snapshot_and_clear_unlocked_lines(run.organization_id, run.allocation_run_id, run.id, 'complete');

    with new_lines as (
        insert into public.job_lines (organization_id, allocation_run_id, planner_run_id, label, locked, source)
        select run.organization_id, run.allocation_run_id, run.id, e ->> 'label', false,
               coalesce(e ->> 'source', 'new')
        from jsonb_array_elements(complete_run.lines) e
        where not exists (
            select 1 from public.job_lines j
            where j.allocation_run_id = run.allocation_run_id and j.locked and j.label = e ->> 'label')
        returning job_lines.id, job_lines.label
    )
    insert into public.rotations (organization_id, allocation_run_id, job_line_id, term_ordinal, unit_id, locked)
    select run.organization_id, run.allocation_run_id, nl.id, p.term, u.id, p.locked
    from new_lines nl
    join pg_temp.payload_rotations p on p.label = nl.label
    join public.units u
      on u.organization_id = run.organization_id and u.allocation_run_id = run.allocation_run_id
     and u.code = p.unit;

    update public.allocation_planner_runs r
       set state = 'COMPLETED', result = complete_run.result, finished_at = now()
     where r.id = run.id;
    return true;
end $$;

-- Undo a regenerate: put a snapshot's lines back, snapshotting what they replace first.
-- Callable by the worker/service role and by the organisation's admins and editors.
create function planner.restore_snapshot(history_id uuid)
returns uuid
language plpgsql volatile security definer set search_path = '' as $$
declare
    snap public.job_lines_history;
    problem text;
    new_history_id uuid;
begin
    select * into snap from public.job_lines_history h where h.id = restore_snapshot.history_id;
    if not found then
        raise exception 'job_lines_history % does not exist', restore_snapshot.history_id using errcode = 'no_data_found';
    end if;
    -- API users (PostgREST sets role/claims) must be an admin or editor of the organisation.
    if coalesce(auth.jwt() ->> 'role', current_setting('role', true)) in ('anon', 'authenticated')
       and not planner.has_role(snap.organization_id, array['admin', 'editor']) then
        raise exception 'permission denied: only an admin or editor of the organisation may restore job lines'
            using errcode = 'insufficient_privilege';
    end if;

    perform 1 from public.allocation_runs a
    where a.id = snap.allocation_run_id and a.organization_id = snap.organization_id for update;
    if exists (select 1 from public.allocation_planner_runs r
               where r.allocation_run_id = snap.allocation_run_id and r.state in ('PENDING', 'GENERATING')) then
        raise exception 'allocation round % has a planner run in progress; cancel it before restoring', snap.allocation_run_id
            using errcode = 'object_in_use';
    end if;
    select string_agg(j.label, ', ') into problem
    from public.job_lines j
    where j.allocation_run_id = snap.allocation_run_id and j.locked
      and j.label in (select s ->> 'label' from jsonb_array_elements(snap.lines) s);
    if problem is not null then
        raise exception 'cannot restore: label(s) % are now used by locked lines', problem
            using errcode = 'unique_violation';
    end if;

    new_history_id := planner.snapshot_and_clear_unlocked_lines(
        snap.organization_id, snap.allocation_run_id, null, 'restore');

    with restored as (
        insert into public.job_lines (organization_id, allocation_run_id, planner_run_id, label, locked, source)
        select snap.organization_id, snap.allocation_run_id,
               (select r.id from public.allocation_planner_runs r
                 where r.id = (s ->> 'planner_run_id')::uuid and r.organization_id = snap.organization_id),
               s ->> 'label', false, coalesce(s ->> 'source', 'restored')
        from jsonb_array_elements(snap.lines) s
        returning job_lines.id, job_lines.label
    )
    insert into public.rotations (organization_id, allocation_run_id, job_line_id, term_ordinal, unit_id, locked)
    select snap.organization_id, snap.allocation_run_id, restored.id,
           (ro ->> 'term')::integer, (ro ->> 'unit_id')::uuid, coalesce((ro ->> 'locked')::boolean, false)
    from jsonb_array_elements(snap.lines) s
    join restored on restored.label = s ->> 'label'
    cross join jsonb_array_elements(s -> 'rotations') ro;

    return new_history_id;
end $$;
