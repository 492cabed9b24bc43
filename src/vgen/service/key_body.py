"""The public shape of an API key, shared by the admin API and `vgen keys --json`."""

from __future__ import annotations

from typing import Any

from vgen.domain.keys import ApiKey


def key_body(key: ApiKey) -> dict[str, Any]:
    """A key without its secrets."""
    return {
        "id": key.id,
        "object": "api_key",
        "name": key.name,
        "tenant_id": key.tenant_id,
        "admin": key.is_admin,
        "rate_per_minute": key.limits.rate_per_minute,
        "max_inflight": key.limits.max_inflight,
        "daily_seconds": key.limits.daily_seconds,
        "daily_budget": key.limits.daily_budget,
        "monthly_budget": key.limits.monthly_budget,
        "weight": key.weight,
        "webhook_url": key.webhook_url,
        "created_at": int(key.created_at),
        "revoked_at": int(key.revoked_at) if key.revoked_at is not None else None,
    }


def created_key_body(key: ApiKey, *, secret: str, webhook_secret: str) -> dict[str, Any]:
    """A key just created: the only time its secrets are shown."""
    return {**key_body(key), "key": secret, "webhook_secret": webhook_secret}
