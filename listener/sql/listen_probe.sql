-- Notify our own private probe channel: the notification arrives only if LISTEN works.
SELECT pg_notify($1::text, $2::text)
