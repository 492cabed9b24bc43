"""Engine-test fixtures: the fake reseller (the upstream MP4 it serves is in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.reseller import ResellerFake
from tests.support import ThreadedUvicorn


@pytest.fixture
def reseller(upstream_mp4: bytes) -> Iterator[ResellerFake]:
    """A fake reseller (the Veo task dialect) on loopback, serving `upstream_mp4`."""
    fake = ResellerFake(video=upstream_mp4)
    server = ThreadedUvicorn(fake.app(), lifespan="off")
    fake.base_url = server.url
    yield fake
    server.stop()
