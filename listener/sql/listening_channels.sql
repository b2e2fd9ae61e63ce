-- The channels this session is registered for (detects a lost or pooled LISTEN).
SELECT coalesce(array_agg(channel), '{}') AS channels FROM pg_listening_channels() AS channel
