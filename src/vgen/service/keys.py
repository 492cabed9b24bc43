"""`KeyService`: create, list and revoke API keys (the CLI and the admin API share it).

A key's secret and its webhook signing secret are returned once, at creation; only the key's
hash is stored (the webhook secret is kept, since vgen signs with it).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from vgen.domain.errors import InvalidRequest, NotFound
from vgen.domain.ids import (
    SECRET_PREFIX,
    new_api_key_secret,
    new_key_id,
    new_tenant_id,
    new_webhook_secret,
)
from vgen.domain.keys import DEFAULT_WEIGHT, UNLIMITED, ApiKey, KeyLimits
from vgen.store.keys import KeyRepository

MAX_NAME_CHARS = 200


@dataclass(frozen=True)
class CreatedKey:
    key: ApiKey
    secret: str
    webhook_secret: str


@dataclass(frozen=True)
class KeyRequest:
    name: str
    tenant_id: str | None = None
    is_admin: bool = False
    limits: KeyLimits = UNLIMITED
    webhook_url: str | None = None
    weight: float = DEFAULT_WEIGHT


class KeyService:
    def __init__(
        self,
        *,
        keys: KeyRepository,
        clock: Callable[[], float],
        on_revoke: Callable[[str], None] = lambda _key_id: None,
    ) -> None:
        self._keys = keys
        self._clock = clock
        self._on_revoke = on_revoke

    async def create(self, request: KeyRequest) -> CreatedKey:
        """Raises InvalidRequest naming the field for a bad name, limit or webhook URL."""
        check_key_request(request)
        secret, webhook_secret = new_api_key_secret(), new_webhook_secret()
        key = await self._keys.create(
            key_id=new_key_id(),
            tenant_id=request.tenant_id or new_tenant_id(),
            name=request.name.strip(),
            secret=secret,
            is_admin=request.is_admin,
            now=self._clock(),
            limits=request.limits,
            webhook_url=request.webhook_url,
            webhook_secret=webhook_secret,
            weight=request.weight,
        )
        return CreatedKey(key, secret, webhook_secret)

    async def list(self) -> list[ApiKey]:
        return await self._keys.list()

    async def revoke(self, key_id: str) -> ApiKey:
        """Revoke by id (`key_…`), or by the secret itself (`vgen-sk-…`)."""
        if key_id.startswith(SECRET_PREFIX):
            key_id = await self._keys.id_of_secret(key_id) or "(unknown secret)"
        key = await self._keys.revoke(key_id, now=self._clock())
        if key is None:
            raise NotFound(f"No API key with id '{key_id}'.")
        self._on_revoke(key_id)
        return key


def check_key_request(request: KeyRequest) -> None:
    name = request.name.strip()
    if not name or len(name) > MAX_NAME_CHARS:
        raise InvalidRequest(f"name must be 1 to {MAX_NAME_CHARS} characters.", param="name")
    if request.tenant_id is not None and not 1 <= len(request.tenant_id) <= 64:
        raise InvalidRequest("tenant_id must be 1 to 64 characters.", param="tenant_id")
    limits = request.limits
    if limits.rate_per_minute is not None and limits.rate_per_minute < 1:
        raise InvalidRequest("rate_per_minute must be at least 1.", param="rate_per_minute")
    if limits.max_inflight is not None and limits.max_inflight < 1:
        raise InvalidRequest("max_inflight must be at least 1.", param="max_inflight")
    if limits.daily_seconds is not None and not limits.daily_seconds > 0:
        raise InvalidRequest("daily_seconds must be more than 0.", param="daily_seconds")
    for field, amount in (
        ("weight", request.weight),
        ("daily_budget", limits.daily_budget),
        ("monthly_budget", limits.monthly_budget),
    ):
        if amount is not None and not (math.isfinite(amount) and amount > 0):
            raise InvalidRequest(f"{field} must be a number more than 0.", param=field)
    if request.webhook_url is not None:
        check_webhook_url(request.webhook_url, param="webhook_url")


def check_webhook_url(url: str, *, param: str) -> None:
    """The shape of a webhook target; its address is checked on every delivery (API.md §5)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidRequest(f"{param} must be an http:// or https:// URL.", param=param)
    if len(url) > 2048:
        raise InvalidRequest(f"{param} must be at most 2048 characters.", param=param)
