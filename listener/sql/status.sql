-- Everything `receptor-planner status` shows (workers, queue, GENERATING runs, last failures).
-- psycopg parameters (the status command is synchronous).
SELECT planner.status(%(failures)s::integer) AS status
