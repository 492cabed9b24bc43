"""Webhook events (API.md §4): what happened to a task, and how far its delivery has got.

Invariant: an event leaves `pending` exactly once, to `delivered`, `failed` or `skipped`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class EventType(StrEnum):
    COMPLETED = "video.completed"
    FAILED = "video.failed"
    CANCELLED = "video.cancelled"


class DeliveryState(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # gave up: no 2xx within the retry window
    SKIPPED = "skipped"  # nowhere to send it, or nothing to sign it with


@dataclass(frozen=True)
class WebhookEvent:
    """A snapshot of one outbox row. `id` is the stable `webhook-id` receivers dedupe on."""

    id: str
    task_id: str
    tenant_id: str
    event_type: EventType
    created_at: float
    state: DeliveryState
    attempts: int
    next_attempt_at: float
    lease_owner: str | None = None
    lease_expires_at: float | None = None
    delivered_at: float | None = None
    last_error: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class WebhookTarget:
    """Where an event goes and the key's secret that signs it, as found at delivery time."""

    url: str | None
    secret: str | None
