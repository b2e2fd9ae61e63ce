"""The contract between wake-up sources and the worker."""

from __future__ import annotations

import json
from typing import Protocol, runtime_checkable

RUNS_CHANNEL = "planner_runs"
CANCELLATIONS_CHANNEL = "planner_cancellations"


class WakeupEvents(Protocol):
    """What a source reports. All methods are cheap and called on the event loop."""

    def run_pending(self, run_id: str | None, organization_id: str | None, source: str) -> None:
        """A run became PENDING (or may have): run a claim pass soon."""

    def run_cancelled(self, run_id: str | None, organization_id: str | None, source: str) -> None:
        """A run became CANCELLED: if it is ours, verify with a heartbeat now."""

    def reconnected(self, source: str) -> None:
        """The source (re)connected and may have missed events: run a claim pass now."""

    def wakeup_lost(self, source: str) -> None:
        """The source lost its connection: the worker runs on polling alone until the next
        `reconnected` (shown by `health`)."""


class WakeupSource(Protocol):
    name: str

    async def run(self, events: WakeupEvents) -> None:
        """Deliver events until cancelled. Returning means the source gave up for good;
        the worker then keeps working by polling alone."""


@runtime_checkable
class ReportsConnection(Protocol):
    """A source with a connection worth a gauge (`planner_realtime_connected`)."""

    def is_connected(self) -> bool:
        """True while subscribed and answering heartbeats."""
        ...


def parse_run_payload(payload: str | None) -> tuple[str | None, str | None]:
    """(run_id, organization_id) from a notification payload; (None, None) if malformed."""
    try:
        data = json.loads(payload or "")
    except ValueError:
        return None, None
    if not isinstance(data, dict):
        return None, None
    run_id, org_id = data.get("run_id"), data.get("organization_id")
    return (
        str(run_id) if isinstance(run_id, str) else None,
        str(org_id) if isinstance(org_id, str) else None,
    )
