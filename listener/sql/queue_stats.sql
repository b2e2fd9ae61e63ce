-- Queue figures for the metrics gauges: {pending, generating, oldest_pending_at, oldest_pending_age_s}.
SELECT planner.queue_stats() AS stats
