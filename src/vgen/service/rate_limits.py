"""Per-key request rates, counted with the `limits` library: in memory by default, in Redis
when `VGEN_REDIS_URL` is set so that every API process shares one count per key."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import redis.asyncio
from limits import RateLimitItemPerMinute
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from vgen.domain.errors import RateLimited
from vgen.domain.keys import ApiKey


def storage_uri(redis_url: str | None) -> str:
    """`limits` storage for the async API: `async+redis://…` or `async+memory://`."""
    if not redis_url:
        return "async+memory://"
    return redis_url if redis_url.startswith("async+") else f"async+{redis_url}"


class RequestRateLimiter:
    def __init__(self, redis_url: str | None, *, clock: Callable[[], float] = time.time) -> None:
        options: dict[str, Any] = {}
        self._pool: redis.asyncio.ConnectionPool | None = None
        if redis_url:
            # Our own pool, so that shutdown can close its connections.
            self._pool = redis.asyncio.ConnectionPool.from_url(redis_url)
            options = {"implementation": "redispy", "connection_pool": self._pool}
        storage = storage_from_string(storage_uri(redis_url), **options)
        assert isinstance(storage, Storage)  # the `async+` scheme gives the async flavour
        self._storage = storage
        self._limiter = MovingWindowRateLimiter(self._storage)
        self._clock = clock
        self._items: dict[int, RateLimitItemPerMinute] = {}

    async def aclose(self) -> None:
        if self._pool is not None:
            await self._pool.disconnect()

    async def hit(self, key: ApiKey) -> None:
        """Count one request of `key`.

        Raises:
            RateLimited: the key made `rate_per_minute` requests in the last minute already.
        """
        await self.hit_key(key.id, key.limits.rate_per_minute)

    async def hit_key(self, key_id: str, rate: int | None) -> None:
        """`hit` for the key `key_id` whose rate is `rate` (None: unlimited)."""
        if rate is None:
            return
        item = self._items.get(rate)
        if item is None:
            item = self._items[rate] = RateLimitItemPerMinute(rate)
        if await self._limiter.hit(item, "key", key_id):
            return
        stats = await self._limiter.get_window_stats(item, "key", key_id)
        wait_s = max(1, math.ceil(stats.reset_time - self._clock()))
        raise RateLimited(
            f"Rate limit reached: this key may make {rate} requests per minute. "
            f"Retry in {wait_s} s.",
            retry_after_s=wait_s,
            code="rate_limit_exceeded",
        )
