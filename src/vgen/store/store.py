"""`Store`: the repositories over one database, opened and closed together."""

from __future__ import annotations

from collections.abc import Callable

from vgen.store.database import DEFAULT_POOL_SIZE, Database, open_database
from vgen.store.durations import DurationHistory
from vgen.store.files import FileRepository
from vgen.store.keys import KeyRepository
from vgen.store.outbox import OutboxRepository
from vgen.store.polls import PollReader
from vgen.store.queue import TaskQueue
from vgen.store.queue_positions import QueuePositions
from vgen.store.retention import RetentionRepository
from vgen.store.tasks import TaskRepository
from vgen.store.upstream_cancels import UpstreamCancelRepository
from vgen.store.usage import UsageRepository
from vgen.store.wakeups import RunnableTaskListener


class Store:
    def __init__(self, database: Database) -> None:
        self.database = database
        self.tasks = TaskRepository(database)
        self.queue = TaskQueue(database)
        self.keys = KeyRepository(database)
        self.files = FileRepository(database)
        self.retention = RetentionRepository(database)
        self.outbox = OutboxRepository(database)
        self.usage = UsageRepository(database)
        self.polls = PollReader(database)
        self.upstream_cancels = UpstreamCancelRepository(database)
        self.durations = DurationHistory(database)
        self.queue_positions = QueuePositions(database)

    @classmethod
    def open(cls, url: str, *, pool_size: int = DEFAULT_POOL_SIZE) -> Store:
        """Connect and migrate to the newest schema; `pool_size` connections per pool
        (PostgreSQL)."""
        return cls(open_database(url, pool_size=pool_size))

    def runnable_listener(self, on_wake: Callable[[str], None]) -> RunnableTaskListener | None:
        """Wake-ups from other processes when a task becomes claimable (PostgreSQL only)."""
        if self.database.is_sqlite:
            return None
        return RunnableTaskListener(self.database.libpq_url(), on_wake=on_wake)

    async def close(self) -> None:
        await self.database.close()
