-- pg_cron: the database reaps its own stale runs, whether or not any worker is alive.
-- Idempotent: each job is unscheduled by name when present (no error when absent) and
-- scheduled again, so re-running this file leaves exactly one job per name.
-- CREATE EXTENSION pg_cron works only in the database named by cron.database_name
-- (`postgres` on Supabase; the test cluster points it at its own database). Where pg_cron
-- is missing we warn instead of failing: call planner.reap_stale_runs() from elsewhere then.
do $cron$
begin
    begin
        create extension if not exists pg_cron;
    exception when others then
        raise warning 'pg_cron unavailable (%): planner.reap_stale_runs() is NOT scheduled', sqlerrm;
        return;
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
