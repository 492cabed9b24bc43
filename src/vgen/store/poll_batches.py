"""`PollBatcher`: status polls on PostgreSQL coalesced into one statement per round trip.

A poll's read costs far more in the client library's per-statement machinery than in the
database, so while one batch is in flight the polls that arrive meanwhile wait for the next
(no timer: a lone poll goes out at once). Each poll still checks its own key: the statement
joins every (task id, key digest) pair of the batch with the unrevoked keys.

Invariant: every caller gets the answer to its own pair, or the batch's error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from vgen.store.database import Database
from vgen.store.tasks import STATUS_COLUMNS

MAX_BATCH = 128
# What a poll reads: of the key, what admitting the caller needs; of the task, its status but
# the id (the caller named it). Each column costs a poll on SQLite ~1 µs (the driver converts
# it and hands the GIL back and forth), so the row is no wider than this.
POLL_KEY_COLUMNS = ("id", "rate_per_minute", "secret_hash")
POLL_STATUS_COLUMNS = tuple(column for column in STATUS_COLUMNS if column != "id")
_SQL = (
    f"SELECT r.ord, {', '.join('k.' + c for c in POLL_KEY_COLUMNS)}, "
    f"{', '.join('t.' + c for c in POLL_STATUS_COLUMNS)} "
    "FROM unnest(%s::text[], %s::text[]) WITH ORDINALITY AS r(task_id, digest, ord) "
    "JOIN api_keys AS k ON k.secret_hash = r.digest AND k.revoked_at IS NULL "
    "LEFT JOIN tasks AS t ON t.id = r.task_id AND t.tenant_id = k.tenant_id"
)

Row = tuple[Any, ...]
_Waiting = tuple[str, str, "asyncio.Future[Row | None]"]


class PollBatcher:
    def __init__(self, database: Database) -> None:
        self._db = database
        self._waiting: list[_Waiting] = []
        self._draining = False
        self._drainer: asyncio.Task[None] | None = None  # held: the loop keeps only weak refs

    async def key_and_status_row(self, task_id: str, digest: str) -> Row | None:
        """The `POLL_KEY_COLUMNS` then the `POLL_STATUS_COLUMNS` (those None when the key's
        tenant has no such task) of the unrevoked key with `digest`, or None for no such key."""
        future: asyncio.Future[Row | None] = asyncio.get_running_loop().create_future()
        self._waiting.append((task_id, digest, future))
        if not self._draining:
            self._draining = True
            self._drainer = asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
                await self._answer(batch)
        finally:
            self._draining = False

    async def _answer(self, batch: Sequence[_Waiting]) -> None:
        try:
            rows = await self._db.fetch_raw_postgres_all(
                _SQL, ([task_id for task_id, _, _ in batch], [digest for _, digest, _ in batch])
            )
        except Exception as exc:  # noqa: BLE001 - every waiting poll gets the batch's error
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        found = {int(row[0]) - 1: tuple(row[1:]) for row in rows}
        for index, (_, _, future) in enumerate(batch):
            if not future.done():  # a poll whose client went away is cancelled already
                future.set_result(found.get(index))
