-- Everything `receptor-planner status` shows (workers, queue, GENERATING runs, last failures).
SELECT planner.status($1::integer) AS status
