-- pg_cron: the database reaps its own stale runs, whether or not any worker is alive.
-- Idempotent: each job is unscheduled by name when present (no error when absent) and
-- scheduled again, so re-running this file leaves exactly one job per name.
-- pg_cron is required: without it a stale GENERATING run (a worker that died mid-solve) is
-- never reaped, so this migration fails, saying why, rather than leave a database without
-- its reaper. On Supabase, enable pg_cron first (Dashboard > Database > Extensions, or a
-- hosted project's default); elsewhere preload it (shared_preload_libraries = 'pg_cron')
-- with cron.database_name set to this database.
do $cron$
begin
    begin
        create extension if not exists pg_cron;
    exception when others then
        raise exception 'pg_cron is required but cannot be created here: %', sqlerrm
            using hint = 'Enable the pg_cron extension (Supabase: Dashboard > Database > '
                         'Extensions; self-hosted: shared_preload_libraries = ''pg_cron'' and '
                         'cron.database_name = this database), then apply the migrations again. '
                         'Without it planner.reap_stale_runs() never runs.';
    end;

    perform cron.unschedule(j.jobid)
    from cron.job j
    where j.jobname in ('planner-reap-stale-runs', 'planner-cron-history-cleanup');

    perform cron.schedule('planner-reap-stale-runs', '* * * * *',
                          'select planner.reap_stale_runs()');
    perform cron.schedule('planner-cron-history-cleanup', '17 3 * * *',
                          $$delete from cron.job_run_details where end_time < now() - interval '7 days'$$);
end
$cron$;
