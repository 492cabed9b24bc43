"""Shared fixtures: the async backend; more are added as the suite grows."""

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
