"""The webhook outbox: one row per task event, written in the same transaction as the state
change it announces, so an event is never lost and never invented (ARCHITECTURE.md §3).

Invariant: a pending event changes only through the deliverer holding its lease (`id`,
`state`, `lease_owner` all match), so a deliverer whose lease lapsed cannot overwrite the outcome
of the one that claimed the event after it.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

import orjson
import sqlalchemy as sa

from vgen.domain.webhooks import DeliveryState, EventType, WebhookEvent, WebhookTarget
from vgen.store.database import Database, Row
from vgen.store.tables import api_keys, tasks, webhook_events

PENDING = DeliveryState.PENDING.value


def new_event_id() -> str:
    return "msg_" + secrets.token_hex(12)


def event_insert(
    *,
    task_id: str,
    tenant_id: str,
    event_type: str,
    now: float,
    api_key_id: str | None = None,
    callback_url: str | None = None,
) -> tuple[sa.Insert, dict[str, object]]:
    """The statement (and its parameters) that enqueues `event_type` (`video.completed`,
    `video.failed`, `video.cancelled`) for a task; run it in the transaction that changes the
    task's state. `api_key_id` (the creating key) and `callback_url` (the task's) fix the
    event's target."""
    return _EVENT_INSERT, pending_event(
        event_id=new_event_id(),
        task_id=task_id,
        tenant_id=tenant_id,
        event_type=event_type,
        now=now,
        api_key_id=api_key_id,
        callback_url=callback_url,
    )


def pending_event(
    *,
    event_id: object,
    task_id: object,
    tenant_id: object,
    event_type: object,
    now: object,
    api_key_id: object,
    callback_url: object,
) -> dict[str, object]:
    """The columns of a new event, not yet delivered: values, or SQL expressions when the
    event is written from another statement's rows (`task_end`)."""
    return {
        "id": event_id,
        "task_id": task_id,
        "tenant_id": tenant_id,
        "event_type": event_type,
        "created_at": now,
        "state": PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "api_key_id": api_key_id,
        "callback_url": callback_url,
    }


# Built once, bound per call (every task end runs it).
_EVENT_INSERT = sa.insert(webhook_events)


def row_to_event(row: Row) -> WebhookEvent:
    return WebhookEvent(
        id=row["id"],
        task_id=row["task_id"],
        tenant_id=row["tenant_id"],
        event_type=EventType(row["event_type"]),
        created_at=row["created_at"],
        state=DeliveryState(row["state"]),
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        lease_owner=row["lease_owner"],
        lease_expires_at=row["lease_expires_at"],
        delivered_at=row["delivered_at"],
        last_error=row["last_error"],
        url=row["url"],
    )


class OutboxRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def claim_due(
        self, owner: str, *, now: float, lease_s: float, limit: int
    ) -> list[WebhookEvent]:
        """Lease up to `limit` pending events that are due, oldest due first, and count the
        attempt each is about to get.

        A claimed event stays `pending` with `next_attempt_at` moved to the lease's end, so
        if its deliverer dies it simply falls due again (at-least-once). One UPDATE ...
        RETURNING; on PostgreSQL the inner SELECT uses FOR UPDATE SKIP LOCKED, as
        `TaskQueue.claim_next` does, so concurrent deliverers never win the same row.
        """
        due = sa.and_(webhook_events.c.state == PENDING, webhook_events.c.next_attempt_at <= now)
        candidates = (
            sa.select(webhook_events.c.id)
            .where(due)
            .order_by(webhook_events.c.next_attempt_at, webhook_events.c.created_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        stmt = (
            sa.update(webhook_events)
            .where(webhook_events.c.id.in_(candidates), due)
            .values(
                lease_owner=owner,
                lease_expires_at=now + lease_s,
                next_attempt_at=now + lease_s,
                attempts=webhook_events.c.attempts + 1,
            )
            .returning(*webhook_events.c)
        )
        async with self._db.transaction() as tx:
            rows = await tx.fetch_all(stmt)
        return sorted((row_to_event(r) for r in rows), key=lambda e: e.created_at)

    async def find_target(self, event: WebhookEvent) -> WebhookTarget | None:
        """The task's `callback_url`, else the creating key's `webhook_url`, with that key's
        signing secret: as recorded on the event, else (events written without them) as the
        task row says; None when neither knows the key."""
        recorded = await self._db.fetch_one(
            sa.select(
                webhook_events.c.callback_url, api_keys.c.webhook_url, api_keys.c.webhook_secret
            )
            .select_from(
                webhook_events.join(api_keys, api_keys.c.id == webhook_events.c.api_key_id)
            )
            .where(webhook_events.c.id == event.id)
        )
        if recorded is not None:
            return WebhookTarget(
                url=recorded["callback_url"] or recorded["webhook_url"],
                secret=recorded["webhook_secret"] or None,
            )
        row = await self._db.fetch_one(
            sa.select(tasks.c.request, api_keys.c.webhook_url, api_keys.c.webhook_secret)
            .select_from(tasks.outerjoin(api_keys, api_keys.c.id == tasks.c.api_key_id))
            .where(tasks.c.id == event.task_id, tasks.c.tenant_id == event.tenant_id)
        )
        if row is None:
            return None
        callback_url = orjson.loads(row["request"]).get("callback_url")
        return WebhookTarget(
            url=callback_url or row["webhook_url"], secret=row["webhook_secret"] or None
        )

    async def mark_delivered(self, event_id: str, owner: str, *, url: str, now: float) -> bool:
        return await self._update_leased(
            event_id,
            owner,
            state=DeliveryState.DELIVERED.value,
            delivered_at=now,
            url=url,
            last_error=None,
        )

    async def reschedule(
        self, event_id: str, owner: str, *, url: str | None, error: str, next_attempt_at: float
    ) -> bool:
        """Give the lease back after a failed attempt; the event falls due at `next_attempt_at`."""
        return await self._update_leased(
            event_id, owner, next_attempt_at=next_attempt_at, url=url, last_error=error
        )

    async def give_up(self, event_id: str, owner: str, *, url: str | None, error: str) -> bool:
        return await self._update_leased(
            event_id, owner, state=DeliveryState.FAILED.value, url=url, last_error=error
        )

    async def skip(self, event_id: str, owner: str, *, reason: str) -> bool:
        return await self._update_leased(
            event_id, owner, state=DeliveryState.SKIPPED.value, last_error=reason
        )

    async def get(self, event_id: str) -> WebhookEvent | None:
        row = await self._db.fetch_one(
            sa.select(webhook_events).where(webhook_events.c.id == event_id)
        )
        return row_to_event(row) if row else None

    async def list_for_task(self, task_id: str) -> Sequence[WebhookEvent]:
        rows = await self._db.fetch_all(
            sa.select(webhook_events)
            .where(webhook_events.c.task_id == task_id)
            .order_by(webhook_events.c.created_at, webhook_events.c.id)
        )
        return [row_to_event(r) for r in rows]

    async def next_due_at(self) -> float | None:
        """When the earliest pending event falls due (a lease's end counts), or None."""
        row = await self._db.fetch_one(
            sa.select(sa.func.min(webhook_events.c.next_attempt_at).label("at")).where(
                webhook_events.c.state == PENDING
            )
        )
        return None if row is None or row["at"] is None else float(row["at"])

    async def _update_leased(self, event_id: str, owner: str, **values: object) -> bool:
        stmt = (
            sa.update(webhook_events)
            .where(
                webhook_events.c.id == event_id,
                webhook_events.c.state == PENDING,
                webhook_events.c.lease_owner == owner,
            )
            .values(lease_owner=None, lease_expires_at=None, **values)
        )
        return await self._db.execute(stmt) == 1
