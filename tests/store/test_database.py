"""`Database`: the same Core statements and the same answers on SQLite and on PostgreSQL, where
they run on psycopg directly (`store/postgres_statements.py`) instead of SQLAlchemy's asyncio
layer: parameters (expanding `IN`, booleans, Python-side defaults), rows by column name, row
counts, transactions, unique-key races, pool waits and a database that is not there."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from vgen.domain.errors import StoreError
from vgen.store.database import AUTOVACUUM_OFF_WARNING, Database, open_database
from vgen.store.postgres_statements import PostgresStatements, UnsupportedStatement
from vgen.store.tables import api_keys

pytestmark = pytest.mark.anyio


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    opened = open_database(database_url, pool_size=2)
    yield opened
    await opened.close()


def _key(key_id: str, **values: object) -> sa.Insert:
    row = {
        "id": key_id,
        "tenant_id": "t1",
        "name": f"key {key_id}",
        "secret_hash": f"hash-{key_id}",
        "created_at": 1.5,
    }
    return sa.insert(api_keys).values(**{**row, **values})


async def test_rows_come_back_by_column_name_with_their_python_types(db: Database) -> None:
    await db.execute(_key("k1", is_admin=True, rate_per_minute=60, daily_seconds=12.5))
    row = await db.fetch_one(sa.select(api_keys).where(api_keys.c.id == "k1"))
    assert row is not None
    assert (row["id"], row["is_admin"], row["rate_per_minute"]) == ("k1", True, 60)
    assert isinstance(row["created_at"], float) and row["created_at"] == 1.5
    assert row["daily_seconds"] == 12.5 and row["revoked_at"] is None
    assert row["weight"] == 1.0  # the server-side default


async def test_a_python_side_default_is_filled_in_when_a_row_leaves_it_out(db: Database) -> None:
    await db.execute(_key("k1"))  # `is_admin` has a Python-side default (False)
    row = await db.fetch_one(sa.select(api_keys.c.is_admin).where(api_keys.c.id == "k1"))
    assert row is not None and row["is_admin"] is False


async def test_an_expanding_in_list_binds_each_value(db: Database) -> None:
    for key_id in ("a", "b", "c", "d"):
        await db.execute(_key(key_id))
    pick = sa.select(api_keys.c.id).where(api_keys.c.id.in_(sa.bindparam("ids", expanding=True)))
    for ids in (["b", "d"], ["a"], ["a", "b", "c"]):  # one statement, lists of three lengths
        rows = await db.fetch_all(pick.order_by(api_keys.c.id), {"ids": ids})
        assert [r["id"] for r in rows] == ids


async def test_execute_counts_the_rows_it_touched(db: Database) -> None:
    for key_id in ("a", "b", "c"):
        await db.execute(_key(key_id))
    revoke = sa.update(api_keys).where(api_keys.c.id != "b").values(revoked_at=9.0)
    assert await db.execute(revoke) == 2
    assert await db.execute(revoke.where(api_keys.c.id == "nobody")) == 0
    returned = await db.fetch_all(
        sa.update(api_keys)
        .where(api_keys.c.id == sa.bindparam("key_id"))
        .values(name="renamed")
        .returning(api_keys.c.id, api_keys.c.name),
        {"key_id": "b"},
    )
    assert [dict(r) for r in returned] == [{"id": "b", "name": "renamed"}]


async def test_a_failed_transaction_writes_nothing(db: Database) -> None:
    with pytest.raises(RuntimeError):
        async with db.transaction() as tx:
            await tx.execute(_key("k1"))
            assert await tx.fetch_one(sa.select(api_keys.c.id)) is not None  # seen inside
            raise RuntimeError("the caller gives up")
    assert await db.fetch_all(sa.select(api_keys.c.id)) == []


async def test_a_unique_key_race_is_an_integrity_error_and_changes_nothing(db: Database) -> None:
    await db.execute(_key("k1"))
    with pytest.raises(sa.exc.IntegrityError):
        async with db.transaction() as tx:
            await tx.execute(_key("k2"))
            await tx.execute(_key("k3", secret_hash="hash-k1"))  # the unique column again
    rows = await db.fetch_all(sa.select(api_keys.c.id))
    assert [r["id"] for r in rows] == ["k1"]


async def test_more_concurrent_statements_than_connections_all_complete(db: Database) -> None:
    """The pool holds 2 connections here; 20 statements at once wait their turn."""

    async def insert_and_read(n: int) -> str:
        async with db.transaction() as tx:
            await tx.execute(_key(f"k{n}"))
            await asyncio.sleep(0)  # hold the connection across a loop turn
            row = await tx.fetch_one(sa.select(api_keys.c.id).where(api_keys.c.id == f"k{n}"))
        assert row is not None
        return str(row["id"])

    if db.is_sqlite:
        pytest.skip("SQLite transactions never await (one connection on the event loop)")
    ids = await asyncio.gather(*(insert_and_read(n) for n in range(20)))
    assert sorted(ids) == sorted(f"k{n}" for n in range(20))


async def test_a_database_that_is_not_there_is_a_store_error() -> None:
    gone = Database("postgresql://postgres@127.0.0.1:1/none", pool_size=1, connect_timeout_s=0.5)
    try:
        with pytest.raises(StoreError, match="database error"):
            await gone.fetch_all(sa.select(api_keys.c.id))
    finally:
        await gone.close()


def test_a_python_side_default_that_is_not_a_value_is_refused_not_guessed() -> None:
    """The PostgreSQL renderer fills in scalar column defaults; a callable one (whose value
    only SQLAlchemy's execution context computes) is refused loudly instead of sent wrong."""
    stamped = sa.Table(
        "stamped",
        sa.MetaData(),
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("at", sa.Float, default=lambda: 1.0),
    )
    statements = PostgresStatements(postgresql.psycopg.dialect())
    with pytest.raises(UnsupportedStatement, match="'at'"):
        statements.render(sa.insert(stamped), {"id": "x"})
    sql, params = statements.render(sa.insert(stamped), {"id": "x", "at": 2.0})
    assert params == {"id": "x", "at": 2.0} and "INSERT INTO stamped" in sql


async def test_a_postgresql_without_autovacuum_is_named_at_every_start(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The queue depends on autovacuum (CI's PostgreSQL runs without it, a deployment's should
    not): the warning comes exactly when the server has it off."""
    if database_url.startswith("sqlite"):
        pytest.skip("autovacuum is PostgreSQL's")
    with caplog.at_level(logging.WARNING, logger="vgen.store.database"):
        db = open_database(database_url)
    try:
        row = await db.fetch_one(sa.text("SELECT current_setting('autovacuum') AS setting"))
    finally:
        await db.close()
    assert row is not None
    warned = AUTOVACUUM_OFF_WARNING in caplog.messages
    assert warned == (row["setting"] == "off")
