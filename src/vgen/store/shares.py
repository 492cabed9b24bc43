"""Each tenant's line of fair-share slots and the share clock (see `domain.fair_share`).

Invariant: a tenant's slots only move forward, and the clock never goes back; both are written
in the transaction of the create or claim that moves them.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from vgen.domain.fair_share import DEFAULT_WEIGHT, slot_width
from vgen.store.database import Database, Executor
from vgen.store.tables import api_keys, share_clock, tenant_shares

_CLOCK = sa.select(share_clock.c.virtual_time).where(share_clock.c.id == 1).scalar_subquery()


async def key_weight(tx: Executor, api_key_id: str | None) -> float:
    if api_key_id is None:
        return DEFAULT_WEIGHT
    row = await tx.fetch_one(sa.select(api_keys.c.weight).where(api_keys.c.id == api_key_id))
    return float(row["weight"]) if row is not None and row["weight"] else DEFAULT_WEIGHT


async def take_slot(database: Database, tx: Executor, tenant_id: str, weight: float) -> float:
    """The tag of the tenant's next slot: one slot past the later of its last one and the
    share clock. Concurrent creates of one tenant serialise on its row (PostgreSQL)."""
    width = slot_width(weight)
    clock = sa.func.coalesce(_CLOCK, 0.0)
    later = sa.func.max if database.is_sqlite else sa.func.greatest
    insert = (sqlite.insert if database.is_sqlite else postgresql.insert)(tenant_shares)
    stmt = (
        insert.values(tenant_id=tenant_id, last_tag=clock + width)
        .on_conflict_do_update(
            index_elements=["tenant_id"],
            set_={"last_tag": later(tenant_shares.c.last_tag, clock) + width},
        )
        .returning(tenant_shares.c.last_tag)
    )
    row = await tx.fetch_one(stmt)
    assert row is not None
    return float(row["last_tag"])


async def advance_clock(tx: Executor, tag: float) -> None:
    """The share clock moves to the slot of the task just started (never back)."""
    await tx.execute(
        sa.update(share_clock)
        .where(share_clock.c.id == 1, share_clock.c.virtual_time < tag)
        .values(virtual_time=tag)
    )
