"""Supabase Realtime wake-up source: INSERTs on public.allocation_planner_runs wake the worker.

For deployments whose database connection cannot LISTEN (transaction-mode pooler). A wake-up is
only a hint: the worker still claims through ``planner.claim_run`` and keeps polling.

The ``realtime`` client (2.x) is used for the socket, the join and the postgres_changes
routing, but not trusted to stay alive: it can lose its connection silently, its own heartbeat
never checks for a reply, and its reconnect gives up after ``max_retries``. So each connection
is a *session* built with ``auto_reconnect=False`` and watched by our own watchdog
(`connection`):

- a Phoenix ``heartbeat`` (topic ``phoenix``) with our own ref every ``heartbeat_s``; no
  ``phx_reply`` within ``heartbeat_timeout_s`` is a loss (half-dead socket);
- the channel reporting ``CHANNEL_ERROR`` / ``CLOSED`` / ``TIMED_OUT`` (``phx_error``,
  ``phx_close``, channel-level ``system`` errors, socket closed under the channel);
- the socket closed, or the client's listen task ended.

On a loss the whole client is torn down and a new one built, with exponential backoff and
jitter, forever (`supervisor`). Every successful (re)subscribe sends ``{"source": "realtime",
"reason": "resubscribed"}`` so the worker runs a claim pass and finds inserts made during the
gap. `source` adapts it to the worker's `WakeupSource`.
"""

from listener.wakeup.realtime.connection import realtime_base_url, realtime_websocket_url
from listener.wakeup.realtime.source import RealtimeWakeupSource
from listener.wakeup.realtime.supervisor import RealtimeStatus, RealtimeWakeup, WakeupEvent

__all__ = [
    "RealtimeStatus",
    "RealtimeWakeup",
    "RealtimeWakeupSource",
    "WakeupEvent",
    "realtime_base_url",
    "realtime_websocket_url",
]
