"""Per-key task limits checked before a task is accepted: unfinished tasks at once
(`max_inflight`), video-seconds per UTC day (`daily_seconds`), and cost per UTC day and month
(`daily_budget`, `monthly_budget`).

The daily quota counts what completed today plus what unfinished tasks reserve (their
requested duration); a budget likewise counts the cost of what completed plus the expected
cost of unfinished tasks (`tasks.reserved_cost`). A failed or cancelled task gives its
reservation back, a completed one turns it into usage.
"""

from __future__ import annotations

import datetime as dt
import math

from vgen.domain.errors import BudgetExceeded, QuotaExceeded, RateLimited
from vgen.domain.keys import ApiKey
from vgen.store.usage import UsageRepository

DAY_S = 86_400
INFLIGHT_RETRY_S = 10


class TaskQuotas:
    def __init__(self, usage: UsageRepository) -> None:
        self._usage = usage

    async def admit(
        self, key: ApiKey, *, requested_seconds: float, now: float, expected_cost: float = 0.0
    ) -> None:
        """Raises RateLimited (too many unfinished tasks), QuotaExceeded (daily seconds) or
        BudgetExceeded (the task's expected cost would pass a budget)."""
        await self._admit_seconds(key, requested_seconds=requested_seconds, now=now)
        await self._admit_cost(key, expected_cost=expected_cost, now=now)

    async def _admit_seconds(self, key: ApiKey, *, requested_seconds: float, now: float) -> None:
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

    async def _admit_cost(self, key: ApiKey, *, expected_cost: float, now: float) -> None:
        daily, monthly = key.limits.daily_budget, key.limits.monthly_budget
        if daily is None and monthly is None:
            return
        use = await self._usage.key_budget_use(key.id, now=now)
        for budget, spent, period, resets_at in (
            (daily, use.today, "daily", (math.floor(now / DAY_S) + 1) * DAY_S),
            (monthly, use.this_month, "monthly", _next_month_start(now)),
        ):
            if budget is not None and spent + use.reserved + expected_cost > budget:
                raise BudgetExceeded(
                    f"The {period} budget of {budget:g} would be passed ({spent:g} spent, "
                    f"{use.reserved:g} reserved by unfinished tasks, {expected_cost:g} "
                    f"expected for this one). It resets at {_utc(resets_at)}.",
                    retry_after_s=max(1.0, resets_at - now),
                )


def _next_month_start(now: float) -> float:
    today = dt.datetime.fromtimestamp(now, dt.UTC)
    year, month = (today.year + 1, 1) if today.month == 12 else (today.year, today.month + 1)
    return dt.datetime(year, month, 1, tzinfo=dt.UTC).timestamp()


def _utc(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
