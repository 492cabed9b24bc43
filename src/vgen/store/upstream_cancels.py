"""Jobs whose upstream should be asked to stop: written in the transaction that cancels the
task, drained by `worker.upstream_cancels.UpstreamCanceller` (best effort, a few tries)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from vgen.store.database import Database
from vgen.store.tables import upstream_cancels


@dataclass(frozen=True)
class PendingCancel:
    task_id: str
    engine: str
    upstream_id: str
    attempts: int
    next_attempt_at: float


def cancel_insert(*, task_id: str, engine: str, upstream_id: str, now: float) -> sa.Insert:
    return sa.insert(upstream_cancels).values(
        task_id=task_id, engine=engine, upstream_id=upstream_id, created_at=now, next_attempt_at=now
    )


class UpstreamCancelRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def due(self, *, now: float, engines: Sequence[str], limit: int) -> list[PendingCancel]:
        rows = await self._db.fetch_all(
            sa.select(upstream_cancels)
            .where(
                upstream_cancels.c.done_at.is_(None),
                upstream_cancels.c.next_attempt_at <= now,
                upstream_cancels.c.engine.in_(list(engines)),
            )
            .order_by(upstream_cancels.c.next_attempt_at)
            .limit(limit)
        )
        return [
            PendingCancel(
                r["task_id"], r["engine"], r["upstream_id"], r["attempts"], r["next_attempt_at"]
            )
            for r in rows
        ]

    async def claim(self, pending: PendingCancel, *, until: float) -> bool:
        """Take one attempt; False if another worker took it first (compare-and-swap)."""
        stmt = (
            sa.update(upstream_cancels)
            .where(
                upstream_cancels.c.task_id == pending.task_id,
                upstream_cancels.c.done_at.is_(None),
                upstream_cancels.c.next_attempt_at == pending.next_attempt_at,
            )
            .values(next_attempt_at=until, attempts=upstream_cancels.c.attempts + 1)
        )
        return await self._db.execute(stmt) == 1

    async def finish(self, task_id: str, *, outcome: str, now: float) -> None:
        await self._db.execute(
            sa.update(upstream_cancels)
            .where(upstream_cancels.c.task_id == task_id)
            .values(done_at=now, outcome=outcome)
        )

    async def outcome(self, task_id: str) -> str | None:
        row = await self._db.fetch_one(
            sa.select(upstream_cancels.c.outcome).where(upstream_cancels.c.task_id == task_id)
        )
        return row["outcome"] if row else None
