"""`DurationHistory`: observed upstream job durations (submit -> upstream reported done) per
engine target and model. The learned polling pace, queue ETAs and the models list's typical
duration all read the same recent samples.

Invariant: only a sample's recency matters; the table is append-only and `prune` bounds it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from vgen.store.database import Database
from vgen.store.tables import job_durations

RECENT_SAMPLES = 50


def quantile(samples: Sequence[float], q: float) -> float:
    """The `q` quantile (0..1) of `samples` by linear interpolation (numpy's default)."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


class DurationHistory:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def record(self, engine: str, model: str, *, seconds: float, now: float) -> None:
        await self._db.execute(
            _RECORD,
            {"engine": engine, "model": model, "finished_at": now, "seconds": max(0.0, seconds)},
        )

    async def recent(self, engine: str, model: str, *, limit: int = RECENT_SAMPLES) -> list[float]:
        """The newest `limit` durations of `model` on `engine`, newest first."""
        rows = await self._db.fetch_all(
            sa.select(job_durations.c.seconds)
            .where(job_durations.c.engine == engine, job_durations.c.model == model)
            .order_by(job_durations.c.finished_at.desc())
            .limit(limit)
        )
        return [float(row["seconds"]) for row in rows]

    async def prune(self, *, older_than: float) -> int:
        """Forget samples finished before `older_than` (the sweeper's retention pass)."""
        return await self._db.execute(
            job_durations.delete().where(job_durations.c.finished_at < older_than)
        )


# Built once, bound per call (every completion records one).
_RECORD = job_durations.insert()
