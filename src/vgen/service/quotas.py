"""Per-key task limits checked before a task is accepted: unfinished tasks at once
(`max_inflight`) and video-seconds per UTC day (`daily_seconds`).

The daily quota counts what completed today plus what unfinished tasks reserve (their
requested duration): a failed or cancelled task gives its reservation back, a completed one
turns it into usage.
"""

from __future__ import annotations

import math

from vgen.domain.errors import QuotaExceeded, RateLimited
from vgen.domain.keys import ApiKey
from vgen.store.usage import UsageRepository

DAY_S = 86_400
INFLIGHT_RETRY_S = 10


class TaskQuotas:
    def __init__(self, usage: UsageRepository) -> None:
        self._usage = usage

    async def admit(self, key: ApiKey, *, requested_seconds: float, now: float) -> None:
        """Raises RateLimited (too many unfinished tasks) or QuotaExceeded (daily seconds)."""
        limits = key.limits
        if limits.max_inflight is None and limits.daily_seconds is None:
            return
        unfinished, reserved = await self._usage.key_in_flight(key.id)
        if limits.max_inflight is not None and unfinished >= limits.max_inflight:
            raise RateLimited(
                f"This key already has {unfinished} unfinished tasks, its limit; "
                "create more when some have finished.",
                retry_after_s=INFLIGHT_RETRY_S,
                code="too_many_inflight_tasks",
            )
        if limits.daily_seconds is None:
            return
        used = await self._usage.key_seconds_today(key.id, now=now)
        if used + reserved + requested_seconds > limits.daily_seconds:
            next_day = (math.floor(now / DAY_S) + 1) * DAY_S
            raise QuotaExceeded(
                f"Daily quota of {limits.daily_seconds:g} video-seconds reached "
                f"({used:g} s made today, {reserved:g} s in unfinished tasks, "
                f"{requested_seconds:g} s asked). It resets at 00:00 UTC.",
                retry_after_s=max(1.0, next_day - now),
            )
