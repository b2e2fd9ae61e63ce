"""Wake-up sources: what tells the worker to run a claim pass before the next poll.

A source is only a hint. Claims always go through `planner.claim_run`, and the dispatcher
polls on `PLANNER_POLL_INTERVAL_S` whatever the source does, so a lost hint costs latency,
never a run.
"""

from __future__ import annotations

from listener.config import Settings
from listener.wakeup.base import WakeupEvents, WakeupSource


def make_source(settings: Settings, *, notify) -> WakeupSource:
    """The source named by PLANNER_WAKEUP. `notify(channel, payload)` sends a probe NOTIFY
    from a pooled connection (used by the LISTEN source's self-test)."""
    if settings.wakeup == "listen":
        from listener.wakeup.listen import PgListenSource

        return PgListenSource(settings, notify=notify)
    if settings.wakeup == "poll":
        from listener.wakeup.poll import PollOnlySource

        return PollOnlySource(settings)
    if settings.wakeup == "realtime":
        # Supabase Realtime INSERTs on allocation_planner_runs (for a transaction-pooler
        # DATABASE_URL that cannot LISTEN). Polling stays on; cancellations are noticed by
        # the heartbeat.
        from listener.wakeup.realtime import RealtimeWakeupSource

        return RealtimeWakeupSource(
            settings.supabase_url,
            settings.supabase_service_role_key,
            heartbeat_s=settings.realtime_heartbeat_s,
            reconnect_max_s=settings.reconnect_max_s,
        )
    raise ValueError(f"unknown wake-up source {settings.wakeup!r}")


__all__ = ["WakeupEvents", "WakeupSource", "make_source"]
