"""The status poll's read: the caller's key and the task it asks about, in one statement.

Polling is the hottest request; reading the (unrevoked) key and the task together costs one
round trip instead of two, while still checking the key on every request. The row holds no more
than a poll uses (`POLL_KEY_COLUMNS`, `POLL_STATUS_COLUMNS`): on SQLite each column costs a poll
about a microsecond.
"""

from __future__ import annotations

import functools
import hmac
from typing import Any, NamedTuple

from vgen.domain.states import TaskState
from vgen.domain.tasks import TaskStatus
from vgen.store.database import Database
from vgen.store.keys import hash_secret
from vgen.store.poll_batches import POLL_KEY_COLUMNS, POLL_STATUS_COLUMNS, PollBatcher

_KEYS = len(POLL_KEY_COLUMNS)
_SECRET_HASH = POLL_KEY_COLUMNS.index("secret_hash")
_STATE = POLL_STATUS_COLUMNS.index("state")
_SQL = (
    f"SELECT {', '.join('k.' + c for c in POLL_KEY_COLUMNS)}, "
    f"{', '.join('t.' + c for c in POLL_STATUS_COLUMNS)} "
    "FROM api_keys AS k LEFT JOIN tasks AS t ON t.id = ? AND t.tenant_id = k.tenant_id "
    "WHERE k.secret_hash = ? AND k.revoked_at IS NULL"
)
# `TaskState(value)` goes through the enum machinery (~1 µs); a dict lookup does not.
_STATES = {state.value: state for state in TaskState}


class PollCaller(NamedTuple):
    """Who polls, as far as admitting the poll needs: the key's id and its request rate."""

    key_id: str
    rate_per_minute: int | None


class PollReader:
    def __init__(self, database: Database) -> None:
        self._db = database
        self._batches = PollBatcher(database)
        # One cursor for every poll: `connection.execute` would make (and free) one per call.
        # Safe to share: a poll executes and fetches without yielding to the event loop between,
        # and the statement gives at most one row (`secret_hash` is unique, `tasks.id` the key),
        # so `fetchone` runs it to its end and resets it: no read snapshot outlives the poll.
        self._cursor = database.raw_sqlite().cursor() if database.is_sqlite else None

    async def key_and_status(
        self, secret: str, task_id: str
    ) -> tuple[PollCaller | None, TaskStatus | None]:
        """The caller if `secret` is an active key's (None if unknown or revoked) and, if that
        key's tenant owns it, the status of `task_id`."""
        # Not memoised: that would keep callers' plaintext secrets in memory after their poll.
        digest = hash_secret(secret)
        values: tuple[Any, ...] | None
        if self._cursor is not None:
            values = self._cursor.execute(_SQL, (task_id, digest)).fetchone()
        else:
            values = await self._batches.key_and_status_row(task_id, digest)
        if values is None or not hmac.compare_digest(values[_SECRET_HASH], digest):
            return None, None
        caller = PollCaller(values[0], values[1])
        status = values[_KEYS:]
        if status[_STATE] is None:  # the LEFT JOIN found no task of the key's tenant
            return caller, None
        return caller, _status(task_id, status)


@functools.lru_cache(maxsize=4096)
def _status(task_id: str, values: tuple[Any, ...]) -> TaskStatus:
    """The `TaskStatus` of a row's values. Memoised on the values themselves, so a task whose
    row changed is built afresh (the row is read on every poll regardless); polls of an
    unchanged task share one object, which the body memo then finds by identity."""
    model, engine, state, *rest = values
    return TaskStatus(task_id, model, engine, _STATES.get(state) or TaskState(state), *rest)
