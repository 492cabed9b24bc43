"""Daily usage per key and model: video-seconds and task outcomes, added in the same
transaction as the task state change that causes them, and read back per tenant."""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from vgen.domain.states import TaskState
from vgen.store.database import Database
from vgen.store.tables import tasks, usage_daily

OUTCOME_COLUMNS = {
    TaskState.COMPLETED: "completed",
    TaskState.FAILED: "failed",
    TaskState.CANCELLED: "cancelled",
}


def utc_day(at: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(at))


@dataclass(frozen=True)
class UsageRow:
    day: str
    model: str
    video_seconds: float
    completed: int
    failed: int
    cancelled: int
    cost: float = 0.0


@dataclass(frozen=True)
class BudgetUse:
    """A key's cost so far: completed today and this month (UTC), and what its unfinished
    tasks reserve (their expected cost)."""

    today: float
    this_month: float
    reserved: float


def usage_upsert(
    database: Database,
    *,
    api_key_id: str | None,
    tenant_id: str,
    model: str,
    outcome: TaskState,
    video_seconds: float,
    now: float,
    cost: float = 0.0,
) -> tuple[sa.Insert, dict[str, object]]:
    """Add one task outcome (and its cost) to its key's row for (model, day of `now`): the
    statement and its parameters."""
    params: dict[str, object] = {
        "api_key_id": api_key_id or "",
        "tenant_id": tenant_id,
        "model": model,
        "day": utc_day(now),
        "video_seconds": video_seconds,
        "cost": cost,
    }
    return _usage_upsert(database.is_sqlite, OUTCOME_COLUMNS[outcome]), params


@functools.cache
def _usage_upsert(on_sqlite: bool, column: str) -> sa.Insert:
    """Built once per database kind and outcome column (every task end runs one), bound per
    call: building a statement costs more than running it."""
    insert = (sqlite.insert if on_sqlite else postgresql.insert)(usage_daily)
    stmt = insert.values(
        api_key_id=sa.bindparam("api_key_id"),
        tenant_id=sa.bindparam("tenant_id"),
        model=sa.bindparam("model"),
        day=sa.bindparam("day"),
        video_seconds=sa.bindparam("video_seconds", type_=sa.Float),
        cost=sa.bindparam("cost", type_=sa.Float),
        **{column: 1},
    )
    return added_on_conflict(stmt, column)


def added_on_conflict(
    insert: postgresql.Insert | sqlite.Insert, column: str
) -> postgresql.Insert | sqlite.Insert:
    """`insert` of one outcome into a usage row, added to the row when it exists already."""
    return insert.on_conflict_do_update(
        index_elements=["api_key_id", "model", "day"],
        set_={
            "video_seconds": usage_daily.c.video_seconds + insert.excluded.video_seconds,
            "cost": usage_daily.c.cost + insert.excluded.cost,
            column: getattr(usage_daily.c, column) + 1,
        },
    )


class UsageRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def for_tenant(self, tenant_id: str, *, first_day: str, last_day: str) -> list[UsageRow]:
        """Per (day, model), all of the tenant's keys together, days in order."""
        rows = await self._db.fetch_all(
            sa.select(
                usage_daily.c.day,
                usage_daily.c.model,
                sa.func.sum(usage_daily.c.video_seconds).label("video_seconds"),
                sa.func.sum(usage_daily.c.completed).label("completed"),
                sa.func.sum(usage_daily.c.failed).label("failed"),
                sa.func.sum(usage_daily.c.cancelled).label("cancelled"),
                sa.func.sum(usage_daily.c.cost).label("cost"),
            )
            .where(
                usage_daily.c.tenant_id == tenant_id,
                usage_daily.c.day >= first_day,
                usage_daily.c.day <= last_day,
            )
            .group_by(usage_daily.c.day, usage_daily.c.model)
            .order_by(usage_daily.c.day, usage_daily.c.model)
        )
        return [
            UsageRow(
                day=r["day"],
                model=r["model"],
                video_seconds=float(r["video_seconds"] or 0),
                completed=int(r["completed"] or 0),
                failed=int(r["failed"] or 0),
                cancelled=int(r["cancelled"] or 0),
                cost=float(r["cost"] or 0),
            )
            for r in rows
        ]

    async def key_seconds_today(self, api_key_id: str, *, now: float) -> float:
        """Video-seconds the key's completed tasks produced today (UTC)."""
        row = await self._db.fetch_one(
            sa.select(
                sa.func.coalesce(sa.func.sum(usage_daily.c.video_seconds), 0).label("s")
            ).where(usage_daily.c.api_key_id == api_key_id, usage_daily.c.day == utc_day(now))
        )
        return float(row["s"]) if row else 0.0

    async def key_in_flight(self, api_key_id: str) -> tuple[int, float]:
        """The key's unfinished tasks: how many, and the video-seconds they reserve."""
        row = await self._db.fetch_one(
            sa.select(
                sa.func.count().label("n"),
                sa.func.coalesce(sa.func.sum(tasks.c.requested_seconds), 0).label("s"),
            ).where(
                tasks.c.api_key_id == api_key_id,
                tasks.c.state.in_([TaskState.QUEUED.value, TaskState.PROCESSING.value]),
            )
        )
        return (int(row["n"]), float(row["s"])) if row else (0, 0.0)

    async def key_budget_use(self, api_key_id: str, *, now: float) -> BudgetUse:
        """What the key's tasks cost this UTC day and month, and what unfinished ones reserve."""
        today = utc_day(now)
        month = await self._db.fetch_one(
            sa.select(
                sa.func.coalesce(sa.func.sum(usage_daily.c.cost), 0).label("month"),
                sa.func.coalesce(
                    sa.func.sum(sa.case((usage_daily.c.day == today, usage_daily.c.cost), else_=0)),
                    0,
                ).label("today"),
            ).where(
                usage_daily.c.api_key_id == api_key_id,
                usage_daily.c.day >= today[:8] + "01",  # YYYY-MM-01: days sort as strings
                usage_daily.c.day <= today,
            )
        )
        reserved = await self._db.fetch_one(
            sa.select(sa.func.coalesce(sa.func.sum(tasks.c.reserved_cost), 0).label("r")).where(
                tasks.c.api_key_id == api_key_id,
                tasks.c.state.in_([TaskState.QUEUED.value, TaskState.PROCESSING.value]),
            )
        )
        return BudgetUse(
            today=float(month["today"]) if month else 0.0,
            this_month=float(month["month"]) if month else 0.0,
            reserved=float(reserved["r"]) if reserved else 0.0,
        )
