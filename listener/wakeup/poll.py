"""PLANNER_WAKEUP=poll: no push source at all; the dispatcher's poll interval does the work."""

from __future__ import annotations

from loguru import logger

from listener.config import Settings
from listener.wakeup.base import WakeupEvents


class PollOnlySource:
    name = "poll"

    def __init__(self, settings: Settings):
        self._interval = settings.poll_interval_s

    async def run(self, events: WakeupEvents) -> None:
        logger.info(
            "Wake-up source: polling every {}s (cancellations are noticed by the heartbeat)",
            self._interval,
        )
