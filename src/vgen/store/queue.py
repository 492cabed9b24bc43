"""The task table as a queue: claim with a lease, renew it, and move states by compare-and-swap.

Invariant: every state-changing write is built from a `domain.states` transition (`_move`): it
matches only the transition's source states and sets its target, and a running task changes only
through its current lease owner, so a worker whose lease lapsed can never complete or fail a task
that another worker has claimed since.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import orjson
import sqlalchemy as sa

from vgen.domain.routing import LOCAL_TARGET
from vgen.domain.states import (
    CANCEL,
    CLAIM,
    COMPLETE,
    EXPIRE,
    FAIL,
    PARK,
    RECLAIM,
    RECORD_PROGRESS,
    RECORD_UPSTREAM_ID,
    RENEW,
    REROUTE,
    TaskState,
    Transition,
)
from vgen.domain.tasks import Task
from vgen.domain.webhooks import EventType
from vgen.store.database import Database, Executor, Row
from vgen.store.outbox import event_insert, new_event_id
from vgen.store.shares import advance_clock
from vgen.store.tables import tasks
from vgen.store.task_end import end_statement
from vgen.store.tasks import row_to_task
from vgen.store.upstream_cancels import cancel_insert
from vgen.store.usage import usage_upsert, utc_day

_END_COLUMNS = (tasks.c.tenant_id, tasks.c.model, tasks.c.api_key_id, tasks.c.request)
_EVENT_TYPES = {
    TaskState.COMPLETED: EventType.COMPLETED,
    TaskState.FAILED: EventType.FAILED,
    TaskState.CANCELLED: EventType.CANCELLED,
}


class TaskQueue:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def claim_next(
        self,
        owner: str,
        *,
        now: float,
        lease_s: float,
        engines: Sequence[str] | None = None,
        startable: Sequence[str] | None = None,
    ) -> Task | None:
        """Take a runnable task: first a started one that is due again (processing, its lease
        lapsed: a dead worker's, or parked until its next poll or retry), else the queued task
        whose turn it is by fair share (`domain.fair_share`).

        Started work goes first: its upstream job runs (or its video waits) already, so serving
        it bounds completion lag and the work in flight; a new start only adds polls to a
        worker that is behind on them.

        `engines` limits claims to tasks of those engines; `startable` further limits which
        engines may *start* a queued task (those below their concurrency limit). Every lookup
        is a `LIMIT 1` walk of an index (no sort, however many tasks wait); on PostgreSQL with
        FOR UPDATE SKIP LOCKED, so concurrent claimers never wait on each other or win the
        same row. The UPDATE re-checks the row is still runnable.
        """
        starters = startable if startable is not None else engines
        params = {"now": now, "owner": owner, "lease_until": now + lease_s}
        # The commonest claim (a due poll) is one statement, on its own: find and take.
        row = await self._db.fetch_one(
            _reclaim_due(engines is not None), {**_due_params(now, engines), **params}
        )
        if row is None and (starters is None or starters):
            async with self._db.transaction() as tx:
                chosen = await self._fair_turn(tx, now, starters)
                if chosen is not None:
                    row = await tx.fetch_one(_CLAIM, {"task_id": chosen["id"], **params})
        return row_to_task(row) if row else None

    async def _fair_turn(
        self, tx: Executor, now: float, starters: Sequence[str] | None
    ) -> Row | None:
        """The queued task to start: the tenant whose slot comes first, served with its own
        best-ranked task; a passed-over task takes the served one's slot."""
        if starters is None:
            turns = [await tx.fetch_one(_NEXT_SLOT, {"now": now})]
        else:
            turns = [
                await tx.fetch_one(_NEXT_SLOT_OF_ENGINE, {"now": now, "engine": engine})
                for engine in starters
            ]
        slots = [t for t in turns if t is not None]
        if not slots:
            return None
        slot = min(slots, key=lambda t: (float(t["fair_tag"]), t["id"]))
        engines = list(starters) if starters is not None else None
        best = await tx.fetch_one(
            _tenant_best(engines is not None),
            {
                "now": now,
                "tenant_id": slot["tenant_id"],
                **({"engines": engines} if engines else {}),
            },
        )
        chosen = slot
        if best is not None and best["id"] != slot["id"] and best["fair_rank"] < slot["fair_rank"]:
            await tx.execute(_TAKE_SLOT, {"task_id": slot["id"], "tag": best["fair_tag"]})
            chosen = best
        await advance_clock(tx, float(slot["fair_tag"]))
        return chosen

    async def renew_lease(self, task_id: str, owner: str, *, now: float, lease_s: float) -> bool:
        return await self._update_owned(_RENEW, task_id, owner, until=now + lease_s)

    async def report_progress(self, task_id: str, owner: str, *, progress: int, now: float) -> bool:
        return await self._update_owned(
            _RECORD_PROGRESS, task_id, owner, progress=max(0, min(99, progress)), now=now
        )

    async def record_upstream_id(
        self, task_id: str, owner: str, *, upstream_id: str, now: float
    ) -> bool:
        return await self._update_owned(
            _RECORD_UPSTREAM_ID, task_id, owner, upstream_id=upstream_id, now=now
        )

    async def complete(
        self,
        task_id: str,
        owner: str,
        *,
        artifact_key: str,
        video_seconds: float,
        now: float,
        archive_expires_at: float,
        calls: int = 0,
        cost: float | None = None,
    ) -> bool:
        """Mark the task completed; its usage (cost included: None, not priced, adds 0) and
        its `video.completed` event are written in the same transaction."""
        return await self._finish_owned(
            COMPLETE,
            _COMPLETE,
            task_id,
            owner,
            now=now,
            values={
                "calls": calls,
                "artifact_key": artifact_key,
                "video_seconds": video_seconds,
                "cost": cost,
                "archive_expires_at": archive_expires_at,
            },
            usage_seconds=video_seconds,
            usage_cost=cost or 0.0,
        )

    async def fail(
        self, task_id: str, owner: str, *, error: str, now: float, calls: int = 0
    ) -> bool:
        return await self._finish_owned(
            FAIL, _FAIL, task_id, owner, now=now, values={"calls": calls, "error": error}
        )

    async def park(
        self,
        task_id: str,
        owner: str,
        *,
        until: float,
        now: float,
        calls: int = 0,
        progress: int | None = None,
    ) -> bool:
        """Keep a task `processing` but give up its lease until `until` (the next upstream
        poll); `claim_next` takes it again then, as it would a lapsed lease. `calls` upstream
        requests made since the last write are added to the task's count."""
        params = {"task_id": task_id, "owner": owner, "until": until, "now": now, "calls": calls}
        if progress is None:
            return await self._db.execute(_PARK, params) == 1
        params["progress"] = max(0, min(99, progress))
        return await self._db.execute(_PARK_WITH_PROGRESS, params) == 1

    async def reroute(
        self, task_id: str, owner: str, *, engine: str, now: float, calls: int = 0
    ) -> bool:
        """Fail over to another engine target: only for a task no upstream ever accepted."""
        stmt = _move(
            REROUTE, tasks.c.id == task_id, tasks.c.upstream_id.is_(None), owner=owner
        ).values(
            engine=engine,
            lease_owner=None,
            lease_expires_at=now,
            updated_at=now,
            upstream_calls=tasks.c.upstream_calls + calls,
        )
        return await self._db.execute(stmt) == 1

    async def active_by_engine(self) -> dict[str, int]:
        """How many tasks each engine holds (processing, parked ones included)."""
        rows = await self._db.fetch_all(
            sa.select(tasks.c.engine, sa.func.count().label("n"))
            .where(tasks.c.state == TaskState.PROCESSING.value)
            .group_by(tasks.c.engine)
        )
        return {r["engine"]: int(r["n"]) for r in rows}

    async def fail_overdue(self, *, now: float) -> list[str]:
        """End every unfinished task past its deadline; returns their ids."""
        stmt = (
            _move(EXPIRE, tasks.c.deadline_at <= now)
            .values(
                error="Task deadline exceeded: the video was not ready in time.",
                completed_at=now,
                updated_at=now,
                lease_owner=None,
                lease_expires_at=None,
            )
            .returning(tasks.c.id, *_END_COLUMNS)
        )
        async with self._db.transaction() as tx:
            rows = await tx.fetch_all(stmt)
            for row in rows:
                await self._record_end(tx, row["id"], row, EXPIRE.target, now=now)
        return [r["id"] for r in rows]

    async def cancel(self, task_id: str, tenant_id: str, *, now: float) -> bool:
        """End a queued or processing task as `cancelled`, whoever holds its lease: the
        worker's next write misses (`LeaseLost`) and it stops. False if already finished."""
        stmt = (
            _move(CANCEL, tasks.c.id == task_id, tasks.c.tenant_id == tenant_id)
            .values(
                error="cancelled",
                completed_at=now,
                updated_at=now,
                lease_owner=None,
                lease_expires_at=None,
            )
            .returning(*_END_COLUMNS, tasks.c.engine, tasks.c.upstream_id)
        )
        async with self._db.transaction() as tx:
            row = await tx.fetch_one(stmt)
            if row is None:
                return False
            await self._record_end(tx, task_id, row, CANCEL.target, now=now)
            if row["upstream_id"] is not None and row["engine"] != LOCAL_TARGET:
                # An upstream accepted the job: ask it to stop, best effort (worker side).
                await tx.execute(
                    cancel_insert(
                        task_id=task_id,
                        engine=row["engine"],
                        upstream_id=row["upstream_id"],
                        now=now,
                    )
                )
        return True

    async def depth(self) -> int:
        row = await self._db.fetch_one(
            sa.select(sa.func.count().label("n")).where(tasks.c.state == TaskState.QUEUED.value)
        )
        return int(row["n"]) if row else 0

    async def _finish_owned(
        self,
        transition: Transition,
        stmt: sa.Update,
        task_id: str,
        owner: str,
        *,
        now: float,
        values: dict[str, object],
        usage_seconds: float = 0.0,
        usage_cost: float = 0.0,
    ) -> bool:
        """End a running task by `stmt` (`transition` made by its lease owner, bound with
        `values`), with its usage and its webhook event in the same transaction (on
        PostgreSQL, the same statement: `task_end`)."""
        params = {"task_id": task_id, "owner": owner, "now": now, **values}
        if not self._db.is_sqlite:
            ended = await self._db.fetch_one(
                end_statement(stmt, transition.target),
                {
                    **params,
                    "event_id": new_event_id(),
                    "event_type": _EVENT_TYPES[transition.target].value,
                    "day": utc_day(now),
                    "usage_seconds": usage_seconds,
                    "usage_cost": usage_cost,
                },
            )
            return ended is not None and ended["n"] == 1
        async with self._db.transaction() as tx:
            row = await tx.fetch_one(stmt, params)
            if row is None:
                return False
            await self._record_end(
                tx,
                task_id,
                row,
                transition.target,
                now=now,
                video_seconds=usage_seconds,
                cost=usage_cost,
            )
        return True

    async def _record_end(
        self,
        tx: Executor,
        task_id: str,
        row: Row,
        outcome: TaskState,
        *,
        now: float,
        video_seconds: float = 0.0,
        cost: float = 0.0,
    ) -> None:
        """Usage and the webhook event of a task that just ended (ARCHITECTURE.md §3). Only a
        completion has seconds and a cost: failed and cancelled tasks cost nothing.

        The usage upsert goes last: every task of a key and model ends on the same usage row,
        whose lock the transaction holds from the upsert to its commit, so concurrent
        completions queue on it for as long as that lasts (one round trip, not two)."""
        await tx.execute(
            *event_insert(
                task_id=task_id,
                tenant_id=row["tenant_id"],
                event_type=_EVENT_TYPES[outcome],
                now=now,
                api_key_id=row["api_key_id"],
                callback_url=orjson.loads(row["request"]).get("callback_url"),
            )
        )
        await tx.execute(
            *usage_upsert(
                self._db,
                api_key_id=row["api_key_id"],
                tenant_id=row["tenant_id"],
                model=row["model"],
                outcome=outcome,
                video_seconds=video_seconds,
                cost=cost,
                now=now,
            )
        )

    async def _update_owned(
        self, stmt: sa.Update, task_id: str, owner: str, **params: object
    ) -> bool:
        return await self._db.execute(stmt, {"task_id": task_id, "owner": owner, **params}) == 1


_NOW = sa.bindparam("now", type_=sa.Float)


def _in_states(states: frozenset[TaskState]) -> sa.ColumnElement[bool]:
    if len(states) == 1:
        (state,) = states
        return tasks.c.state == state.value
    return tasks.c.state.in_(sorted(s.value for s in states))


def _move(
    transition: Transition,
    *conditions: sa.ColumnElement[bool],
    owner: str | sa.BindParameter[str] | None = None,
) -> sa.Update:
    """The UPDATE that makes `transition` on the rows matching `conditions`: it matches only
    the transition's source states (and the lease owner when the move needs one) and sets its
    target state. Every state-changing write of the queue is built here."""
    guard = [_in_states(transition.sources), *conditions]
    if transition.by_owner:
        if owner is None:
            raise ValueError(f"the {transition.name!r} transition needs the lease owner")
        guard.append(tasks.c.lease_owner == owner)
    return sa.update(tasks).where(*guard).values(state=transition.target.value)


def _owned(transition: Transition, task_id: str, owner: str) -> sa.Update:
    """A move of one running task that only its current lease owner can make."""
    return _move(transition, tasks.c.id == task_id, owner=owner)


# A claim starts a due queued task or takes back a lapsed lease: one statement for both moves,
# which share their target (`processing`).
_DUE_AT = {CLAIM: tasks.c.available_at, RECLAIM: tasks.c.lease_expires_at}
_RUNNABLE = sa.or_(
    *(sa.and_(_in_states(move.sources), due_at <= _NOW) for move, due_at in _DUE_AT.items())
)


def _claim(task_id: sa.ColumnElement[Any]) -> sa.Update:
    return (
        sa.update(tasks)
        .where(tasks.c.id == task_id, _RUNNABLE, tasks.c.deadline_at > _NOW)
        .values(
            state=CLAIM.target.value,
            lease_owner=sa.bindparam("owner"),
            lease_expires_at=sa.bindparam("lease_until", type_=sa.Float),
            attempts=tasks.c.attempts + 1,
            started_at=sa.func.coalesce(tasks.c.started_at, _NOW),
            updated_at=_NOW,
        )
        .returning(*tasks.c)
    )


_CLAIM = _claim(sa.bindparam("task_id"))


# Fair share's lookups (domain.fair_share): the first slot among one engine's queued tasks
# (ix_tasks_state_engine_tag; of all engines in tests and tools), and a tenant's
# best-ranked queued task (ix_tasks_tenant_state_rank).
# `available_at + 0`: a filter, never the index to walk (the planner would otherwise take
# ix_tasks_state_available and sort every queued task by slot).
_QUEUED_AND_DUE = sa.and_(
    _in_states(CLAIM.sources), tasks.c.available_at + 0 <= _NOW, tasks.c.deadline_at > _NOW
)
_FAIR_COLUMNS = (tasks.c.id, tasks.c.tenant_id, tasks.c.fair_tag, tasks.c.fair_rank)
_NEXT_SLOT = (
    sa.select(*_FAIR_COLUMNS)
    .where(_QUEUED_AND_DUE)
    .order_by(tasks.c.fair_tag, tasks.c.id)  # the id breaks ties, as `queue_positions` does
    .limit(1)
    .with_for_update(skip_locked=True)
)
_NEXT_SLOT_OF_ENGINE = _NEXT_SLOT.where(tasks.c.engine == sa.bindparam("engine"))


@functools.cache
def _tenant_best(filtered: bool) -> sa.Select[Any]:
    query = sa.select(*_FAIR_COLUMNS).where(
        tasks.c.tenant_id == sa.bindparam("tenant_id"), _QUEUED_AND_DUE
    )
    if filtered:
        query = query.where(tasks.c.engine.in_(sa.bindparam("engines", expanding=True)))
    return query.order_by(tasks.c.fair_rank).limit(1).with_for_update(skip_locked=True)


# The passed-over task moves to the served task's slot. Its rank (its order among the tenant's
# tasks: creation slot less priority head start) never changes, so passed-over tasks keep their
# order, and the tenant's set of slots (its share) is the same as before.
_TAKE_SLOT = (
    sa.update(tasks)
    .where(tasks.c.id == sa.bindparam("task_id"))
    .values(fair_tag=sa.bindparam("tag", type_=sa.Float))
)


@functools.cache
def _due(move: Transition, filtered: bool) -> sa.Select[Any]:
    """The task `move` (a claim or a reclaim) would take, due longest ago: a queued one (index
    `ix_tasks_state_available`) or a processing one whose lease lapsed (index
    `ix_tasks_state_lease`), optionally only of the engines bound as `engines`."""
    due_at = _DUE_AT[move]
    query = sa.select(tasks.c.id, due_at.label("due")).where(
        _in_states(move.sources), due_at <= _NOW, tasks.c.deadline_at > _NOW
    )
    if filtered:
        query = query.where(tasks.c.engine.in_(sa.bindparam("engines", expanding=True)))
    return query.order_by(due_at).limit(1).with_for_update(skip_locked=True)


@functools.cache
def _reclaim_due(filtered: bool) -> sa.Update:
    """Take the started task due longest ago (`_due(RECLAIM)`), in one statement."""
    return _claim(_due(RECLAIM, filtered).with_only_columns(tasks.c.id).scalar_subquery())


def _due_params(now: float, engines: Sequence[str] | None) -> dict[str, object]:
    return {"now": now} if engines is None else {"now": now, "engines": list(engines)}


# The owner's moves of a running task, built once and bound per call like `_PARK` (building a
# statement costs more than running it): `task_id`, `owner`, then each move's own values.
def _by_owner(transition: Transition) -> sa.Update:
    return _move(transition, tasks.c.id == sa.bindparam("task_id"), owner=sa.bindparam("owner"))


_RENEW = _by_owner(RENEW).values(lease_expires_at=sa.bindparam("until", type_=sa.Float))
_RECORD_PROGRESS = _by_owner(RECORD_PROGRESS).values(
    progress=sa.bindparam("progress", type_=sa.Integer), updated_at=_NOW
)
_RECORD_UPSTREAM_ID = _by_owner(RECORD_UPSTREAM_ID).values(
    upstream_id=sa.bindparam("upstream_id"), updated_at=_NOW
)
_CALLS_ADDED = tasks.c.upstream_calls + sa.bindparam("calls", type_=sa.Integer)
# Parking is the one write of every poll of a remote job.
_PARK = _by_owner(PARK).values(
    lease_owner=None,
    lease_expires_at=sa.bindparam("until", type_=sa.Float),
    updated_at=_NOW,
    upstream_calls=_CALLS_ADDED,
)
_PARK_WITH_PROGRESS = _PARK.values(progress=sa.bindparam("progress", type_=sa.Integer))
_ENDED = {"completed_at": _NOW, "updated_at": _NOW, "lease_owner": None, "lease_expires_at": None}
_COMPLETE = (
    _by_owner(COMPLETE)
    .values(
        upstream_calls=_CALLS_ADDED,
        progress=100,
        artifact_key=sa.bindparam("artifact_key"),
        video_seconds=sa.bindparam("video_seconds", type_=sa.Float),
        cost=sa.bindparam("cost", type_=sa.Float),
        archive_expires_at=sa.bindparam("archive_expires_at", type_=sa.Float),
        error=None,
        **_ENDED,
    )
    .returning(*_END_COLUMNS)
)
_FAIL = (
    _by_owner(FAIL)
    .values(upstream_calls=_CALLS_ADDED, error=sa.bindparam("error"), **_ENDED)
    .returning(*_END_COLUMNS)
)
