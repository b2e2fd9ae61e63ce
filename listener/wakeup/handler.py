"""What the worker does with a wake-up: ring the doorbell, remember hints, confirm cancels.

The sources (`listen`, `realtime`, `poll`) report through `WakeupEvents`; this is the worker's
side of that contract.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING

from listener.dispatcher import Doorbell
from listener.metrics import Metrics
from listener.runs import ActiveRuns, RunWatch

if TYPE_CHECKING:
    from loguru import Logger

MAX_HINTS = 1000


class WakeupHandler:
    """The worker's `WakeupEvents`. All methods are cheap and run on the event loop."""

    def __init__(self, runs: ActiveRuns, doorbell: Doorbell, metrics: Metrics) -> None:
        self._runs = runs
        self._doorbell = doorbell
        self._metrics = metrics
        # run_id -> organization_id named by its planner_runs notification, checked at claim.
        # Every organisation named, so a forged notification is not hidden by a genuine one
        # arriving after it (or the other way round).
        self._hints: OrderedDict[str, set[str | None]] = OrderedDict()
        # The push source is connected; False = this worker runs on polling alone. A source
        # that reports its own connection (Realtime) is asked instead.
        self._live = False
        self._connected: Callable[[], bool] | None = None

    def run_pending(self, run_id: str | None, organization_id: str | None, source: str) -> None:
        self._metrics.wakeup(source)
        if run_id:
            self._hints.setdefault(run_id, set()).add(organization_id)
            while len(self._hints) > MAX_HINTS:
                self._hints.popitem(last=False)
        self._doorbell.ring()

    def run_cancelled(self, run_id: str | None, organization_id: str | None, source: str) -> None:
        watch = self._runs.get(run_id)
        if watch is None:
            return
        if organization_id != str(watch.run.organization_id):
            watch.log.warning(
                "Refused a cancellation notification naming organisation {}: the run belongs "
                "to another organisation",
                organization_id,
            )
            return
        watch.log.info("Cancellation notified via {}; confirming with the database", source)
        watch.request_check(cancelled=True)

    def reconnected(self, source: str) -> None:
        self._live = True
        self._metrics.wakeup("reconnect")
        self._doorbell.ring()

    def wakeup_lost(self, source: str) -> None:
        """The source lost its connection (or crashed): polling alone until it is back."""
        self._live = False

    def follow_connection(self, connected: Callable[[], bool] | None) -> None:
        """Ask this source's own status (None: go by reconnected/wakeup_lost)."""
        self._connected = connected

    @property
    def live(self) -> bool:
        return self._connected() if self._connected is not None else self._live

    @property
    def polling_alone(self) -> bool:
        return not self.live

    def refuse_forged_hints(self, watch: RunWatch) -> None:
        """Log (and forget) the notifications for this run that named another organisation."""
        run = watch.run
        named = self._hints.pop(str(run.id), set())
        for hinted_org in sorted(org or "none" for org in named if org != str(run.organization_id)):
            _warn_forged(watch.log, hinted_org, str(run.organization_id))


def _warn_forged(log: Logger, hinted_org: str, owner: str) -> None:
    log.warning(
        "Refused the notification for this run: it named organisation {}, but the run row "
        "belongs to {}; the run is processed for the row's organisation",
        hinted_org,
        owner,
    )
