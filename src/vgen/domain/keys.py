"""`ApiKey` and its `KeyLimits`: who may call vgen, and how much."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KeyLimits:
    """What a key may do; None means unlimited."""

    rate_per_minute: int | None = None
    max_inflight: int | None = None
    daily_seconds: float | None = None
    daily_budget: float | None = None
    """Cost per UTC day (completed plus reserved), in the price table's currency."""
    monthly_budget: float | None = None
    """Cost per UTC calendar month, likewise."""


UNLIMITED = KeyLimits()
DEFAULT_WEIGHT = 1.0


@dataclass(frozen=True)
class ApiKey:
    id: str
    tenant_id: str
    name: str
    is_admin: bool
    created_at: float
    revoked_at: float | None = None
    limits: KeyLimits = UNLIMITED
    webhook_url: str | None = None
    weight: float = DEFAULT_WEIGHT
    """The key's fair share of contended capacity relative to other keys (API.md §6); > 0."""
