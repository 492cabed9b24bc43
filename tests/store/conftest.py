"""The store under test: SQLite always, PostgreSQL too when VGEN_TEST_DATABASE_URL is set."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from vgen.store.store import Store


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = Store.open(database_url)
    yield opened
    await opened.close()
