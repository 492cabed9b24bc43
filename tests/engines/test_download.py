"""`download_video` against a live loopback server: the file written is byte for byte what was
served, whether it came in one piece, over several flushes, after cuts resumed with `Range`, or
from a server that ignores `Range` and sends everything again."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.fakes.streaming import video_response
from tests.support import ThreadedUvicorn
from vgen.domain.errors import UpstreamUnavailable
from vgen.engines.download import download_video

pytestmark = pytest.mark.anyio


class VideoServer:
    """Serves `video` at `/video.mp4`, cutting the first `cuts` responses after `cut_after`
    bytes; with `honour_range` off, a ranged request gets the whole video with a 200."""

    def __init__(self, video: bytes) -> None:
        self.video = video
        self.cut_after: int | None = None
        self.cuts = 0
        self.honour_range = True
        self.status = 200
        self.ranges: list[str | None] = []

    def app(self) -> Starlette:
        async def video(request: Request) -> Response:
            range_header = request.headers.get("range")
            self.ranges.append(range_header)
            if self.status != 200:
                return Response(status_code=self.status)
            cut = self.cut_after if self.cuts > 0 else None
            self.cuts -= 1
            return video_response(
                self.video, range_header if self.honour_range else None, cut_after=cut
            )

        return Starlette(routes=[Route("/video.mp4", video)])


@pytest.fixture
def big_video() -> bytes:
    # Over two flush thresholds (1 MiB each), and not a multiple of any chunk size.
    return os.urandom(2 * 1024 * 1024 + 12345)


@pytest.fixture
def served(big_video: bytes) -> Iterator[tuple[VideoServer, str]]:
    server = VideoServer(big_video)
    uvicorn = ThreadedUvicorn(server.app(), lifespan="off")
    try:
        yield server, f"{uvicorn.url}/video.mp4"
    finally:
        uvicorn.stop()


async def fetch(url: str, target: Path) -> int:
    async with httpx.AsyncClient(timeout=30) as client:
        return await download_video(client, url, target)


async def test_a_video_larger_than_the_flush_size_is_written_whole(
    served: tuple[VideoServer, str], big_video: bytes, tmp_path: Path
) -> None:
    server, url = served
    target = tmp_path / "video.mp4"
    assert await fetch(url, target) == len(big_video)
    assert target.read_bytes() == big_video
    assert server.ranges == [None]


async def test_a_small_video_is_written_whole(tmp_path: Path) -> None:
    server = VideoServer(b"tiny mp4 bytes" * 100)
    uvicorn = ThreadedUvicorn(server.app(), lifespan="off")
    try:
        target = tmp_path / "video.mp4"
        assert await fetch(f"{uvicorn.url}/video.mp4", target) == 1400
        assert target.read_bytes() == server.video
    finally:
        uvicorn.stop()


async def test_cut_downloads_resume_where_they_broke_off(
    served: tuple[VideoServer, str], big_video: bytes, tmp_path: Path
) -> None:
    server, url = served
    # Cut twice: once before the first flush, once after it (bytes written and bytes gathered).
    server.cut_after, server.cuts = 700_000, 2
    target = tmp_path / "video.mp4"
    assert await fetch(url, target) == len(big_video)
    assert target.read_bytes() == big_video
    assert server.ranges == [None, "bytes=700000-", "bytes=1400000-"]


async def test_a_server_that_ignores_range_starts_the_file_over(
    served: tuple[VideoServer, str], big_video: bytes, tmp_path: Path
) -> None:
    server, url = served
    # Cut after more than one flush, so bytes already on disk must go too.
    server.cut_after, server.cuts, server.honour_range = 1_500_000, 1, False
    target = tmp_path / "video.mp4"
    assert await fetch(url, target) == len(big_video)
    assert target.read_bytes() == big_video
    assert server.ranges == [None, "bytes=1500000-"]


async def test_a_download_that_keeps_breaking_off_gives_up(
    served: tuple[VideoServer, str], tmp_path: Path
) -> None:
    server, url = served
    server.cut_after, server.cuts, server.honour_range = 100_000, 100, False
    with pytest.raises(UpstreamUnavailable, match="kept breaking off"):
        await fetch(url, tmp_path / "video.mp4")


async def test_an_error_status_is_an_upstream_fault(
    served: tuple[VideoServer, str], tmp_path: Path
) -> None:
    server, url = served
    server.status = 503
    with pytest.raises(UpstreamUnavailable, match="HTTP 503"):
        await fetch(url, tmp_path / "video.mp4")
