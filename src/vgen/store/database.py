"""One way to run SQLAlchemy Core statements on SQLite or PostgreSQL from async code.

SQLite runs in-process on the event loop thread: a primary-key read costs microseconds, far less
than a hop to a worker thread would (this is what keeps status polling fast). Every write is a
single compare-and-swap statement, so no transaction ever spans an `await` on SQLite.
PostgreSQL runs the same Core statements on psycopg 3 directly, through one pool of autocommit
connections (`postgres_statements` renders them with SQLAlchemy's compiled cache): SQLAlchemy's
asyncio layer cost a worker ~1 ms of CPU per statement, a fifth of a poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, cast

import anyio
import psycopg
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from sqlalchemy.engine import Connection
from sqlalchemy.sql import Executable

from vgen.domain.errors import StoreError
from vgen.store.postgres_statements import PostgresStatements

_MIGRATIONS = Path(__file__).parent / "migrations"
log = logging.getLogger(__name__)


# A result row by column name (SQLAlchemy's RowMapping on SQLite, a dict on PostgreSQL).
Row = Mapping[str, Any]


class Executor(Protocol):
    """What repositories use: run one statement and get rows or a row count."""

    async def fetch_one(
        self, stmt: Executable, params: Mapping[str, Any] | None = None
    ) -> Row | None: ...

    async def fetch_all(
        self, stmt: Executable, params: Mapping[str, Any] | None = None
    ) -> Sequence[Row]: ...

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
    except psycopg.IntegrityError as exc:
        # Callers tell a lost race (a unique key) from a fault by SQLAlchemy's exception,
        # whichever driver path ran the statement.
        raise sa.exc.IntegrityError(None, None, exc) from exc
    except (psycopg.Error, PoolTimeout) as exc:
        raise StoreError(f"database error: {exc.__class__.__name__}") from exc


def _uncancellable() -> anyio.CancelScope:
    """Statements run to their end once started. A cancellation in the middle of one (a lease
    renewal stopped because its task finished, a request whose client went away) would leave
    the driver connection half-used and dropped unclosed; a statement is milliseconds long, so
    the cancellation waits for it instead."""
    return anyio.CancelScope(shield=True)


DEFAULT_POOL_SIZE = 20
# How long a statement waits for a connection (a free one, or PostgreSQL coming back) before it
# fails with `StoreError` (the API answers 503; the worker retries later).
DEFAULT_CONNECT_TIMEOUT_S = 30.0


class Database:
    """Owns the connection(s) to one database. Create with `open_database`."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = DEFAULT_POOL_SIZE,
        connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
    ) -> None:
        self.url = normalise_url(url)
        self._connect_timeout_s = connect_timeout_s
        self.dialect = sa.engine.make_url(self.url).get_backend_name()
        self._pool: AsyncConnectionPool | None = None
        if self.dialect == "sqlite":
            self._sync_engine = _sqlite_engine(self.url)
            self._conn: Connection | None = self._sync_engine.connect()
            self._raw: Any = self._conn.connection.driver_connection
        else:
            # Migrations only; statements at run time go through the pool below.
            self._sync_engine = sa.create_engine(self.url, poolclass=sa.pool.NullPool)
            self._conn = None
            self._raw = None
            self._statements = PostgresStatements(self._sync_engine.dialect)
            # Opened on first use (inside the event loop); up to `pool_size` connections, the
            # first kept open. A statement waits for a free connection beyond that.
            self._pool = AsyncConnectionPool(
                self.libpq_url(),
                min_size=1,
                max_size=pool_size,
                kwargs={"autocommit": True},
                timeout=connect_timeout_s,
                open=False,
            )
            self._pool_lock = asyncio.Lock()
            self._pool_open = False

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
            if not self.is_sqlite:
                _warn_without_autovacuum(connection)

    async def _postgres_pool(self) -> AsyncConnectionPool:
        assert self._pool is not None
        if not self._pool_open:
            async with self._pool_lock:
                if not self._pool_open:
                    with _translated_psycopg():
                        await self._pool.open(wait=True, timeout=self._connect_timeout_s)
                    self._pool_open = True
        return self._pool

    @contextlib.asynccontextmanager
    async def _postgres_connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """A pooled autocommit connection, its driver errors translated, uncancellable."""
        pool = await self._postgres_pool()
        with _translated_psycopg(), _uncancellable():
            async with pool.connection() as conn:
                yield conn

    async def fetch_raw_postgres_all(
        self, sql: str, params: Sequence[Any]
    ) -> list[tuple[Any, ...]]:
        """The rows of hand-written SQL on PostgreSQL (the status poll's batched read),
        prepared once per connection."""
        async with self._postgres_connection() as conn:
            cursor = await conn.execute(sql, params, prepare=True)
            return await cursor.fetchall()

    def raw_sqlite(self) -> Any:
        """The DB-API sqlite3 connection, for the hottest read path only."""
        return self._raw

    async def fetch_one(
        self, stmt: Executable, params: Mapping[str, Any] | None = None
    ) -> Row | None:
        rows = await self.fetch_all(stmt, params)
        return rows[0] if rows else None

    async def fetch_all(
        self, stmt: Executable, params: Mapping[str, Any] | None = None
    ) -> Sequence[Row]:
        """The rows of one statement run on its own (a read, or a write with RETURNING),
        outside any explicit transaction: atomic by itself."""
        if self._conn is not None:
            with _translated():
                rows = self._conn.execute(stmt, params).mappings().all()
                self._conn.commit()
                return cast(Sequence[Row], rows)
        # Autocommit: a lone statement needs no BEGIN/COMMIT round trips.
        async with self._postgres_connection() as conn:
            return await _PostgresExecutor(conn, self._statements).fetch_all(stmt, params)

    async def execute(self, stmt: Executable, params: Mapping[str, Any] | None = None) -> int:
        """One statement on its own (atomic by itself); the number of rows it touched."""
        if self._conn is not None:
            async with self.transaction() as tx:
                return await tx.execute(stmt, params)
        async with self._postgres_connection() as conn:
            return await _PostgresExecutor(conn, self._statements).execute(stmt, params)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Executor]:
        """A transaction; on SQLite the caller must not await anything but its statements."""
        if self._conn is not None:
            with _translated(), self._conn.begin():
                yield _SyncExecutor(self._conn)
            return
        async with self._postgres_connection() as conn, conn.transaction():
            yield _PostgresExecutor(conn, self._statements)

    async def close(self) -> None:
        if self._pool is not None and self._pool_open:
            await self._pool.close()
        if self._conn is not None:
            self._conn.close()
        self._sync_engine.dispose()


class _SyncExecutor:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def fetch_one(
        self, stmt: Executable, params: Mapping[str, Any] | None = None
    ) -> Row | None:
        return cast(Row | None, self._conn.execute(stmt, params).mappings().first())

    async def fetch_all(
        self, stmt: Executable, params: Mapping[str, Any] | None = None
    ) -> Sequence[Row]:
        return cast(Sequence[Row], self._conn.execute(stmt, params).mappings().all())

    async def execute(self, stmt: Executable, params: Mapping[str, Any] | None = None) -> int:
        return self._conn.execute(stmt, params).rowcount


class _PostgresExecutor:
    """Statements on one psycopg connection (autocommit, or inside its transaction)."""

    def __init__(self, conn: psycopg.AsyncConnection[Any], statements: PostgresStatements) -> None:
        self._conn, self._statements = conn, statements

    async def fetch_one(
        self, stmt: Executable, params: Mapping[str, Any] | None = None
    ) -> Row | None:
        rows = await self.fetch_all(stmt, params)
        return rows[0] if rows else None

    async def fetch_all(
        self, stmt: Executable, params: Mapping[str, Any] | None = None
    ) -> Sequence[Row]:
        sql, bound = self._statements.render(stmt, params)
        async with self._conn.cursor(row_factory=dict_row) as cursor:
            await cursor.execute(sql, bound)
            return await cursor.fetchall() if cursor.description is not None else []

    async def execute(self, stmt: Executable, params: Mapping[str, Any] | None = None) -> int:
        sql, bound = self._statements.render(stmt, params)
        async with self._conn.cursor() as cursor:
            await cursor.execute(sql, bound)
            return cursor.rowcount


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


AUTOVACUUM_OFF_WARNING = (
    "PostgreSQL runs with autovacuum = off: the task queue's dead row versions and planner "
    "statistics are never renewed, so claiming work gets slower as tasks churn (a poll "
    "rewrites its task's row). Turn autovacuum on (the default) or VACUUM ANALYZE tasks "
    "regularly; see docs/deploy.md"
)


def _warn_without_autovacuum(connection: Connection) -> None:
    """Every poll rewrites its task's row: without (auto)vacuum the queue's index fills with
    dead entries and its statistics go stale, and a claim that walked one index entry in
    milliseconds plans a bitmap scan of all of them (25 ms of server CPU each at 10,000 tasks
    in flight). vgen cannot fix the server's settings; it says so at every start."""
    setting = connection.exec_driver_sql("SHOW autovacuum").scalar()
    if setting != "on":
        log.warning(AUTOVACUUM_OFF_WARNING)


def open_database(
    url: str, *, migrate: bool = True, pool_size: int = DEFAULT_POOL_SIZE
) -> Database:
    database = Database(url, pool_size=pool_size)
    if migrate:
        database.migrate()
    return database
