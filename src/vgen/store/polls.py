"""The status poll's read: the caller's key and the task it asks about, in one statement.

Polling is the hottest request; reading the (unrevoked) key and the task together costs one
round trip instead of two, while still checking the key on every request.
"""

from __future__ import annotations

import functools
import hmac
from typing import Any

from vgen.domain.keys import ApiKey
from vgen.domain.tasks import TaskStatus
from vgen.store.database import Database
from vgen.store.keys import KEY_COLUMNS, hash_secret, row_to_key
from vgen.store.poll_batches import PollBatcher
from vgen.store.tasks import STATUS_COLUMNS, status_from_values

_KEYS = len(KEY_COLUMNS)
_SECRET_HASH = KEY_COLUMNS.index("secret_hash")
_SQL = (
    f"SELECT {', '.join('k.' + c for c in KEY_COLUMNS)}, "
    f"{', '.join('t.' + c for c in STATUS_COLUMNS)} "
    "FROM api_keys AS k LEFT JOIN tasks AS t ON t.id = ? AND t.tenant_id = k.tenant_id "
    "WHERE k.secret_hash = ? AND k.revoked_at IS NULL"
)


class PollReader:
    def __init__(self, database: Database) -> None:
        self._db = database
        self._batches = PollBatcher(database)

    async def key_and_status(
        self, secret: str, task_id: str
    ) -> tuple[ApiKey | None, TaskStatus | None]:
        """The active key of `secret` (None if unknown or revoked) and, if that key's tenant
        owns it, the status of `task_id`."""
        digest = hash_secret(secret)
        values: tuple[Any, ...] | None
        if self._db.is_sqlite:
            values = self._db.raw_sqlite().execute(_SQL, (task_id, digest)).fetchone()
        else:
            values = await self._batches.key_and_status_row(task_id, digest)
        if values is None:
            return None, None
        key_values = tuple(values[:_KEYS])
        if not hmac.compare_digest(key_values[_SECRET_HASH], digest):
            return None, None
        status = values[_KEYS:]
        return _key_of(key_values), status_from_values(status) if status[0] else None


@functools.lru_cache(maxsize=1024)
def _key_of(values: tuple[Any, ...]) -> ApiKey:
    """The `ApiKey` of a key row's values. Memoised on the values themselves, so a key whose row
    changes (limits, revocation) is built afresh; a poll reads the row every time regardless."""
    return row_to_key(dict(zip(KEY_COLUMNS, values, strict=True)))
