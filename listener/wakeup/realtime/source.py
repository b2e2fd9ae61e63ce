"""`RealtimeWakeupSource`: the Realtime wake-up as the worker's `WakeupSource`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from listener.config import realtime_credentials
from listener.wakeup.realtime.supervisor import RealtimeWakeup

if TYPE_CHECKING:
    from listener.wakeup.base import WakeupEvents


class RealtimeWakeupSource:
    """``PLANNER_WAKEUP=realtime`` as a :class:`listener.wakeup.base.WakeupSource`.

    Inserts become ``events.run_pending(run_id, organization_id, "realtime")``; every
    (re)subscribe becomes ``events.reconnected("realtime")`` (a claim pass). ``wakeup`` is the
    underlying :class:`RealtimeWakeup` (``wakeup.status`` for health and metrics).
    """

    name = "realtime"

    def __init__(self, url: str, api_key: str, **kwargs: Any) -> None:
        self._events: WakeupEvents | None = None
        self.wakeup = RealtimeWakeup(url, api_key, self._deliver, **kwargs)

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, **kwargs: Any
    ) -> RealtimeWakeupSource:
        """From SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY (ValueError naming what is missing)."""
        url, key = realtime_credentials(environ)
        return cls(url, key, **kwargs)

    def is_connected(self) -> bool:
        return self.wakeup.status.connected

    async def run(self, events: WakeupEvents) -> None:
        self._events = events
        await self.wakeup.run()

    async def _deliver(self, hint: dict[str, Any]) -> None:
        events = self._events
        if events is None:
            return
        if hint.get("reason") == "resubscribed":
            events.reconnected(self.name)
            return
        run_id, org_id = hint.get("run_id"), hint.get("organization_id")
        events.run_pending(
            None if run_id is None else str(run_id),
            None if org_id is None else str(org_id),
            self.name,
        )
