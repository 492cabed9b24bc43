"""API.md §2 end to end through the official `openai` SDK against a live vgen with its local
engine: create (multipart and JSON), poll, retrieve, list, download the video and its
thumbnail, delete — sync and async clients alike."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import openai
import pytest
from openai.types import Video
from PIL import Image

from tests.api.sdk import SORA_DEPRECATION, async_openai_client, openai_client
from tests.api.test_tenancy_and_idempotency import make_key
from tests.conftest import wait_for
from tests.images import data_url, scene_image
from tests.support import LiveServer
from tests.video import decode_mp4
from vgen.config import Settings

pytestmark = pytest.mark.filterwarnings(SORA_DEPRECATION)

# A short clip model, so renders stay quick; omitted `seconds` takes its default (the shortest).
CLIP_MODEL = """
[[models]]
name = "vgen_clip"
description = "short clips for tests"
resolutions = ["720p"]
durations = [2, 4]
"""

VIDEO_FIELDS = {
    "id", "object", "model", "status", "progress", "created_at", "completed_at", "expires_at",
    "seconds", "size", "prompt", "error", "remixed_from_video_id", "queue_position", "eta_seconds",
}  # fmt: skip


@pytest.fixture
def clip_server(
    settings: Settings, make_server: Callable[..., LiveServer], tmp_path: Path
) -> LiveServer:
    config = tmp_path / "vgen.toml"
    config.write_text(CLIP_MODEL)
    return make_server(settings.model_copy(update={"config": config}))


def _mean_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def _archived_files(server: LiveServer, video_id: str) -> list[Path]:
    folder = server.settings.data_dir / "archive" / "videos" / video_id
    return sorted(folder.iterdir()) if folder.exists() else []


def test_sdk_video_goes_queued_in_progress_completed_with_defaults(
    clip_server: LiveServer,
) -> None:
    with openai_client(clip_server) as client:
        video = client.videos.create(prompt="a lighthouse at dusk")
        # Defaults: the first Veo model, its default duration, 16:9 720p.
        assert (video.status, video.model, video.seconds, video.size) == (
            "queued",
            "veo_3_1_fast",
            "8",
            "1280x720",
        )
        assert video.id.startswith("vgen_") and video.prompt == "a lighthouse at dusk"
        statuses: list[str] = []
        responses = []

        def is_done() -> bool:
            raw = client.videos.with_raw_response.retrieve(video.id)
            responses.append(raw)
            body = raw.http_response.json()
            assert set(body) == VIDEO_FIELDS and isinstance(body["created_at"], int)
            statuses.append(body["status"])
            if body["status"] in ("completed", "failed"):
                return True
            assert int(raw.headers["openai-poll-after-ms"]) > 0
            return False

        wait_for(is_done, timeout_s=120, message=f"video {video.id} to finish")
        raw = responses[-1]
        assert set(statuses) <= {"queued", "in_progress", "completed"}, statuses
        assert "in_progress" in statuses and statuses[-1] == "completed", statuses
        assert "openai-poll-after-ms" not in raw.headers
        done = raw.parse()
        assert done.progress == 100 and done.error is None
        assert isinstance(done.completed_at, int) and done.completed_at >= done.created_at
        assert isinstance(done.expires_at, int) and done.expires_at > time.time()

        mp4 = client.videos.download_content(video.id).content
        decoded = decode_mp4(mp4)
        assert (decoded.codec, decoded.width, decoded.height, decoded.frames) == (
            "h264",
            1280,
            720,
            192,
        )
        jpeg = client.videos.download_content(video.id, variant="thumbnail").content
        thumbnail = Image.open(io.BytesIO(jpeg))
        assert thumbnail.format == "JPEG" and thumbnail.size == (1280, 720)
        assert _mean_abs_diff(np.asarray(thumbnail.convert("RGB")), decoded.first) < 6

    with clip_server.client() as http:
        # The content streams from the archive and honours Range.
        part = http.get(f"/v1/videos/{video.id}/content", headers={"Range": "bytes=0-99"})
        assert part.status_code == 206 and part.content == mp4[:100]
        assert part.headers["content-range"] == f"bytes 0-99/{len(mp4)}"
        # The Veo dialect reads the same task.
        veo = http.get(f"/v1/result/{video.id}").json()
        assert veo["status"] == "completed" and veo["model"] == "veo_3_1_fast"
        assert veo["actualDuration"] == 8 and httpx.get(veo["video_url"]).content == mp4


def test_multipart_input_reference_is_the_first_frame(clip_server: LiveServer) -> None:
    image = scene_image(720, 1280, shift=40)
    with openai_client(clip_server) as client:
        video = client.videos.create_and_poll(
            model="vgen_clip",
            prompt="the square drifts",
            size="720x1280",
            input_reference=("scene.png", image, "image/png"),
            poll_interval_ms=100,
        )
        assert video.status == "completed", video.error
        assert (video.seconds, video.size) == ("2", "720x1280")  # the model's default duration
        decoded = decode_mp4(client.videos.download_content(video.id).content)
        jpeg = client.videos.download_content(video.id, variant="thumbnail").content
    pixels = np.asarray(Image.open(io.BytesIO(image)).convert("RGB"))
    assert (decoded.width, decoded.height, decoded.frames) == (720, 1280, 48)
    assert _mean_abs_diff(decoded.first, pixels) < 8
    thumbnail = np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"))
    assert _mean_abs_diff(thumbnail, pixels) < 10


def test_json_create_with_an_image_url_reference(clip_server: LiveServer) -> None:
    image = scene_image(1280, 720, shift=200)
    with openai_client(clip_server) as client:
        # The SDK's `videos.create` always sends multipart; its generic `post` sends JSON.
        created = client.post(
            "/videos",
            cast_to=Video,
            body={
                "model": "vgen_clip",
                "prompt": "still water",
                "seconds": "4",
                "input_reference": {"image_url": data_url(image)},
            },
        )
        assert created.status == "queued" and created.seconds == "4"
        video = client.videos.poll(created.id, poll_interval_ms=100)
        assert video.status == "completed", video.error
        decoded = decode_mp4(client.videos.download_content(video.id).content)
    pixels = np.asarray(Image.open(io.BytesIO(image)).convert("RGB"))
    assert decoded.frames == 96 and _mean_abs_diff(decoded.first, pixels) < 8


def test_async_client_creates_lists_downloads_and_deletes(clip_server: LiveServer) -> None:
    async def scenario() -> None:
        async with async_openai_client(clip_server) as client:
            video = await client.videos.create_and_poll(
                model="vgen_clip", prompt="async waves", seconds="4", poll_interval_ms=100
            )
            assert video.status == "completed" and video.seconds == "4"
            assert (await client.videos.retrieve(video.id)).status == "completed"
            listed = [v.id async for v in client.videos.list(limit=1)]
            assert listed == [video.id]
            mp4 = await client.videos.download_content(video.id)
            assert decode_mp4(mp4.content).frames == 96
            jpeg = await client.videos.download_content(video.id, variant="thumbnail")
            assert Image.open(io.BytesIO(jpeg.content)).format == "JPEG"
            deleted = await client.videos.delete(video.id)
            assert (deleted.id, deleted.object, deleted.deleted) == (
                video.id,
                "video.deleted",
                True,
            )
            with pytest.raises(openai.NotFoundError):
                await client.videos.retrieve(video.id)

    asyncio.run(scenario())


def test_delete_removes_the_video_for_both_dialects_and_its_files(
    clip_server: LiveServer,
) -> None:
    alice, bob = make_key(clip_server, "alice"), make_key(clip_server, "bob")
    with openai_client(clip_server, alice) as a, openai_client(clip_server, bob) as b:
        video = a.videos.create_and_poll(model="vgen_clip", prompt="gone", poll_interval_ms=100)
        assert video.status == "completed"
        a.videos.download_content(video.id, variant="thumbnail")  # now cached beside the video
        files = _archived_files(clip_server, video.id)
        assert {f.suffix for f in files} == {".mp4", ".jpg"}

        with pytest.raises(openai.NotFoundError):  # another tenant's id answers like no id
            b.videos.delete(video.id)
        assert a.videos.retrieve(video.id).status == "completed"

        deleted = a.videos.delete(video.id)
        assert (deleted.id, deleted.object, deleted.deleted) == (video.id, "video.deleted", True)
        with pytest.raises(openai.NotFoundError):
            a.videos.retrieve(video.id)
        with pytest.raises(openai.NotFoundError):
            a.videos.download_content(video.id)
        with pytest.raises(openai.NotFoundError):
            a.videos.delete(video.id)
    with clip_server.client(alice) as http:
        assert http.get(f"/v1/result/{video.id}").status_code == 404
        assert all(t["id"] != video.id for t in http.get("/v1/veo/videos").json()["data"])
    assert _archived_files(clip_server, video.id) == []


def test_deleting_a_running_video_drops_it(clip_server: LiveServer) -> None:
    with openai_client(clip_server) as client:
        video = client.videos.create(prompt="interrupted")
        wait_for(
            lambda: client.videos.retrieve(video.id).status == "in_progress",
            message="the render to start",
        )
        assert client.videos.delete(video.id).deleted is True
        with pytest.raises(openai.NotFoundError):
            client.videos.retrieve(video.id)
        # The worker goes on serving others, and keeps nothing of the dropped render.
        after = client.videos.create_and_poll(
            model="vgen_clip", prompt="next", poll_interval_ms=100
        )
        assert after.status == "completed"
        wait_for(
            lambda: _archived_files(clip_server, video.id) == [],
            message="no archived files of the deleted video",
        )
        assert [v.id for v in client.videos.list()] == [after.id]
