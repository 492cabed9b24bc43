"""One way to run SQLAlchemy Core statements on SQLite or PostgreSQL from async code.

SQLite runs in-process on the event loop thread: a primary-key read costs microseconds, far less
than a hop to a worker thread would (this is what keeps status polling fast). Every write is a
single compare-and-swap statement, so no transaction ever spans an `await` on SQLite.
PostgreSQL goes through SQLAlchemy's asyncio engine (psycopg 3).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import anyio
import psycopg
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.sql import Executable

from vgen.domain.errors import StoreError

_MIGRATIONS = Path(__file__).parent / "migrations"


class Executor(Protocol):
    """What repositories use: run one statement and get rows or a row count."""

    async def fetch_one(
        self, stmt: Executable, params: Mapping[str, Any] | None = None
    ) -> RowMapping | None: ...

    async def fetch_all(
        self, stmt: Executable, params: Mapping[str, Any] | None = None
    ) -> Sequence[RowMapping]: ...

    async def execute(self, stmt: Executable, params: Mapping[str, Any] | None = None) -> int: ...


def normalise_url(url: str) -> str:
    """Accept plain `postgresql://` / `postgres://` URLs and use the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


@contextlib.contextmanager
def _translated() -> Any:
    try:
        yield
    except sa.exc.IntegrityError:
        raise
    except sa.exc.SQLAlchemyError as exc:
        raise StoreError(f"database error: {exc.__class__.__name__}") from exc


@contextlib.contextmanager
def _translated_psycopg() -> Any:
    try:
        yield
    except (psycopg.Error, PoolTimeout) as exc:
        raise StoreError(f"database error: {exc.__class__.__name__}") from exc


def _uncancellable() -> anyio.CancelScope:
    """Statements run to their end once started. A cancellation in the middle of one (a lease
    renewal stopped because its task finished, a request whose client went away) would leave
    the driver connection half-used and dropped unclosed; a statement is milliseconds long, so
    the cancellation waits for it instead."""
    return anyio.CancelScope(shield=True)


DEFAULT_POOL_SIZE = 20


class Database:
    """Owns the connection(s) to one database. Create with `open_database`."""

    def __init__(self, url: str, *, pool_size: int = DEFAULT_POOL_SIZE) -> None:
        self.url = normalise_url(url)
        self._poll_pool: AsyncConnectionPool | None = None
        self.dialect = sa.engine.make_url(self.url).get_backend_name()
        if self.dialect == "sqlite":
            self._sync_engine = _sqlite_engine(self.url)
            self._conn: Connection | None = self._sync_engine.connect()
            self._raw: Any = self._conn.connection.driver_connection
            self._async_engine = None
        else:
            self._sync_engine = sa.create_engine(self.url, poolclass=sa.pool.NullPool)
            self._conn = None
            self._raw = None
            # A pool smaller than the concurrency keeps opening and closing connections under
            # load; the overflow absorbs bursts (VGEN_DATABASE_POOL_SIZE sizes both pools).
            self._async_engine = create_async_engine(
                self.url, pool_size=pool_size, max_overflow=2 * pool_size
            )
            self._poll_pool = AsyncConnectionPool(
                self.libpq_url(),
                min_size=1,
                max_size=pool_size,
                kwargs={"autocommit": True},
                open=False,
            )
            self._poll_pool_lock = asyncio.Lock()
            self._poll_pool_open = False

    def libpq_url(self) -> str:
        """The URL as libpq (psycopg used directly) reads it: without SQLAlchemy's driver."""
        return self.url.replace("postgresql+psycopg://", "postgresql://", 1)

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision (idempotent, safe at every start)."""
        config = Config()
        config.set_main_option("script_location", str(_MIGRATIONS))
        with self._sync_engine.begin() as connection:
            if self.is_sqlite:
                # Serialise concurrent first starts: the second waits, then finds no work.
                connection.exec_driver_sql("SELECT 1")
            else:
                connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7461)")
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    async def fetch_raw_postgres_all(
        self, sql: str, params: Sequence[Any]
    ) -> list[tuple[Any, ...]]:
        """The rows of the hottest read (status polls) on PostgreSQL: psycopg itself, through
        autocommit connections that prepare the statement once, without SQLAlchemy's asyncio
        layer, which costs several times the query."""
        assert self._poll_pool is not None
        if not self._poll_pool_open:
            async with self._poll_pool_lock:
                if not self._poll_pool_open:
                    with _translated_psycopg():
                        await self._poll_pool.open(wait=True)
                    self._poll_pool_open = True
        rows: list[tuple[Any, ...]] = []
        with _translated_psycopg(), _uncancellable():
            async with self._poll_pool.connection() as conn:
                cursor = await conn.execute(sql, params, prepare=True)
                rows = await cursor.fetchall()
        return rows

    def raw_sqlite(self) -> Any:
        """The DB-API sqlite3 connection, for the hottest read path only."""
        return self._raw

    async def fetch_one(
        self, stmt: Executable, params: Mapping[str, Any] | None = None
    ) -> RowMapping | None:
        rows = await self.fetch_all(stmt, params)
        return rows[0] if rows else None

    async def fetch_all(
        self, stmt: Executable, params: Mapping[str, Any] | None = None
    ) -> Sequence[RowMapping]:
        """The rows of one statement run on its own (a read, or a write with RETURNING),
        outside any explicit transaction: atomic by itself."""
        if self._conn is not None:
            with _translated():
                rows = self._conn.execute(stmt, params).mappings().all()
                self._conn.commit()
                return rows
        assert self._async_engine is not None
        found: Sequence[RowMapping] = ()
        with _translated(), _uncancellable():
            async with self._async_engine.connect() as conn:
                # Autocommit: a lone statement needs no BEGIN/COMMIT round trips.
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                found = (await conn.execute(stmt, params)).mappings().all()
        return found

    async def execute(self, stmt: Executable, params: Mapping[str, Any] | None = None) -> int:
        """One statement on its own (atomic by itself); the number of rows it touched."""
        if self._conn is not None:
            async with self.transaction() as tx:
                return await tx.execute(stmt, params)
        assert self._async_engine is not None
        count = 0
        with _translated(), _uncancellable():
            async with self._async_engine.connect() as conn:
                # Autocommit, as in `fetch_all`: half the cost of BEGIN + statement + COMMIT.
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                count = (await conn.execute(stmt, params)).rowcount
        return count

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Executor]:
        """A transaction; on SQLite the caller must not await anything but its statements."""
        if self._conn is not None:
            with _translated(), self._conn.begin():
                yield _SyncExecutor(self._conn)
            return
        assert self._async_engine is not None
        with _translated(), _uncancellable():
            async with self._async_engine.begin() as conn:
                yield _AsyncExecutor(conn)

    async def close(self) -> None:
        if self._poll_pool is not None and self._poll_pool_open:
            await self._poll_pool.close()
        if self._conn is not None:
            self._conn.close()
        if self._async_engine is not None:
            await self._async_engine.dispose()
        self._sync_engine.dispose()


class _SyncExecutor:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def fetch_one(
        self, stmt: Executable, params: Mapping[str, Any] | None = None
    ) -> RowMapping | None:
        return self._conn.execute(stmt, params).mappings().first()

    async def fetch_all(
        self, stmt: Executable, params: Mapping[str, Any] | None = None
    ) -> Sequence[RowMapping]:
        return self._conn.execute(stmt, params).mappings().all()

    async def execute(self, stmt: Executable, params: Mapping[str, Any] | None = None) -> int:
        return self._conn.execute(stmt, params).rowcount


class _AsyncExecutor:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def fetch_one(
        self, stmt: Executable, params: Mapping[str, Any] | None = None
    ) -> RowMapping | None:
        return (await self._conn.execute(stmt, params)).mappings().first()

    async def fetch_all(
        self, stmt: Executable, params: Mapping[str, Any] | None = None
    ) -> Sequence[RowMapping]:
        return (await self._conn.execute(stmt, params)).mappings().all()

    async def execute(self, stmt: Executable, params: Mapping[str, Any] | None = None) -> int:
        return (await self._conn.execute(stmt, params)).rowcount


def _sqlite_engine(url: str) -> sa.Engine:
    path = sa.engine.make_url(url).database
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(
        url, connect_args={"check_same_thread": False}, poolclass=sa.pool.NullPool
    )

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        # WAL lets readers (API) and the writer (worker, another process) proceed together.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.close()

    return engine


def open_database(
    url: str, *, migrate: bool = True, pool_size: int = DEFAULT_POOL_SIZE
) -> Database:
    database = Database(url, pool_size=pool_size)
    if migrate:
        database.migrate()
    return database
