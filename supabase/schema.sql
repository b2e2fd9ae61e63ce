-- The schema after every migration in supabase/migrations/ (public and planner).
-- Generated, do not edit: uv run python -m listener.schema_dump > supabase/schema.sql

--
-- PostgreSQL database dump
--

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Name: planner; Type: SCHEMA; Schema: -; Owner: -
--

CREATE SCHEMA planner;

--
-- Name: public; Type: SCHEMA; Schema: -; Owner: -
--

CREATE SCHEMA public;

--
-- Name: SCHEMA public; Type: COMMENT; Schema: -; Owner: -
--

COMMENT ON SCHEMA public IS 'standard public schema';

--
-- Name: claim_run(text); Type: FUNCTION; Schema: planner; Owner: -
--

CREATE FUNCTION planner.claim_run(worker_id text) RETURNS TABLE(id uuid, organization_id uuid, allocation_run_id uuid, attempt integer, constraints text[], params jsonb)
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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

--
-- Name: complete_run(uuid, text, integer, jsonb, jsonb); Type: FUNCTION; Schema: planner; Owner: -
--

CREATE FUNCTION planner.complete_run(run_id uuid, worker_id text, attempt integer, lines jsonb, result jsonb) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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

--
-- Name: deregister_worker(text, text, integer); Type: FUNCTION; Schema: planner; Owner: -
--

CREATE FUNCTION planner.deregister_worker(worker_id text, host text, pid integer) RETURNS boolean
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
    with gone as (
        delete from public.planner_workers w
         where w.worker_id = deregister_worker.worker_id
           and w.host = coalesce(deregister_worker.host, '')
           and w.pid is not distinct from deregister_worker.pid
        returning 1
    )
    select exists (select 1 from gone);
$$;

--
-- Name: run_request_problem(text[], jsonb); Type: FUNCTION; Schema: planner; Owner: -
--

CREATE FUNCTION planner.run_request_problem(constraints text[], params jsonb) RETURNS text
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
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
end $_$;

SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: allocation_planner_runs; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.allocation_planner_runs (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    organization_id uuid NOT NULL,
    allocation_run_id uuid NOT NULL,
    constraints text[] DEFAULT '{}'::text[] NOT NULL,
    params jsonb DEFAULT '{}'::jsonb NOT NULL,
    state text DEFAULT 'PENDING'::text NOT NULL,
    attempt integer DEFAULT 0 NOT NULL,
    worker_id text,
    claimed_at timestamp with time zone,
    heartbeat_at timestamp with time zone,
    finished_at timestamp with time zone,
    progress jsonb,
    result jsonb,
    error text,
    requested_by uuid DEFAULT auth.uid(),
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT allocation_planner_runs_attempt_check CHECK ((attempt >= 0)),
    CONSTRAINT allocation_planner_runs_check CHECK (((state <> 'GENERATING'::text) OR ((worker_id IS NOT NULL) AND (heartbeat_at IS NOT NULL)))),
    CONSTRAINT allocation_planner_runs_request_within_limits CHECK ((planner.run_request_problem(constraints, params) IS NULL)),
    CONSTRAINT allocation_planner_runs_state_check CHECK ((state = ANY (ARRAY['PENDING'::text, 'GENERATING'::text, 'COMPLETED'::text, 'INFEASIBLE'::text, 'FAILED'::text, 'CANCELLED'::text])))
);

--
-- Name: fenced_run(uuid, text, integer); Type: FUNCTION; Schema: planner; Owner: -
--

CREATE FUNCTION planner.fenced_run(run_id uuid, worker_id text, attempt integer) RETURNS public.allocation_planner_runs
    LANGUAGE sql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
    select r.* from public.allocation_planner_runs r
    where r.id = fenced_run.run_id and r.state = 'GENERATING'
      and r.worker_id = fenced_run.worker_id and r.attempt = fenced_run.attempt
    for update;
$$;

--
-- Name: finish_run(uuid, text, integer, text, jsonb, text); Type: FUNCTION; Schema: planner; Owner: -
--

CREATE FUNCTION planner.finish_run(run_id uuid, worker_id text, attempt integer, state text, result jsonb DEFAULT NULL::jsonb, error text DEFAULT NULL::text) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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

--
-- Name: has_role(uuid, text[]); Type: FUNCTION; Schema: planner; Owner: -
--

CREATE FUNCTION planner.has_role(organization_id uuid, roles text[]) RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
    select exists (
        select 1 from public.organization_members m
        where m.organization_id = has_role.organization_id and m.user_id = auth.uid()
          and m.role = any (has_role.roles));
$$;

--
-- Name: heartbeat(uuid, text, integer, jsonb); Type: FUNCTION; Schema: planner; Owner: -
--

CREATE FUNCTION planner.heartbeat(run_id uuid, worker_id text, attempt integer, progress jsonb DEFAULT NULL::jsonb) RETURNS boolean
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
    with hit as (
        update public.allocation_planner_runs r
           set heartbeat_at = pg_catalog.now(), progress = coalesce(heartbeat.progress, r.progress)
         where r.id = heartbeat.run_id and r.state = 'GENERATING'
           and r.worker_id = heartbeat.worker_id and r.attempt = heartbeat.attempt
        returning 1
    )
    select exists (select 1 from hit);
$$;

--
-- Name: invoker_bypasses_rls(); Type: FUNCTION; Schema: planner; Owner: -
--

CREATE FUNCTION planner.invoker_bypasses_rls() RETURNS boolean
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
    select coalesce((
        select r.rolsuper or r.rolbypassrls
               or r.oid = (select n.nspowner from pg_catalog.pg_namespace n where n.nspname = 'planner')
        from pg_catalog.pg_roles r
        where r.rolname = coalesce(nullif(pg_catalog.current_setting('role'), 'none'),
                                   session_user::pg_catalog.text)), false);
$$;

--
-- Name: is_member(uuid); Type: FUNCTION; Schema: planner; Owner: -
--

CREATE FUNCTION planner.is_member(organization_id uuid) RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
    select planner.has_role(is_member.organization_id, array['admin', 'editor', 'viewer']::pg_catalog.text[]);
$$;

--
-- Name: load_plan(uuid, text, integer); Type: FUNCTION; Schema: planner; Owner: -
--

CREATE FUNCTION planner.load_plan(run_id uuid, worker_id text, attempt integer) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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

--
-- Name: payload_rotations(jsonb); Type: FUNCTION; Schema: planner; Owner: -
--

CREATE FUNCTION planner.payload_rotations(lines jsonb) RETURNS TABLE(label text, term integer, unit text, locked boolean)
    LANGUAGE sql IMMUTABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
    select e ->> 'label',
           case when pg_catalog.jsonb_typeof(ro -> 'term') = 'number'
                then (ro ->> 'term')::pg_catalog.numeric::pg_catalog.int4 end,
           ro ->> 'unit',
           coalesce((ro ->> 'locked')::pg_catalog.bool, false)
    from pg_catalog.jsonb_array_elements(payload_rotations.lines) e
    cross join pg_catalog.jsonb_array_elements(e -> 'rotations') ro;
$$;

--
-- Name: plan_document(uuid, uuid); Type: FUNCTION; Schema: planner; Owner: -
--

CREATE FUNCTION planner.plan_document(run_id uuid, organization_id uuid) RETURNS jsonb
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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

--
-- Name: plan_document_of(public.allocation_planner_runs); Type: FUNCTION; Schema: planner; Owner: -
--

CREATE FUNCTION planner.plan_document_of(run public.allocation_planner_runs) RETURNS jsonb
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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

--
-- Name: queue_stats(); Type: FUNCTION; Schema: planner; Owner: -
--

CREATE FUNCTION planner.queue_stats() RETURNS jsonb
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
    select jsonb_build_object(
        'pending', (select pg_catalog.count(*) from public.allocation_planner_runs r where r.state = 'PENDING'),
        'generating', (select pg_catalog.count(*) from public.allocation_planner_runs r where r.state = 'GENERATING'),
        'oldest_pending_at', (select min(r.created_at) from public.allocation_planner_runs r
                               where r.state = 'PENDING'),
        'oldest_pending_age_s', (select round(extract(epoch from pg_catalog.now() - min(r.created_at))::pg_catalog.numeric, 3)
                                 from public.allocation_planner_runs r where r.state = 'PENDING')
    );
$$;

--
-- Name: reap_stale_runs(); Type: FUNCTION; Schema: planner; Owner: -
--

CREATE FUNCTION planner.reap_stale_runs() RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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

--
-- Name: register_worker(text, text, integer, text, timestamp with time zone); Type: FUNCTION; Schema: planner; Owner: -
--

CREATE FUNCTION planner.register_worker(worker_id text, host text, pid integer, version text, started_at timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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

--
-- Name: release_run(uuid, text, integer); Type: FUNCTION; Schema: planner; Owner: -
--

CREATE FUNCTION planner.release_run(run_id uuid, worker_id text, attempt integer) RETURNS boolean
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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

--
-- Name: restore_snapshot(uuid); Type: FUNCTION; Schema: planner; Owner: -
--

CREATE FUNCTION planner.restore_snapshot(history_id uuid) RETURNS uuid
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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

--
-- Name: snapshot_and_clear_unlocked_lines(uuid, uuid, uuid, text, boolean); Type: FUNCTION; Schema: planner; Owner: -
--

CREATE FUNCTION planner.snapshot_and_clear_unlocked_lines(organization_id uuid, allocation_run_id uuid, planner_run_id uuid, reason text, clear boolean DEFAULT true) RETURNS uuid
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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

--
-- Name: status(integer); Type: FUNCTION; Schema: planner; Owner: -
--

CREATE FUNCTION planner.status(failures integer DEFAULT 10) RETURNS jsonb
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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

--
-- Name: sweep_workers(); Type: FUNCTION; Schema: planner; Owner: -
--

CREATE FUNCTION planner.sweep_workers() RETURNS integer
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
    with swept as (
        delete from public.planner_workers w
         where w.last_seen_at < pg_catalog.now() - (select s.stale_after from public.planner_settings s)
        returning 1
    )
    select pg_catalog.count(*)::pg_catalog.int4 from swept;
$$;

--
-- Name: tg_run_abuse_guard(); Type: FUNCTION; Schema: planner; Owner: -
--

CREATE FUNCTION planner.tg_run_abuse_guard() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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

--
-- Name: tg_run_notify(); Type: FUNCTION; Schema: planner; Owner: -
--

CREATE FUNCTION planner.tg_run_notify() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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

--
-- Name: tg_run_state_machine(); Type: FUNCTION; Schema: planner; Owner: -
--

CREATE FUNCTION planner.tg_run_state_machine() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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

--
-- Name: worker_seen(text, uuid, text, boolean); Type: FUNCTION; Schema: planner; Owner: -
--

CREATE FUNCTION planner.worker_seen(worker_id text, current_run_id uuid DEFAULT NULL::uuid, state text DEFAULT NULL::text, polling_alone boolean DEFAULT NULL::boolean) RETURNS boolean
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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

--
-- Name: write_logs(jsonb); Type: FUNCTION; Schema: planner; Owner: -
--

CREATE FUNCTION planner.write_logs(entries jsonb) RETURNS integer
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
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
$_$;

--
-- Name: allocation_runs; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.allocation_runs (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    organization_id uuid NOT NULL,
    name text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT allocation_runs_name_check CHECK ((btrim(name) <> ''::text))
);

--
-- Name: job_lines; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.job_lines (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    organization_id uuid NOT NULL,
    allocation_run_id uuid NOT NULL,
    planner_run_id uuid,
    label text NOT NULL,
    locked boolean DEFAULT false NOT NULL,
    source text DEFAULT 'manual'::text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT job_lines_label_check CHECK ((btrim(label) <> ''::text)),
    CONSTRAINT job_lines_source_check CHECK ((source = ANY (ARRAY['manual'::text, 'new'::text, 'partial'::text, 'locked'::text, 'restored'::text])))
);

--
-- Name: job_lines_history; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.job_lines_history (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    organization_id uuid NOT NULL,
    allocation_run_id uuid NOT NULL,
    planner_run_id uuid,
    reason text NOT NULL,
    lines jsonb NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT job_lines_history_lines_check CHECK ((jsonb_typeof(lines) = 'array'::text)),
    CONSTRAINT job_lines_history_reason_check CHECK ((reason = ANY (ARRAY['complete'::text, 'restore'::text])))
);

--
-- Name: organization_members; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.organization_members (
    organization_id uuid NOT NULL,
    user_id uuid NOT NULL,
    role text DEFAULT 'viewer'::text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT organization_members_role_check CHECK ((role = ANY (ARRAY['admin'::text, 'editor'::text, 'viewer'::text])))
);

--
-- Name: organizations; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.organizations (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    name text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT organizations_name_check CHECK ((btrim(name) <> ''::text))
);

--
-- Name: plan_terms; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.plan_terms (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    organization_id uuid NOT NULL,
    allocation_run_id uuid NOT NULL,
    ordinal integer NOT NULL,
    name text NOT NULL,
    weeks integer NOT NULL,
    CONSTRAINT plan_terms_name_check CHECK ((btrim(name) <> ''::text)),
    CONSTRAINT plan_terms_ordinal_check CHECK (((ordinal >= 1) AND (ordinal <= 52))),
    CONSTRAINT plan_terms_weeks_check CHECK (((weeks >= 1) AND (weeks <= 52)))
);

--
-- Name: planner_execution_logs; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.planner_execution_logs (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    run_id uuid NOT NULL,
    organization_id uuid NOT NULL,
    level text DEFAULT 'INFO'::text NOT NULL,
    message text NOT NULL,
    traceback text,
    context jsonb DEFAULT '{}'::jsonb NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT planner_execution_logs_level_check CHECK ((level = ANY (ARRAY['TRACE'::text, 'DEBUG'::text, 'INFO'::text, 'SUCCESS'::text, 'WARNING'::text, 'ERROR'::text, 'CRITICAL'::text])))
);

--
-- Name: planner_run_claims; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.planner_run_claims (
    run_id uuid NOT NULL,
    attempt integer NOT NULL,
    organization_id uuid NOT NULL,
    worker_id text NOT NULL,
    claimed_at timestamp with time zone DEFAULT now() NOT NULL
);

--
-- Name: planner_run_requests; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.planner_run_requests (
    id bigint NOT NULL,
    organization_id uuid NOT NULL,
    run_id uuid NOT NULL,
    allocation_run_id uuid NOT NULL,
    requested_by uuid,
    requested_at timestamp with time zone DEFAULT now() NOT NULL
);

--
-- Name: planner_run_requests_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.planner_run_requests ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.planner_run_requests_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: planner_settings; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.planner_settings (
    id boolean DEFAULT true NOT NULL,
    stale_after interval DEFAULT '00:02:00'::interval NOT NULL,
    max_runs_per_org_per_hour integer DEFAULT 30 NOT NULL,
    max_attempts integer DEFAULT 2 NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT planner_settings_id_check CHECK (id),
    CONSTRAINT planner_settings_max_attempts_check CHECK (((max_attempts >= 1) AND (max_attempts <= 100))),
    CONSTRAINT planner_settings_max_runs_per_org_per_hour_check CHECK ((max_runs_per_org_per_hour > 0)),
    CONSTRAINT planner_settings_stale_after_check CHECK ((stale_after > '00:00:00'::interval))
);

--
-- Name: planner_workers; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.planner_workers (
    worker_id text NOT NULL,
    host text DEFAULT ''::text NOT NULL,
    pid integer,
    version text DEFAULT ''::text NOT NULL,
    started_at timestamp with time zone DEFAULT now() NOT NULL,
    last_seen_at timestamp with time zone DEFAULT now() NOT NULL,
    current_run_id uuid,
    state text DEFAULT 'idle'::text NOT NULL,
    polling_alone boolean,
    CONSTRAINT planner_workers_host_check CHECK ((length(host) <= 255)),
    CONSTRAINT planner_workers_pid_check CHECK (((pid IS NULL) OR (pid > 0))),
    CONSTRAINT planner_workers_state_check CHECK ((state = ANY (ARRAY['starting'::text, 'idle'::text, 'solving'::text, 'stopping'::text]))),
    CONSTRAINT planner_workers_version_check CHECK ((length(version) <= 64)),
    CONSTRAINT planner_workers_worker_id_check CHECK (((length(worker_id) >= 1) AND (length(worker_id) <= 200)))
);

--
-- Name: rotations; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.rotations (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    organization_id uuid NOT NULL,
    allocation_run_id uuid NOT NULL,
    job_line_id uuid NOT NULL,
    term_ordinal integer NOT NULL,
    unit_id uuid NOT NULL,
    locked boolean DEFAULT false NOT NULL
);

--
-- Name: unit_demands; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.unit_demands (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    organization_id uuid NOT NULL,
    allocation_run_id uuid NOT NULL,
    unit_id uuid NOT NULL,
    term_ordinal integer NOT NULL,
    min_lines integer NOT NULL,
    max_lines integer NOT NULL,
    CONSTRAINT unit_demands_check CHECK ((min_lines <= max_lines)),
    CONSTRAINT unit_demands_min_lines_check CHECK ((min_lines >= 0))
);

--
-- Name: units; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.units (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    organization_id uuid NOT NULL,
    allocation_run_id uuid NOT NULL,
    code text NOT NULL,
    name text NOT NULL,
    specialty text NOT NULL,
    subspecialty text NOT NULL,
    experiences text[] DEFAULT '{}'::text[] NOT NULL,
    kind text DEFAULT 'clinical'::text NOT NULL,
    nights boolean DEFAULT false NOT NULL,
    span_terms integer DEFAULT 1 NOT NULL,
    leave_weeks integer DEFAULT 0 NOT NULL,
    CONSTRAINT units_code_check CHECK ((code ~ '^\S+$'::text)),
    CONSTRAINT units_experiences_check CHECK (((experiences <@ ARRAY['A'::text, 'B'::text, 'C'::text, 'D'::text]) AND (array_position(experiences, NULL::text) IS NULL))),
    CONSTRAINT units_kind_check CHECK ((kind = ANY (ARRAY['clinical'::text, 'non_clinical'::text, 'service'::text, 'leave'::text]))),
    CONSTRAINT units_leave_weeks_check CHECK (((leave_weeks >= 0) AND (leave_weeks <= 52))),
    CONSTRAINT units_name_check CHECK ((btrim(name) <> ''::text)),
    CONSTRAINT units_span_terms_check CHECK ((span_terms = ANY (ARRAY[1, 2]))),
    CONSTRAINT units_specialty_check CHECK ((btrim(specialty) <> ''::text)),
    CONSTRAINT units_subspecialty_check CHECK ((btrim(subspecialty) <> ''::text))
);

--
-- Name: allocation_planner_runs allocation_planner_runs_organization_id_id_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.allocation_planner_runs
    ADD CONSTRAINT allocation_planner_runs_organization_id_id_key UNIQUE (organization_id, id);

--
-- Name: allocation_planner_runs allocation_planner_runs_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.allocation_planner_runs
    ADD CONSTRAINT allocation_planner_runs_pkey PRIMARY KEY (id);

--
-- Name: allocation_runs allocation_runs_organization_id_id_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.allocation_runs
    ADD CONSTRAINT allocation_runs_organization_id_id_key UNIQUE (organization_id, id);

--
-- Name: allocation_runs allocation_runs_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.allocation_runs
    ADD CONSTRAINT allocation_runs_pkey PRIMARY KEY (id);

--
-- Name: job_lines_history job_lines_history_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.job_lines_history
    ADD CONSTRAINT job_lines_history_pkey PRIMARY KEY (id);

--
-- Name: job_lines job_lines_organization_id_allocation_run_id_id_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.job_lines
    ADD CONSTRAINT job_lines_organization_id_allocation_run_id_id_key UNIQUE (organization_id, allocation_run_id, id);

--
-- Name: job_lines job_lines_organization_id_allocation_run_id_label_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.job_lines
    ADD CONSTRAINT job_lines_organization_id_allocation_run_id_label_key UNIQUE (organization_id, allocation_run_id, label);

--
-- Name: job_lines job_lines_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.job_lines
    ADD CONSTRAINT job_lines_pkey PRIMARY KEY (id);

--
-- Name: organization_members organization_members_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.organization_members
    ADD CONSTRAINT organization_members_pkey PRIMARY KEY (organization_id, user_id);

--
-- Name: organizations organizations_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.organizations
    ADD CONSTRAINT organizations_pkey PRIMARY KEY (id);

--
-- Name: plan_terms plan_terms_organization_id_allocation_run_id_ordinal_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.plan_terms
    ADD CONSTRAINT plan_terms_organization_id_allocation_run_id_ordinal_key UNIQUE (organization_id, allocation_run_id, ordinal);

--
-- Name: plan_terms plan_terms_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.plan_terms
    ADD CONSTRAINT plan_terms_pkey PRIMARY KEY (id);

--
-- Name: planner_execution_logs planner_execution_logs_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.planner_execution_logs
    ADD CONSTRAINT planner_execution_logs_pkey PRIMARY KEY (id);

--
-- Name: planner_run_claims planner_run_claims_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.planner_run_claims
    ADD CONSTRAINT planner_run_claims_pkey PRIMARY KEY (run_id, attempt);

--
-- Name: planner_run_requests planner_run_requests_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.planner_run_requests
    ADD CONSTRAINT planner_run_requests_pkey PRIMARY KEY (id);

--
-- Name: planner_settings planner_settings_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.planner_settings
    ADD CONSTRAINT planner_settings_pkey PRIMARY KEY (id);

--
-- Name: planner_workers planner_workers_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.planner_workers
    ADD CONSTRAINT planner_workers_pkey PRIMARY KEY (worker_id);

--
-- Name: rotations rotations_organization_id_allocation_run_id_job_line_id_ter_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.rotations
    ADD CONSTRAINT rotations_organization_id_allocation_run_id_job_line_id_ter_key UNIQUE (organization_id, allocation_run_id, job_line_id, term_ordinal);

--
-- Name: rotations rotations_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.rotations
    ADD CONSTRAINT rotations_pkey PRIMARY KEY (id);

--
-- Name: unit_demands unit_demands_organization_id_allocation_run_id_unit_id_term_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.unit_demands
    ADD CONSTRAINT unit_demands_organization_id_allocation_run_id_unit_id_term_key UNIQUE (organization_id, allocation_run_id, unit_id, term_ordinal);

--
-- Name: unit_demands unit_demands_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.unit_demands
    ADD CONSTRAINT unit_demands_pkey PRIMARY KEY (id);

--
-- Name: units units_organization_id_allocation_run_id_code_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.units
    ADD CONSTRAINT units_organization_id_allocation_run_id_code_key UNIQUE (organization_id, allocation_run_id, code);

--
-- Name: units units_organization_id_allocation_run_id_id_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.units
    ADD CONSTRAINT units_organization_id_allocation_run_id_id_key UNIQUE (organization_id, allocation_run_id, id);

--
-- Name: units units_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.units
    ADD CONSTRAINT units_pkey PRIMARY KEY (id);

--
-- Name: allocation_planner_runs_generating_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX allocation_planner_runs_generating_idx ON public.allocation_planner_runs USING btree (heartbeat_at) WHERE (state = 'GENERATING'::text);

--
-- Name: allocation_planner_runs_one_active_per_round; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX allocation_planner_runs_one_active_per_round ON public.allocation_planner_runs USING btree (organization_id, allocation_run_id) WHERE (state = ANY (ARRAY['PENDING'::text, 'GENERATING'::text]));

--
-- Name: allocation_planner_runs_org_claimed_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX allocation_planner_runs_org_claimed_idx ON public.allocation_planner_runs USING btree (organization_id, claimed_at DESC) WHERE (claimed_at IS NOT NULL);

--
-- Name: allocation_planner_runs_org_created_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX allocation_planner_runs_org_created_idx ON public.allocation_planner_runs USING btree (organization_id, created_at);

--
-- Name: allocation_planner_runs_pending_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX allocation_planner_runs_pending_idx ON public.allocation_planner_runs USING btree (organization_id, created_at) WHERE (state = 'PENDING'::text);

--
-- Name: allocation_planner_runs_round_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX allocation_planner_runs_round_idx ON public.allocation_planner_runs USING btree (allocation_run_id, created_at DESC);

--
-- Name: allocation_runs_org_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX allocation_runs_org_idx ON public.allocation_runs USING btree (organization_id, created_at DESC);

--
-- Name: job_lines_history_round_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX job_lines_history_round_idx ON public.job_lines_history USING btree (allocation_run_id, created_at DESC);

--
-- Name: organization_members_user_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX organization_members_user_idx ON public.organization_members USING btree (user_id);

--
-- Name: planner_execution_logs_org_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX planner_execution_logs_org_idx ON public.planner_execution_logs USING btree (organization_id, created_at DESC);

--
-- Name: planner_execution_logs_run_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX planner_execution_logs_run_idx ON public.planner_execution_logs USING btree (run_id, created_at);

--
-- Name: planner_run_requests_org_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX planner_run_requests_org_idx ON public.planner_run_requests USING btree (organization_id, requested_at);

--
-- Name: planner_workers_last_seen_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX planner_workers_last_seen_idx ON public.planner_workers USING btree (last_seen_at);

--
-- Name: rotations_line_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX rotations_line_idx ON public.rotations USING btree (job_line_id, term_ordinal);

--
-- Name: rotations_round_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX rotations_round_idx ON public.rotations USING btree (allocation_run_id);

--
-- Name: rotations_unit_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX rotations_unit_idx ON public.rotations USING btree (unit_id, term_ordinal);

--
-- Name: unit_demands_round_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX unit_demands_round_idx ON public.unit_demands USING btree (allocation_run_id, term_ordinal);

--
-- Name: allocation_planner_runs allocation_planner_runs_abuse_guard; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER allocation_planner_runs_abuse_guard BEFORE INSERT ON public.allocation_planner_runs FOR EACH ROW EXECUTE FUNCTION planner.tg_run_abuse_guard();

--
-- Name: allocation_planner_runs allocation_planner_runs_notify; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER allocation_planner_runs_notify AFTER INSERT OR UPDATE OF state ON public.allocation_planner_runs FOR EACH ROW EXECUTE FUNCTION planner.tg_run_notify();

--
-- Name: allocation_planner_runs allocation_planner_runs_state_machine; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER allocation_planner_runs_state_machine BEFORE INSERT OR UPDATE OF state ON public.allocation_planner_runs FOR EACH ROW EXECUTE FUNCTION planner.tg_run_state_machine();

--
-- Name: allocation_planner_runs allocation_planner_runs_organization_id_allocation_run_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.allocation_planner_runs
    ADD CONSTRAINT allocation_planner_runs_organization_id_allocation_run_id_fkey FOREIGN KEY (organization_id, allocation_run_id) REFERENCES public.allocation_runs(organization_id, id) ON DELETE CASCADE;

--
-- Name: allocation_runs allocation_runs_organization_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.allocation_runs
    ADD CONSTRAINT allocation_runs_organization_id_fkey FOREIGN KEY (organization_id) REFERENCES public.organizations(id) ON DELETE CASCADE;

--
-- Name: job_lines_history job_lines_history_organization_id_allocation_run_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.job_lines_history
    ADD CONSTRAINT job_lines_history_organization_id_allocation_run_id_fkey FOREIGN KEY (organization_id, allocation_run_id) REFERENCES public.allocation_runs(organization_id, id) ON DELETE CASCADE;

--
-- Name: job_lines_history job_lines_history_organization_id_planner_run_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.job_lines_history
    ADD CONSTRAINT job_lines_history_organization_id_planner_run_id_fkey FOREIGN KEY (organization_id, planner_run_id) REFERENCES public.allocation_planner_runs(organization_id, id) ON DELETE SET NULL (planner_run_id);

--
-- Name: job_lines job_lines_organization_id_allocation_run_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.job_lines
    ADD CONSTRAINT job_lines_organization_id_allocation_run_id_fkey FOREIGN KEY (organization_id, allocation_run_id) REFERENCES public.allocation_runs(organization_id, id) ON DELETE CASCADE;

--
-- Name: job_lines job_lines_organization_id_planner_run_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.job_lines
    ADD CONSTRAINT job_lines_organization_id_planner_run_id_fkey FOREIGN KEY (organization_id, planner_run_id) REFERENCES public.allocation_planner_runs(organization_id, id) ON DELETE SET NULL (planner_run_id);

--
-- Name: organization_members organization_members_organization_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.organization_members
    ADD CONSTRAINT organization_members_organization_id_fkey FOREIGN KEY (organization_id) REFERENCES public.organizations(id) ON DELETE CASCADE;

--
-- Name: organization_members organization_members_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.organization_members
    ADD CONSTRAINT organization_members_user_id_fkey FOREIGN KEY (user_id) REFERENCES auth.users(id) ON DELETE CASCADE;

--
-- Name: plan_terms plan_terms_organization_id_allocation_run_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.plan_terms
    ADD CONSTRAINT plan_terms_organization_id_allocation_run_id_fkey FOREIGN KEY (organization_id, allocation_run_id) REFERENCES public.allocation_runs(organization_id, id) ON DELETE CASCADE;

--
-- Name: planner_execution_logs planner_execution_logs_organization_id_run_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.planner_execution_logs
    ADD CONSTRAINT planner_execution_logs_organization_id_run_id_fkey FOREIGN KEY (organization_id, run_id) REFERENCES public.allocation_planner_runs(organization_id, id) ON DELETE CASCADE;

--
-- Name: planner_run_claims planner_run_claims_organization_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.planner_run_claims
    ADD CONSTRAINT planner_run_claims_organization_id_fkey FOREIGN KEY (organization_id) REFERENCES public.organizations(id) ON DELETE CASCADE;

--
-- Name: planner_run_requests planner_run_requests_organization_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.planner_run_requests
    ADD CONSTRAINT planner_run_requests_organization_id_fkey FOREIGN KEY (organization_id) REFERENCES public.organizations(id) ON DELETE CASCADE;

--
-- Name: rotations rotations_organization_id_allocation_run_id_job_line_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.rotations
    ADD CONSTRAINT rotations_organization_id_allocation_run_id_job_line_id_fkey FOREIGN KEY (organization_id, allocation_run_id, job_line_id) REFERENCES public.job_lines(organization_id, allocation_run_id, id) ON DELETE CASCADE;

--
-- Name: rotations rotations_organization_id_allocation_run_id_term_ordinal_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.rotations
    ADD CONSTRAINT rotations_organization_id_allocation_run_id_term_ordinal_fkey FOREIGN KEY (organization_id, allocation_run_id, term_ordinal) REFERENCES public.plan_terms(organization_id, allocation_run_id, ordinal) ON DELETE CASCADE;

--
-- Name: rotations rotations_organization_id_allocation_run_id_unit_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.rotations
    ADD CONSTRAINT rotations_organization_id_allocation_run_id_unit_id_fkey FOREIGN KEY (organization_id, allocation_run_id, unit_id) REFERENCES public.units(organization_id, allocation_run_id, id);

--
-- Name: unit_demands unit_demands_organization_id_allocation_run_id_term_ordina_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.unit_demands
    ADD CONSTRAINT unit_demands_organization_id_allocation_run_id_term_ordina_fkey FOREIGN KEY (organization_id, allocation_run_id, term_ordinal) REFERENCES public.plan_terms(organization_id, allocation_run_id, ordinal) ON DELETE CASCADE;

--
-- Name: unit_demands unit_demands_organization_id_allocation_run_id_unit_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.unit_demands
    ADD CONSTRAINT unit_demands_organization_id_allocation_run_id_unit_id_fkey FOREIGN KEY (organization_id, allocation_run_id, unit_id) REFERENCES public.units(organization_id, allocation_run_id, id) ON DELETE CASCADE;

--
-- Name: units units_organization_id_allocation_run_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.units
    ADD CONSTRAINT units_organization_id_allocation_run_id_fkey FOREIGN KEY (organization_id, allocation_run_id) REFERENCES public.allocation_runs(organization_id, id) ON DELETE CASCADE;

--
-- Name: allocation_planner_runs; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.allocation_planner_runs ENABLE ROW LEVEL SECURITY;

--
-- Name: allocation_planner_runs allocation_planner_runs_editor_cancel; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY allocation_planner_runs_editor_cancel ON public.allocation_planner_runs FOR UPDATE TO authenticated USING ((planner.has_role(organization_id, ARRAY['admin'::text, 'editor'::text]) AND (state = ANY (ARRAY['PENDING'::text, 'GENERATING'::text])))) WITH CHECK ((planner.has_role(organization_id, ARRAY['admin'::text, 'editor'::text]) AND (state = 'CANCELLED'::text)));

--
-- Name: allocation_planner_runs allocation_planner_runs_editor_request; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY allocation_planner_runs_editor_request ON public.allocation_planner_runs FOR INSERT TO authenticated WITH CHECK ((planner.has_role(organization_id, ARRAY['admin'::text, 'editor'::text]) AND (state = 'PENDING'::text) AND (requested_by = auth.uid())));

--
-- Name: allocation_planner_runs allocation_planner_runs_member_read; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY allocation_planner_runs_member_read ON public.allocation_planner_runs FOR SELECT TO authenticated USING (planner.is_member(organization_id));

--
-- Name: allocation_runs; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.allocation_runs ENABLE ROW LEVEL SECURITY;

--
-- Name: allocation_runs allocation_runs_editor_delete; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY allocation_runs_editor_delete ON public.allocation_runs FOR DELETE TO authenticated USING (planner.has_role(organization_id, ARRAY['admin'::text, 'editor'::text]));

--
-- Name: allocation_runs allocation_runs_editor_insert; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY allocation_runs_editor_insert ON public.allocation_runs FOR INSERT TO authenticated WITH CHECK (planner.has_role(organization_id, ARRAY['admin'::text, 'editor'::text]));

--
-- Name: allocation_runs allocation_runs_editor_update; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY allocation_runs_editor_update ON public.allocation_runs FOR UPDATE TO authenticated USING (planner.has_role(organization_id, ARRAY['admin'::text, 'editor'::text])) WITH CHECK (planner.has_role(organization_id, ARRAY['admin'::text, 'editor'::text]));

--
-- Name: allocation_runs allocation_runs_member_read; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY allocation_runs_member_read ON public.allocation_runs FOR SELECT TO authenticated USING (planner.is_member(organization_id));

--
-- Name: job_lines; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.job_lines ENABLE ROW LEVEL SECURITY;

--
-- Name: job_lines job_lines_editor_delete; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY job_lines_editor_delete ON public.job_lines FOR DELETE TO authenticated USING (planner.has_role(organization_id, ARRAY['admin'::text, 'editor'::text]));

--
-- Name: job_lines job_lines_editor_insert; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY job_lines_editor_insert ON public.job_lines FOR INSERT TO authenticated WITH CHECK (planner.has_role(organization_id, ARRAY['admin'::text, 'editor'::text]));

--
-- Name: job_lines job_lines_editor_update; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY job_lines_editor_update ON public.job_lines FOR UPDATE TO authenticated USING (planner.has_role(organization_id, ARRAY['admin'::text, 'editor'::text])) WITH CHECK (planner.has_role(organization_id, ARRAY['admin'::text, 'editor'::text]));

--
-- Name: job_lines_history; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.job_lines_history ENABLE ROW LEVEL SECURITY;

--
-- Name: job_lines_history job_lines_history_member_read; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY job_lines_history_member_read ON public.job_lines_history FOR SELECT TO authenticated USING (planner.is_member(organization_id));

--
-- Name: job_lines job_lines_member_read; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY job_lines_member_read ON public.job_lines FOR SELECT TO authenticated USING (planner.is_member(organization_id));

--
-- Name: organization_members; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.organization_members ENABLE ROW LEVEL SECURITY;

--
-- Name: organization_members organization_members_member_read; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY organization_members_member_read ON public.organization_members FOR SELECT TO authenticated USING (planner.is_member(organization_id));

--
-- Name: organizations; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.organizations ENABLE ROW LEVEL SECURITY;

--
-- Name: organizations organizations_member_read; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY organizations_member_read ON public.organizations FOR SELECT TO authenticated USING (planner.is_member(id));

--
-- Name: plan_terms; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.plan_terms ENABLE ROW LEVEL SECURITY;

--
-- Name: plan_terms plan_terms_editor_delete; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY plan_terms_editor_delete ON public.plan_terms FOR DELETE TO authenticated USING (planner.has_role(organization_id, ARRAY['admin'::text, 'editor'::text]));

--
-- Name: plan_terms plan_terms_editor_insert; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY plan_terms_editor_insert ON public.plan_terms FOR INSERT TO authenticated WITH CHECK (planner.has_role(organization_id, ARRAY['admin'::text, 'editor'::text]));

--
-- Name: plan_terms plan_terms_editor_update; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY plan_terms_editor_update ON public.plan_terms FOR UPDATE TO authenticated USING (planner.has_role(organization_id, ARRAY['admin'::text, 'editor'::text])) WITH CHECK (planner.has_role(organization_id, ARRAY['admin'::text, 'editor'::text]));

--
-- Name: plan_terms plan_terms_member_read; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY plan_terms_member_read ON public.plan_terms FOR SELECT TO authenticated USING (planner.is_member(organization_id));

--
-- Name: planner_execution_logs; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.planner_execution_logs ENABLE ROW LEVEL SECURITY;

--
-- Name: planner_execution_logs planner_execution_logs_admin_read; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY planner_execution_logs_admin_read ON public.planner_execution_logs FOR SELECT TO authenticated USING (planner.has_role(organization_id, ARRAY['admin'::text]));

--
-- Name: planner_run_claims; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.planner_run_claims ENABLE ROW LEVEL SECURITY;

--
-- Name: planner_run_requests; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.planner_run_requests ENABLE ROW LEVEL SECURITY;

--
-- Name: planner_settings; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.planner_settings ENABLE ROW LEVEL SECURITY;

--
-- Name: planner_workers; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.planner_workers ENABLE ROW LEVEL SECURITY;

--
-- Name: rotations; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.rotations ENABLE ROW LEVEL SECURITY;

--
-- Name: rotations rotations_editor_delete; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY rotations_editor_delete ON public.rotations FOR DELETE TO authenticated USING (planner.has_role(organization_id, ARRAY['admin'::text, 'editor'::text]));

--
-- Name: rotations rotations_editor_insert; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY rotations_editor_insert ON public.rotations FOR INSERT TO authenticated WITH CHECK (planner.has_role(organization_id, ARRAY['admin'::text, 'editor'::text]));

--
-- Name: rotations rotations_editor_update; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY rotations_editor_update ON public.rotations FOR UPDATE TO authenticated USING (planner.has_role(organization_id, ARRAY['admin'::text, 'editor'::text])) WITH CHECK (planner.has_role(organization_id, ARRAY['admin'::text, 'editor'::text]));

--
-- Name: rotations rotations_member_read; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY rotations_member_read ON public.rotations FOR SELECT TO authenticated USING (planner.is_member(organization_id));

--
-- Name: unit_demands; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.unit_demands ENABLE ROW LEVEL SECURITY;

--
-- Name: unit_demands unit_demands_editor_delete; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY unit_demands_editor_delete ON public.unit_demands FOR DELETE TO authenticated USING (planner.has_role(organization_id, ARRAY['admin'::text, 'editor'::text]));

--
-- Name: unit_demands unit_demands_editor_insert; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY unit_demands_editor_insert ON public.unit_demands FOR INSERT TO authenticated WITH CHECK (planner.has_role(organization_id, ARRAY['admin'::text, 'editor'::text]));

--
-- Name: unit_demands unit_demands_editor_update; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY unit_demands_editor_update ON public.unit_demands FOR UPDATE TO authenticated USING (planner.has_role(organization_id, ARRAY['admin'::text, 'editor'::text])) WITH CHECK (planner.has_role(organization_id, ARRAY['admin'::text, 'editor'::text]));

--
-- Name: unit_demands unit_demands_member_read; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY unit_demands_member_read ON public.unit_demands FOR SELECT TO authenticated USING (planner.is_member(organization_id));

--
-- Name: units; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.units ENABLE ROW LEVEL SECURITY;

--
-- Name: units units_editor_delete; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY units_editor_delete ON public.units FOR DELETE TO authenticated USING (planner.has_role(organization_id, ARRAY['admin'::text, 'editor'::text]));

--
-- Name: units units_editor_insert; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY units_editor_insert ON public.units FOR INSERT TO authenticated WITH CHECK (planner.has_role(organization_id, ARRAY['admin'::text, 'editor'::text]));

--
-- Name: units units_editor_update; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY units_editor_update ON public.units FOR UPDATE TO authenticated USING (planner.has_role(organization_id, ARRAY['admin'::text, 'editor'::text])) WITH CHECK (planner.has_role(organization_id, ARRAY['admin'::text, 'editor'::text]));

--
-- Name: units units_member_read; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY units_member_read ON public.units FOR SELECT TO authenticated USING (planner.is_member(organization_id));

--
-- Name: SCHEMA planner; Type: ACL; Schema: -; Owner: -
--

GRANT USAGE ON SCHEMA planner TO authenticated;
GRANT USAGE ON SCHEMA planner TO service_role;
GRANT USAGE ON SCHEMA planner TO planner_worker;

--
-- Name: SCHEMA public; Type: ACL; Schema: -; Owner: -
--

GRANT USAGE ON SCHEMA public TO anon;
GRANT USAGE ON SCHEMA public TO authenticated;
GRANT USAGE ON SCHEMA public TO service_role;

--
-- Name: FUNCTION claim_run(worker_id text); Type: ACL; Schema: planner; Owner: -
--

REVOKE ALL ON FUNCTION planner.claim_run(worker_id text) FROM PUBLIC;
GRANT ALL ON FUNCTION planner.claim_run(worker_id text) TO planner_worker;
GRANT ALL ON FUNCTION planner.claim_run(worker_id text) TO service_role;

--
-- Name: FUNCTION complete_run(run_id uuid, worker_id text, attempt integer, lines jsonb, result jsonb); Type: ACL; Schema: planner; Owner: -
--

REVOKE ALL ON FUNCTION planner.complete_run(run_id uuid, worker_id text, attempt integer, lines jsonb, result jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION planner.complete_run(run_id uuid, worker_id text, attempt integer, lines jsonb, result jsonb) TO planner_worker;
GRANT ALL ON FUNCTION planner.complete_run(run_id uuid, worker_id text, attempt integer, lines jsonb, result jsonb) TO service_role;

--
-- Name: FUNCTION deregister_worker(worker_id text, host text, pid integer); Type: ACL; Schema: planner; Owner: -
--

REVOKE ALL ON FUNCTION planner.deregister_worker(worker_id text, host text, pid integer) FROM PUBLIC;
GRANT ALL ON FUNCTION planner.deregister_worker(worker_id text, host text, pid integer) TO planner_worker;
GRANT ALL ON FUNCTION planner.deregister_worker(worker_id text, host text, pid integer) TO service_role;

--
-- Name: FUNCTION run_request_problem(constraints text[], params jsonb); Type: ACL; Schema: planner; Owner: -
--

REVOKE ALL ON FUNCTION planner.run_request_problem(constraints text[], params jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION planner.run_request_problem(constraints text[], params jsonb) TO authenticated;
GRANT ALL ON FUNCTION planner.run_request_problem(constraints text[], params jsonb) TO service_role;

--
-- Name: TABLE allocation_planner_runs; Type: ACL; Schema: public; Owner: -
--

GRANT ALL ON TABLE public.allocation_planner_runs TO service_role;
GRANT SELECT ON TABLE public.allocation_planner_runs TO authenticated;

--
-- Name: COLUMN allocation_planner_runs.organization_id; Type: ACL; Schema: public; Owner: -
--

GRANT INSERT(organization_id) ON TABLE public.allocation_planner_runs TO authenticated;

--
-- Name: COLUMN allocation_planner_runs.allocation_run_id; Type: ACL; Schema: public; Owner: -
--

GRANT INSERT(allocation_run_id) ON TABLE public.allocation_planner_runs TO authenticated;

--
-- Name: COLUMN allocation_planner_runs.constraints; Type: ACL; Schema: public; Owner: -
--

GRANT INSERT(constraints) ON TABLE public.allocation_planner_runs TO authenticated;

--
-- Name: COLUMN allocation_planner_runs.params; Type: ACL; Schema: public; Owner: -
--

GRANT INSERT(params) ON TABLE public.allocation_planner_runs TO authenticated;

--
-- Name: COLUMN allocation_planner_runs.state; Type: ACL; Schema: public; Owner: -
--

GRANT UPDATE(state) ON TABLE public.allocation_planner_runs TO authenticated;

--
-- Name: FUNCTION fenced_run(run_id uuid, worker_id text, attempt integer); Type: ACL; Schema: planner; Owner: -
--

REVOKE ALL ON FUNCTION planner.fenced_run(run_id uuid, worker_id text, attempt integer) FROM PUBLIC;

--
-- Name: FUNCTION finish_run(run_id uuid, worker_id text, attempt integer, state text, result jsonb, error text); Type: ACL; Schema: planner; Owner: -
--

REVOKE ALL ON FUNCTION planner.finish_run(run_id uuid, worker_id text, attempt integer, state text, result jsonb, error text) FROM PUBLIC;
GRANT ALL ON FUNCTION planner.finish_run(run_id uuid, worker_id text, attempt integer, state text, result jsonb, error text) TO planner_worker;
GRANT ALL ON FUNCTION planner.finish_run(run_id uuid, worker_id text, attempt integer, state text, result jsonb, error text) TO service_role;

--
-- Name: FUNCTION has_role(organization_id uuid, roles text[]); Type: ACL; Schema: planner; Owner: -
--

REVOKE ALL ON FUNCTION planner.has_role(organization_id uuid, roles text[]) FROM PUBLIC;
GRANT ALL ON FUNCTION planner.has_role(organization_id uuid, roles text[]) TO authenticated;
GRANT ALL ON FUNCTION planner.has_role(organization_id uuid, roles text[]) TO service_role;

--
-- Name: FUNCTION heartbeat(run_id uuid, worker_id text, attempt integer, progress jsonb); Type: ACL; Schema: planner; Owner: -
--

REVOKE ALL ON FUNCTION planner.heartbeat(run_id uuid, worker_id text, attempt integer, progress jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION planner.heartbeat(run_id uuid, worker_id text, attempt integer, progress jsonb) TO planner_worker;
GRANT ALL ON FUNCTION planner.heartbeat(run_id uuid, worker_id text, attempt integer, progress jsonb) TO service_role;

--
-- Name: FUNCTION invoker_bypasses_rls(); Type: ACL; Schema: planner; Owner: -
--

REVOKE ALL ON FUNCTION planner.invoker_bypasses_rls() FROM PUBLIC;

--
-- Name: FUNCTION is_member(organization_id uuid); Type: ACL; Schema: planner; Owner: -
--

REVOKE ALL ON FUNCTION planner.is_member(organization_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION planner.is_member(organization_id uuid) TO authenticated;
GRANT ALL ON FUNCTION planner.is_member(organization_id uuid) TO service_role;

--
-- Name: FUNCTION load_plan(run_id uuid, worker_id text, attempt integer); Type: ACL; Schema: planner; Owner: -
--

REVOKE ALL ON FUNCTION planner.load_plan(run_id uuid, worker_id text, attempt integer) FROM PUBLIC;
GRANT ALL ON FUNCTION planner.load_plan(run_id uuid, worker_id text, attempt integer) TO planner_worker;
GRANT ALL ON FUNCTION planner.load_plan(run_id uuid, worker_id text, attempt integer) TO service_role;

--
-- Name: FUNCTION payload_rotations(lines jsonb); Type: ACL; Schema: planner; Owner: -
--

REVOKE ALL ON FUNCTION planner.payload_rotations(lines jsonb) FROM PUBLIC;

--
-- Name: FUNCTION plan_document(run_id uuid, organization_id uuid); Type: ACL; Schema: planner; Owner: -
--

REVOKE ALL ON FUNCTION planner.plan_document(run_id uuid, organization_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION planner.plan_document(run_id uuid, organization_id uuid) TO service_role;

--
-- Name: FUNCTION plan_document_of(run public.allocation_planner_runs); Type: ACL; Schema: planner; Owner: -
--

REVOKE ALL ON FUNCTION planner.plan_document_of(run public.allocation_planner_runs) FROM PUBLIC;

--
-- Name: FUNCTION queue_stats(); Type: ACL; Schema: planner; Owner: -
--

REVOKE ALL ON FUNCTION planner.queue_stats() FROM PUBLIC;
GRANT ALL ON FUNCTION planner.queue_stats() TO planner_worker;
GRANT ALL ON FUNCTION planner.queue_stats() TO service_role;

--
-- Name: FUNCTION reap_stale_runs(); Type: ACL; Schema: planner; Owner: -
--

REVOKE ALL ON FUNCTION planner.reap_stale_runs() FROM PUBLIC;
GRANT ALL ON FUNCTION planner.reap_stale_runs() TO service_role;

--
-- Name: FUNCTION register_worker(worker_id text, host text, pid integer, version text, started_at timestamp with time zone); Type: ACL; Schema: planner; Owner: -
--

REVOKE ALL ON FUNCTION planner.register_worker(worker_id text, host text, pid integer, version text, started_at timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION planner.register_worker(worker_id text, host text, pid integer, version text, started_at timestamp with time zone) TO planner_worker;
GRANT ALL ON FUNCTION planner.register_worker(worker_id text, host text, pid integer, version text, started_at timestamp with time zone) TO service_role;

--
-- Name: FUNCTION release_run(run_id uuid, worker_id text, attempt integer); Type: ACL; Schema: planner; Owner: -
--

REVOKE ALL ON FUNCTION planner.release_run(run_id uuid, worker_id text, attempt integer) FROM PUBLIC;
GRANT ALL ON FUNCTION planner.release_run(run_id uuid, worker_id text, attempt integer) TO planner_worker;
GRANT ALL ON FUNCTION planner.release_run(run_id uuid, worker_id text, attempt integer) TO service_role;

--
-- Name: FUNCTION restore_snapshot(history_id uuid); Type: ACL; Schema: planner; Owner: -
--

REVOKE ALL ON FUNCTION planner.restore_snapshot(history_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION planner.restore_snapshot(history_id uuid) TO authenticated;
GRANT ALL ON FUNCTION planner.restore_snapshot(history_id uuid) TO service_role;

--
-- Name: FUNCTION snapshot_and_clear_unlocked_lines(organization_id uuid, allocation_run_id uuid, planner_run_id uuid, reason text, clear boolean); Type: ACL; Schema: planner; Owner: -
--

REVOKE ALL ON FUNCTION planner.snapshot_and_clear_unlocked_lines(organization_id uuid, allocation_run_id uuid, planner_run_id uuid, reason text, clear boolean) FROM PUBLIC;

--
-- Name: FUNCTION status(failures integer); Type: ACL; Schema: planner; Owner: -
--

REVOKE ALL ON FUNCTION planner.status(failures integer) FROM PUBLIC;
GRANT ALL ON FUNCTION planner.status(failures integer) TO planner_worker;
GRANT ALL ON FUNCTION planner.status(failures integer) TO service_role;

--
-- Name: FUNCTION sweep_workers(); Type: ACL; Schema: planner; Owner: -
--

REVOKE ALL ON FUNCTION planner.sweep_workers() FROM PUBLIC;
GRANT ALL ON FUNCTION planner.sweep_workers() TO service_role;

--
-- Name: FUNCTION tg_run_abuse_guard(); Type: ACL; Schema: planner; Owner: -
--

REVOKE ALL ON FUNCTION planner.tg_run_abuse_guard() FROM PUBLIC;

--
-- Name: FUNCTION tg_run_notify(); Type: ACL; Schema: planner; Owner: -
--

REVOKE ALL ON FUNCTION planner.tg_run_notify() FROM PUBLIC;

--
-- Name: FUNCTION tg_run_state_machine(); Type: ACL; Schema: planner; Owner: -
--

REVOKE ALL ON FUNCTION planner.tg_run_state_machine() FROM PUBLIC;

--
-- Name: FUNCTION worker_seen(worker_id text, current_run_id uuid, state text, polling_alone boolean); Type: ACL; Schema: planner; Owner: -
--

REVOKE ALL ON FUNCTION planner.worker_seen(worker_id text, current_run_id uuid, state text, polling_alone boolean) FROM PUBLIC;
GRANT ALL ON FUNCTION planner.worker_seen(worker_id text, current_run_id uuid, state text, polling_alone boolean) TO planner_worker;
GRANT ALL ON FUNCTION planner.worker_seen(worker_id text, current_run_id uuid, state text, polling_alone boolean) TO service_role;

--
-- Name: FUNCTION write_logs(entries jsonb); Type: ACL; Schema: planner; Owner: -
--

REVOKE ALL ON FUNCTION planner.write_logs(entries jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION planner.write_logs(entries jsonb) TO planner_worker;
GRANT ALL ON FUNCTION planner.write_logs(entries jsonb) TO service_role;

--
-- Name: TABLE allocation_runs; Type: ACL; Schema: public; Owner: -
--

GRANT ALL ON TABLE public.allocation_runs TO service_role;
GRANT SELECT,DELETE ON TABLE public.allocation_runs TO authenticated;

--
-- Name: COLUMN allocation_runs.organization_id; Type: ACL; Schema: public; Owner: -
--

GRANT INSERT(organization_id) ON TABLE public.allocation_runs TO authenticated;

--
-- Name: COLUMN allocation_runs.name; Type: ACL; Schema: public; Owner: -
--

GRANT INSERT(name),UPDATE(name) ON TABLE public.allocation_runs TO authenticated;

--
-- Name: TABLE job_lines; Type: ACL; Schema: public; Owner: -
--

GRANT ALL ON TABLE public.job_lines TO service_role;
GRANT SELECT,DELETE ON TABLE public.job_lines TO authenticated;

--
-- Name: COLUMN job_lines.organization_id; Type: ACL; Schema: public; Owner: -
--

GRANT INSERT(organization_id) ON TABLE public.job_lines TO authenticated;

--
-- Name: COLUMN job_lines.allocation_run_id; Type: ACL; Schema: public; Owner: -
--

GRANT INSERT(allocation_run_id) ON TABLE public.job_lines TO authenticated;

--
-- Name: COLUMN job_lines.label; Type: ACL; Schema: public; Owner: -
--

GRANT INSERT(label),UPDATE(label) ON TABLE public.job_lines TO authenticated;

--
-- Name: COLUMN job_lines.locked; Type: ACL; Schema: public; Owner: -
--

GRANT INSERT(locked),UPDATE(locked) ON TABLE public.job_lines TO authenticated;

--
-- Name: COLUMN job_lines.source; Type: ACL; Schema: public; Owner: -
--

GRANT INSERT(source),UPDATE(source) ON TABLE public.job_lines TO authenticated;

--
-- Name: TABLE job_lines_history; Type: ACL; Schema: public; Owner: -
--

GRANT ALL ON TABLE public.job_lines_history TO service_role;
GRANT SELECT ON TABLE public.job_lines_history TO authenticated;

--
-- Name: TABLE organization_members; Type: ACL; Schema: public; Owner: -
--

GRANT ALL ON TABLE public.organization_members TO service_role;
GRANT SELECT ON TABLE public.organization_members TO authenticated;

--
-- Name: TABLE organizations; Type: ACL; Schema: public; Owner: -
--

GRANT ALL ON TABLE public.organizations TO service_role;
GRANT SELECT ON TABLE public.organizations TO authenticated;

--
-- Name: TABLE plan_terms; Type: ACL; Schema: public; Owner: -
--

GRANT ALL ON TABLE public.plan_terms TO service_role;
GRANT SELECT,DELETE ON TABLE public.plan_terms TO authenticated;

--
-- Name: COLUMN plan_terms.organization_id; Type: ACL; Schema: public; Owner: -
--

GRANT INSERT(organization_id) ON TABLE public.plan_terms TO authenticated;

--
-- Name: COLUMN plan_terms.allocation_run_id; Type: ACL; Schema: public; Owner: -
--

GRANT INSERT(allocation_run_id) ON TABLE public.plan_terms TO authenticated;

--
-- Name: COLUMN plan_terms.ordinal; Type: ACL; Schema: public; Owner: -
--

GRANT INSERT(ordinal),UPDATE(ordinal) ON TABLE public.plan_terms TO authenticated;

--
-- Name: COLUMN plan_terms.name; Type: ACL; Schema: public; Owner: -
--

GRANT INSERT(name),UPDATE(name) ON TABLE public.plan_terms TO authenticated;

--
-- Name: COLUMN plan_terms.weeks; Type: ACL; Schema: public; Owner: -
--

GRANT INSERT(weeks),UPDATE(weeks) ON TABLE public.plan_terms TO authenticated;

--
-- Name: TABLE planner_execution_logs; Type: ACL; Schema: public; Owner: -
--

GRANT ALL ON TABLE public.planner_execution_logs TO service_role;
GRANT SELECT ON TABLE public.planner_execution_logs TO authenticated;

--
-- Name: TABLE planner_run_claims; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT,REFERENCES,TRIGGER ON TABLE public.planner_run_claims TO service_role;

--
-- Name: TABLE planner_run_requests; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT,REFERENCES,TRIGGER ON TABLE public.planner_run_requests TO service_role;

--
-- Name: SEQUENCE planner_run_requests_id_seq; Type: ACL; Schema: public; Owner: -
--

GRANT ALL ON SEQUENCE public.planner_run_requests_id_seq TO anon;
GRANT ALL ON SEQUENCE public.planner_run_requests_id_seq TO authenticated;
GRANT ALL ON SEQUENCE public.planner_run_requests_id_seq TO service_role;

--
-- Name: TABLE planner_settings; Type: ACL; Schema: public; Owner: -
--

GRANT ALL ON TABLE public.planner_settings TO service_role;

--
-- Name: TABLE planner_workers; Type: ACL; Schema: public; Owner: -
--

GRANT ALL ON TABLE public.planner_workers TO service_role;

--
-- Name: TABLE rotations; Type: ACL; Schema: public; Owner: -
--

GRANT ALL ON TABLE public.rotations TO service_role;
GRANT SELECT,DELETE ON TABLE public.rotations TO authenticated;

--
-- Name: COLUMN rotations.organization_id; Type: ACL; Schema: public; Owner: -
--

GRANT INSERT(organization_id) ON TABLE public.rotations TO authenticated;

--
-- Name: COLUMN rotations.allocation_run_id; Type: ACL; Schema: public; Owner: -
--

GRANT INSERT(allocation_run_id) ON TABLE public.rotations TO authenticated;

--
-- Name: COLUMN rotations.job_line_id; Type: ACL; Schema: public; Owner: -
--

GRANT INSERT(job_line_id) ON TABLE public.rotations TO authenticated;

--
-- Name: COLUMN rotations.term_ordinal; Type: ACL; Schema: public; Owner: -
--

GRANT INSERT(term_ordinal),UPDATE(term_ordinal) ON TABLE public.rotations TO authenticated;

--
-- Name: COLUMN rotations.unit_id; Type: ACL; Schema: public; Owner: -
--

GRANT INSERT(unit_id),UPDATE(unit_id) ON TABLE public.rotations TO authenticated;

--
-- Name: COLUMN rotations.locked; Type: ACL; Schema: public; Owner: -
--

GRANT INSERT(locked),UPDATE(locked) ON TABLE public.rotations TO authenticated;

--
-- Name: TABLE unit_demands; Type: ACL; Schema: public; Owner: -
--

GRANT ALL ON TABLE public.unit_demands TO service_role;
GRANT SELECT,DELETE ON TABLE public.unit_demands TO authenticated;

--
-- Name: COLUMN unit_demands.organization_id; Type: ACL; Schema: public; Owner: -
--

GRANT INSERT(organization_id) ON TABLE public.unit_demands TO authenticated;

--
-- Name: COLUMN unit_demands.allocation_run_id; Type: ACL; Schema: public; Owner: -
--

GRANT INSERT(allocation_run_id) ON TABLE public.unit_demands TO authenticated;

--
-- Name: COLUMN unit_demands.unit_id; Type: ACL; Schema: public; Owner: -
--

GRANT INSERT(unit_id),UPDATE(unit_id) ON TABLE public.unit_demands TO authenticated;

--
-- Name: COLUMN unit_demands.term_ordinal; Type: ACL; Schema: public; Owner: -
--

GRANT INSERT(term_ordinal),UPDATE(term_ordinal) ON TABLE public.unit_demands TO authenticated;

--
-- Name: COLUMN unit_demands.min_lines; Type: ACL; Schema: public; Owner: -
--

GRANT INSERT(min_lines),UPDATE(min_lines) ON TABLE public.unit_demands TO authenticated;

--
-- Name: COLUMN unit_demands.max_lines; Type: ACL; Schema: public; Owner: -
--

GRANT INSERT(max_lines),UPDATE(max_lines) ON TABLE public.unit_demands TO authenticated;

--
-- Name: TABLE units; Type: ACL; Schema: public; Owner: -
--

GRANT ALL ON TABLE public.units TO service_role;
GRANT SELECT,DELETE ON TABLE public.units TO authenticated;

--
-- Name: COLUMN units.organization_id; Type: ACL; Schema: public; Owner: -
--

GRANT INSERT(organization_id) ON TABLE public.units TO authenticated;

--
-- Name: COLUMN units.allocation_run_id; Type: ACL; Schema: public; Owner: -
--

GRANT INSERT(allocation_run_id) ON TABLE public.units TO authenticated;

--
-- Name: COLUMN units.code; Type: ACL; Schema: public; Owner: -
--

GRANT INSERT(code),UPDATE(code) ON TABLE public.units TO authenticated;

--
-- Name: COLUMN units.name; Type: ACL; Schema: public; Owner: -
--

GRANT INSERT(name),UPDATE(name) ON TABLE public.units TO authenticated;

--
-- Name: COLUMN units.specialty; Type: ACL; Schema: public; Owner: -
--

GRANT INSERT(specialty),UPDATE(specialty) ON TABLE public.units TO authenticated;

--
-- Name: COLUMN units.subspecialty; Type: ACL; Schema: public; Owner: -
--

GRANT INSERT(subspecialty),UPDATE(subspecialty) ON TABLE public.units TO authenticated;

--
-- Name: COLUMN units.experiences; Type: ACL; Schema: public; Owner: -
--

GRANT INSERT(experiences),UPDATE(experiences) ON TABLE public.units TO authenticated;

--
-- Name: COLUMN units.kind; Type: ACL; Schema: public; Owner: -
--

GRANT INSERT(kind),UPDATE(kind) ON TABLE public.units TO authenticated;

--
-- Name: COLUMN units.nights; Type: ACL; Schema: public; Owner: -
--

GRANT INSERT(nights),UPDATE(nights) ON TABLE public.units TO authenticated;

--
-- Name: COLUMN units.span_terms; Type: ACL; Schema: public; Owner: -
--

GRANT INSERT(span_terms),UPDATE(span_terms) ON TABLE public.units TO authenticated;

--
-- Name: COLUMN units.leave_weeks; Type: ACL; Schema: public; Owner: -
--

GRANT INSERT(leave_weeks),UPDATE(leave_weeks) ON TABLE public.units TO authenticated;

--
-- Name: DEFAULT PRIVILEGES FOR SEQUENCES; Type: DEFAULT ACL; Schema: public; Owner: -
--

ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT ALL ON SEQUENCES  TO postgres;
ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT ALL ON SEQUENCES  TO anon;
ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT ALL ON SEQUENCES  TO authenticated;
ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT ALL ON SEQUENCES  TO service_role;

--
-- Name: DEFAULT PRIVILEGES FOR SEQUENCES; Type: DEFAULT ACL; Schema: public; Owner: -
--

ALTER DEFAULT PRIVILEGES FOR ROLE supabase_admin IN SCHEMA public GRANT ALL ON SEQUENCES  TO postgres;
ALTER DEFAULT PRIVILEGES FOR ROLE supabase_admin IN SCHEMA public GRANT ALL ON SEQUENCES  TO anon;
ALTER DEFAULT PRIVILEGES FOR ROLE supabase_admin IN SCHEMA public GRANT ALL ON SEQUENCES  TO authenticated;
ALTER DEFAULT PRIVILEGES FOR ROLE supabase_admin IN SCHEMA public GRANT ALL ON SEQUENCES  TO service_role;

--
-- Name: DEFAULT PRIVILEGES FOR FUNCTIONS; Type: DEFAULT ACL; Schema: public; Owner: -
--

ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT ALL ON FUNCTIONS  TO postgres;
ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT ALL ON FUNCTIONS  TO anon;
ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT ALL ON FUNCTIONS  TO authenticated;
ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT ALL ON FUNCTIONS  TO service_role;

--
-- Name: DEFAULT PRIVILEGES FOR FUNCTIONS; Type: DEFAULT ACL; Schema: public; Owner: -
--

ALTER DEFAULT PRIVILEGES FOR ROLE supabase_admin IN SCHEMA public GRANT ALL ON FUNCTIONS  TO postgres;
ALTER DEFAULT PRIVILEGES FOR ROLE supabase_admin IN SCHEMA public GRANT ALL ON FUNCTIONS  TO anon;
ALTER DEFAULT PRIVILEGES FOR ROLE supabase_admin IN SCHEMA public GRANT ALL ON FUNCTIONS  TO authenticated;
ALTER DEFAULT PRIVILEGES FOR ROLE supabase_admin IN SCHEMA public GRANT ALL ON FUNCTIONS  TO service_role;

--
-- Name: DEFAULT PRIVILEGES FOR TABLES; Type: DEFAULT ACL; Schema: public; Owner: -
--

ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT ALL ON TABLES  TO postgres;
ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT ALL ON TABLES  TO anon;
ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT ALL ON TABLES  TO authenticated;
ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT ALL ON TABLES  TO service_role;

--
-- Name: DEFAULT PRIVILEGES FOR TABLES; Type: DEFAULT ACL; Schema: public; Owner: -
--

ALTER DEFAULT PRIVILEGES FOR ROLE supabase_admin IN SCHEMA public GRANT ALL ON TABLES  TO postgres;
ALTER DEFAULT PRIVILEGES FOR ROLE supabase_admin IN SCHEMA public GRANT ALL ON TABLES  TO anon;
ALTER DEFAULT PRIVILEGES FOR ROLE supabase_admin IN SCHEMA public GRANT ALL ON TABLES  TO authenticated;
ALTER DEFAULT PRIVILEGES FOR ROLE supabase_admin IN SCHEMA public GRANT ALL ON TABLES  TO service_role;

--
-- PostgreSQL database dump complete
--
