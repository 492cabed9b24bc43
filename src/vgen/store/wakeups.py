"""`RunnableTaskListener`: wakes a worker the moment PostgreSQL announces a claimable task
(`NOTIFY vgen_runnable`, sent by a trigger from whichever process made the task claimable).

Invariant: a notification is only a hint. The worker still claims by compare-and-swap and keeps
a slow idle poll, so a lost connection or a missed notification delays work, never loses it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import anyio
import psycopg

log = logging.getLogger(__name__)

CHANNEL = "vgen_runnable"


class RunnableTaskListener:
    """Calls `on_wake(engine)` for each announced task ("" for the look after (re)connecting)."""

    def __init__(
        self, conninfo: str, *, on_wake: Callable[[str], None], reconnect_s: float = 1.0
    ) -> None:
        self._conninfo = conninfo
        self._on_wake = on_wake
        self._reconnect_s = reconnect_s

    async def run(self) -> None:
        """Listen until cancelled, reconnecting after a lost connection."""
        while True:
            try:
                await self._listen()
            except (psycopg.Error, OSError) as exc:
                log.warning("task wake-ups lost (%s); reconnecting", exc.__class__.__name__)
            await anyio.sleep(self._reconnect_s)

    async def _listen(self) -> None:
        conn = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True)
        try:
            await conn.execute(f"LISTEN {CHANNEL}")
            log.info("listening for runnable tasks")
            # Whatever became claimable while nobody listened is found by one look now.
            self._on_wake("")
            async for notification in conn.notifies():
                self._on_wake(notification.payload)  # the engine target of the task
        finally:
            # Not `async with`: its exit awaits a rollback first, which a cancellation (the
            # usual way this ends) interrupts again, and the connection would be dropped open.
            with anyio.CancelScope(shield=True):
                await conn.close()
