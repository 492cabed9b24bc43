"""Where a queued task stands in its target's line, as fair share will serve it (API.md §6).

The task's own slot is the tenant's j-th earliest, j being its rank among the tenant's queued
tasks of that target (`domain.fair_share`); its position is 1 + the queued tasks of the target
in earlier slots. Counting walks the index ranges in front of the task, so a poll of a task
deep in a long queue costs O(its position), and the answer for a task not queued is None.
"""

from __future__ import annotations

import sqlalchemy as sa

from vgen.domain.states import TaskState
from vgen.store.database import Database
from vgen.store.tables import tasks

_QUEUED = TaskState.QUEUED.value


class QueuePositions:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def position(self, task_id: str) -> int | None:
        async with self._db.transaction() as tx:
            me = await tx.fetch_one(
                sa.select(tasks.c.tenant_id, tasks.c.engine, tasks.c.fair_rank).where(
                    tasks.c.id == task_id, tasks.c.state == _QUEUED
                )
            )
            if me is None:
                return None
            mine = (tasks.c.tenant_id == me["tenant_id"], tasks.c.state == _QUEUED)
            same_target = tasks.c.engine == me["engine"]
            own_ahead = await tx.fetch_one(
                sa.select(sa.func.count().label("n")).where(
                    *mine, same_target, tasks.c.fair_rank < me["fair_rank"]
                )
            )
            slot = await tx.fetch_one(
                sa.select(tasks.c.fair_tag, tasks.c.id)
                .where(*mine, same_target)
                .order_by(tasks.c.fair_tag, tasks.c.id)
                .offset(int(own_ahead["n"]) if own_ahead else 0)
                .limit(1)
            )
            if slot is None:
                return None
            ahead = await tx.fetch_one(
                sa.select(sa.func.count().label("n")).where(
                    tasks.c.state == _QUEUED,
                    same_target,
                    # Earlier slots; equal slots of different tenants go by id, as claims do.
                    sa.tuple_(tasks.c.fair_tag, tasks.c.id) < (slot["fair_tag"], slot["id"]),
                )
            )
        return 1 + (int(ahead["n"]) if ahead else 0)

    async def running_elapsed(self, engine: str, *, now: float, limit: int) -> list[float]:
        """How long the target's `limit` most recently started running tasks have run."""
        rows = await self._db.fetch_all(
            sa.select(tasks.c.started_at)
            .where(
                tasks.c.state == TaskState.PROCESSING.value,
                tasks.c.engine == engine,
                tasks.c.started_at.is_not(None),
            )
            .order_by(tasks.c.started_at.desc())
            .limit(limit)
        )
        return [max(0.0, now - float(row["started_at"])) for row in rows]
