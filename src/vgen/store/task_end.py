"""A task's end on PostgreSQL in one statement: the owner's update of the task row, its webhook
event and its usage, as data-modifying CTEs of one `WITH` (atomic as one statement is, in
autocommit, with no BEGIN or COMMIT round trip).

The same three writes run as a transaction of three statements on SQLite (`TaskQueue`); here
they cost one round trip instead of five, which is most of a completion's database time on the
worker and a good part of PostgreSQL's. The event and the usage row are written only when the
update matched (they read its RETURNING row), so a worker whose lease is gone writes nothing.

Parameters, besides the update's own (`task_id`, `owner`, `now`, ...): `event_id`,
`event_type`, `day` (the usage row's UTC day), `usage_seconds` and `usage_cost`.
"""

from __future__ import annotations

import functools

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from vgen.domain.states import TaskState
from vgen.store.outbox import pending_event
from vgen.store.tables import usage_daily, webhook_events
from vgen.store.usage import OUTCOME_COLUMNS, added_on_conflict

_NOW = sa.bindparam("now", type_=sa.Float)
_USAGE_COLUMNS = ("api_key_id", "tenant_id", "model", "day", "video_seconds", "cost")


@functools.cache
def end_statement(update: sa.Update, outcome: TaskState) -> sa.Select[int]:
    """`update` (an owner's move to `outcome`, RETURNING tenant_id, model, api_key_id and
    request) with its event and usage; selects `n`, the number of tasks it ended (0 or 1).
    Built once per update and outcome (a statement costs more to build than to run)."""
    ended = update.cte("ended")
    event_row = pending_event(
        event_id=sa.bindparam("event_id"),
        task_id=sa.bindparam("task_id"),
        tenant_id=ended.c.tenant_id,
        event_type=sa.bindparam("event_type"),
        now=_NOW,
        api_key_id=ended.c.api_key_id,
        # The task's own callback_url (its request is JSON text), as `event_insert` reads it.
        callback_url=sa.cast(ended.c.request, postgresql.JSONB)["callback_url"].astext,
    )
    event = (
        sa.insert(webhook_events)
        .from_select(list(event_row), sa.select(*map(_as_sql, event_row.values())))
        .cte("event")
    )
    column = OUTCOME_COLUMNS[outcome]
    usage = added_on_conflict(
        postgresql.insert(usage_daily).from_select(
            (*_USAGE_COLUMNS, column),
            sa.select(
                sa.func.coalesce(ended.c.api_key_id, ""),
                ended.c.tenant_id,
                ended.c.model,
                sa.bindparam("day"),
                sa.bindparam("usage_seconds", type_=sa.Float),
                sa.bindparam("usage_cost", type_=sa.Float),
                sa.literal(1),
            ),
        ),
        column,
    ).cte("usage")
    return sa.select(sa.func.count().label("n")).select_from(ended).add_cte(event, usage)


def _as_sql(value: object) -> sa.ColumnElement[object]:
    return value if isinstance(value, sa.ColumnElement) else sa.literal(value)
