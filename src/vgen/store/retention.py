"""Archive retention: find finished videos past their retention end and forget their artifact."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from vgen.store.database import Database
from vgen.store.tables import tasks


class RetentionRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def expired_artifacts(self, *, now: float, limit: int = 500) -> Sequence[tuple[str, str]]:
        """(task id, artifact key) pairs whose archive retention has ended."""
        rows = await self._db.fetch_all(
            sa.select(tasks.c.id, tasks.c.artifact_key)
            .where(tasks.c.artifact_key.is_not(None), tasks.c.archive_expires_at <= now)
            .limit(limit)
        )
        return [(r["id"], r["artifact_key"]) for r in rows]

    async def forget_artifact(self, task_id: str, artifact_key: str) -> None:
        await self._db.execute(
            sa.update(tasks)
            .where(tasks.c.id == task_id, tasks.c.artifact_key == artifact_key)
            .values(artifact_key=None)
        )
