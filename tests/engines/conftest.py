"""Engine-test fixtures shared by every fake provider."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.reseller import ResellerFake
from tests.support import ThreadedUvicorn
from vgen.media.renderer import RenderJob, render_video


@pytest.fixture(scope="session")
def upstream_mp4(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A real (short) MP4 for fake providers to serve: vgen probes what it downloads."""
    path = tmp_path_factory.mktemp("upstream") / "clip.mp4"
    render_video(RenderJob(str(path), 640, 360, "upstream clip", duration_s=2))
    return path.read_bytes()


@pytest.fixture
def reseller(upstream_mp4: bytes) -> Iterator[ResellerFake]:
    """A fake reseller (the Veo task dialect) on loopback, serving `upstream_mp4`."""
    fake = ResellerFake(video=upstream_mp4)
    server = ThreadedUvicorn(fake.app(), lifespan="off")
    fake.base_url = server.url
    yield fake
    server.stop()
