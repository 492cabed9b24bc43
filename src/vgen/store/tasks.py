"""Task rows: create (with idempotency), read, list, delete. State changes live in `store.queue`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa

from vgen.domain.errors import IdempotencyConflict, StoreError
from vgen.domain.fair_share import rank
from vgen.domain.requests import VideoRequest
from vgen.domain.states import INITIAL_STATE, TaskState
from vgen.domain.tasks import Task, TaskStatus
from vgen.store.database import Database, Row
from vgen.store.shares import key_weight, take_slot
from vgen.store.tables import tasks

IDEMPOTENCY_WINDOW_S = 24 * 3600


@dataclass(frozen=True)
class NewTask:
    id: str
    tenant_id: str
    engine: str
    request: VideoRequest
    created_at: float
    deadline_at: float
    idempotency_key: str | None = None
    request_hash: str | None = None
    api_key_id: str | None = None  # the key that created it: its limits, usage, webhook apply
    reserved_cost: float = 0.0  # expected cost, held against the key's budgets until it ends


STATUS_COLUMNS = (
    "id", "model", "engine", "state", "progress", "created_at", "completed_at", "error",
    "artifact_key", "video_seconds", "archive_expires_at",
)  # fmt: skip
_STATUS_SQL = f"SELECT {', '.join(STATUS_COLUMNS)} FROM tasks WHERE id = ? AND tenant_id = ?"
_STATUS_QUERY = sa.select(*(tasks.c[name] for name in STATUS_COLUMNS)).where(
    tasks.c.id == sa.bindparam("task_id"), tasks.c.tenant_id == sa.bindparam("tenant_id")
)


def status_from_values(values: Sequence[Any]) -> TaskStatus:
    """A `TaskStatus` from the values of `STATUS_COLUMNS`, in that order."""
    task_id, model, engine, state, *rest = values
    return TaskStatus(task_id, model, engine, TaskState(state), *rest)


def row_to_task(row: Row) -> Task:
    return Task(
        id=row["id"],
        tenant_id=row["tenant_id"],
        model=row["model"],
        engine=row["engine"],
        state=TaskState(row["state"]),
        progress=row["progress"],
        request=VideoRequest.from_json(orjson.loads(row["request"])),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        deadline_at=row["deadline_at"],
        started_at=row["started_at"],
        completed_at=row["completed_at"],
        lease_owner=row["lease_owner"],
        lease_expires_at=row["lease_expires_at"],
        attempts=row["attempts"],
        upstream_id=row["upstream_id"],
        error=row["error"],
        artifact_key=row["artifact_key"],
        video_seconds=row["video_seconds"],
        archive_expires_at=row["archive_expires_at"],
        upstream_calls=row["upstream_calls"],
        api_key_id=row["api_key_id"],
    )


class TaskRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def create(self, new: NewTask) -> Task:
        """Insert a queued task. Creating the row is enqueuing it (ARCHITECTURE.md §1)."""
        values = {
            "id": new.id,
            "tenant_id": new.tenant_id,
            "model": new.request.model,
            "engine": new.engine,
            "state": INITIAL_STATE.value,
            "progress": 0,
            "request": orjson.dumps(new.request.to_json()).decode(),
            "idempotency_key": new.idempotency_key,
            "request_hash": new.request_hash,
            "created_at": new.created_at,
            "updated_at": new.created_at,
            "available_at": new.created_at,
            "deadline_at": new.deadline_at,
            "attempts": 0,
            "api_key_id": new.api_key_id,
            "requested_seconds": float(new.request.duration_s),
            "reserved_cost": new.reserved_cost,
        }
        try:
            async with self._db.transaction() as tx:
                weight = await key_weight(tx, new.api_key_id)
                tag = await take_slot(self._db, tx, new.tenant_id, weight)
                fair = {
                    "priority": new.request.priority.value,
                    "fair_tag": tag,
                    "fair_rank": rank(tag, new.request.priority, weight),
                }
                await tx.execute(sa.insert(tasks).values(**values, **fair))
        except sa.exc.IntegrityError as exc:
            # Only the idempotency key is unique besides the random id: a concurrent create
            # with the same key won; answer with its task (or 409 for another body).
            if new.idempotency_key is None or new.request_hash is None:
                raise StoreError("task insert conflicted") from exc
            winner = await self.find_idempotent(
                new.tenant_id, new.idempotency_key, new.request_hash, now=new.created_at
            )
            if winner is None:
                raise StoreError("task insert conflicted") from exc
            return winner
        task = await self.get(new.tenant_id, new.id)
        assert task is not None
        return task

    async def find_idempotent(
        self, tenant_id: str, key: str, request_hash: str, *, now: float
    ) -> Task | None:
        """The task an earlier create with this key made, if still inside the 24 h window.

        Raises:
            IdempotencyConflict: the key was used with a different body.
        """
        row = await self._db.fetch_one(
            sa.select(tasks).where(tasks.c.tenant_id == tenant_id, tasks.c.idempotency_key == key)
        )
        if row is None:
            return None
        if row["created_at"] < now - IDEMPOTENCY_WINDOW_S:
            # Expired: free the key so the new request can claim it.
            await self._db.execute(
                sa.update(tasks).where(tasks.c.id == row["id"]).values(idempotency_key=None)
            )
            return None
        if row["request_hash"] != request_hash:
            raise IdempotencyConflict(
                "This Idempotency-Key was already used with a different request body."
            )
        return row_to_task(row)

    async def get(self, tenant_id: str, task_id: str) -> Task | None:
        row = await self._db.fetch_one(
            sa.select(tasks).where(tasks.c.id == task_id, tasks.c.tenant_id == tenant_id)
        )
        return row_to_task(row) if row else None

    async def get_status(self, tenant_id: str, task_id: str) -> TaskStatus | None:
        """The status view of a task: the one query status polling makes, so it is the
        cheapest read the database offers (a raw prepared statement on SQLite)."""
        if self._db.is_sqlite:
            found = self._db.raw_sqlite().execute(_STATUS_SQL, (task_id, tenant_id)).fetchone()
        else:
            row = await self._db.fetch_one(
                _STATUS_QUERY, {"task_id": task_id, "tenant_id": tenant_id}
            )
            found = tuple(row[c] for c in STATUS_COLUMNS) if row else None
        return status_from_values(found) if found is not None else None

    async def get_any(self, task_id: str) -> Task | None:
        """A task by id regardless of tenant: for workers and signed-URL checks only."""
        row = await self._db.fetch_one(sa.select(tasks).where(tasks.c.id == task_id))
        return row_to_task(row) if row else None

    async def list(
        self,
        tenant_id: str,
        *,
        limit: int,
        after: str | None = None,
        newest_first: bool = True,
    ) -> tuple[Sequence[Task], bool]:
        """Cursor-paged, newest first unless `newest_first` is False: `after` is the id of the
        last task of the previous page.

        Returns the page and whether more follow.
        """
        key = sa.tuple_(tasks.c.created_at, tasks.c.id)
        query = sa.select(tasks).where(tasks.c.tenant_id == tenant_id)
        if after is not None:
            cursor = await self._db.fetch_one(
                sa.select(tasks.c.created_at, tasks.c.id).where(
                    tasks.c.id == after, tasks.c.tenant_id == tenant_id
                )
            )
            if cursor is None:
                return [], False
            at = sa.tuple_(sa.literal(cursor["created_at"]), sa.literal(cursor["id"]))
            query = query.where(key < at if newest_first else key > at)
        if newest_first:
            query = query.order_by(tasks.c.created_at.desc(), tasks.c.id.desc())
        else:
            query = query.order_by(tasks.c.created_at, tasks.c.id)
        rows = await self._db.fetch_all(query.limit(limit + 1))
        return [row_to_task(r) for r in rows[:limit]], len(rows) > limit

    async def find_recent_duplicate(
        self, tenant_id: str, request_hash: str, *, since: float
    ) -> Task | None:
        """The newest task of the tenant created at or after `since` from the same request."""
        row = await self._db.fetch_one(
            sa.select(tasks)
            .where(
                tasks.c.tenant_id == tenant_id,
                tasks.c.created_at >= since,
                tasks.c.request_hash == request_hash,
            )
            .order_by(tasks.c.created_at.desc())
            .limit(1)
        )
        return row_to_task(row) if row else None

    async def delete(self, tenant_id: str, task_id: str) -> Task | None:
        """Remove a task row in any state and return it as it was; None if there was none.

        A worker running the task loses it at its next compare-and-swap (`store.queue`), which
        then matches no row, so it stops and discards what it made.
        """
        stmt = (
            sa.delete(tasks)
            .where(tasks.c.id == task_id, tasks.c.tenant_id == tenant_id)
            .returning(*tasks.c)
        )
        async with self._db.transaction() as tx:
            row = await tx.fetch_one(stmt)
        return row_to_task(row) if row else None

    async def count_by_state_and_engine(self) -> dict[tuple[str, str], int]:
        rows = await self._db.fetch_all(
            sa.select(tasks.c.state, tasks.c.engine, sa.func.count().label("count")).group_by(
                tasks.c.state, tasks.c.engine
            )
        )
        return {(r["state"], r["engine"]): r["count"] for r in rows}

    async def count_by_state(self) -> dict[str, int]:
        rows = await self._db.fetch_all(
            sa.select(tasks.c.state, sa.func.count().label("count")).group_by(tasks.c.state)
        )
        return {r["state"]: r["count"] for r in rows}
