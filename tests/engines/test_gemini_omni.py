"""The `gemini_omni` engine against a fake Interactions API (ENGINES.md §1c): one background
interaction per task, polled by id, the video inline, as a URI or as `output_video`, and every
failure translated; end to end with only `VGEN_GEMINI_API_KEY`."""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.test_veo_lifecycle import poll_until_done
from tests.conftest import wait_for
from tests.engines.reporters import RecordingReporter
from tests.fakes.interactions import InteractionsFake
from tests.images import scene_image
from tests.support import HandClock, LiveServer, is_parked, serving
from tests.video import decode_mp4
from vgen.config import Settings
from vgen.domain.catalog import AspectRatio, Resolution
from vgen.domain.errors import ContentFiltered, UpstreamRejected, UpstreamUnavailable
from vgen.domain.requests import VideoRequest
from vgen.engines.base import EngineJob, PollLater
from vgen.engines.gemini_omni import GeminiOmniEngine

KEY = "gemini-secret"


@pytest.fixture
def omni(upstream_mp4: bytes) -> Iterator[InteractionsFake]:
    with serving(InteractionsFake(video=upstream_mp4)) as fake:
        yield fake


@pytest.fixture
async def engine(omni: InteractionsFake) -> AsyncIterator[GeminiOmniEngine]:
    async with httpx.AsyncClient(follow_redirects=True, timeout=5) as client:
        yield GeminiOmniEngine(
            api_key=KEY, client=client, base_url=omni.base_url, first_poll_s=0.5, poll_interval_s=1
        )


def make_job(tmp_path: Path, images: dict[str, Path] | None = None, **request: Any) -> EngineJob:
    fields: dict[str, Any] = {"model": "gemini_omni_flash", "prompt": "a kite", **request}
    return EngineJob("vgen_t1", VideoRequest(**fields), images or {}, tmp_path / "out.mp4")


async def drive(
    engine: GeminiOmniEngine, job: EngineJob, reporter: RecordingReporter
) -> list[PollLater]:
    waits: list[PollLater] = []
    for _ in range(20):
        if reporter.upstream_ids:
            job = dataclasses.replace(job, upstream_id=reporter.upstream_ids[-1])
        step = await engine.advance(job, reporter)
        if step is None:
            return waits
        waits.append(step)
    pytest.fail("the engine did not finish in 20 steps")


@pytest.mark.anyio
@pytest.mark.parametrize("delivery", ["inline", "uri", "output_video"])
async def test_creates_one_background_interaction_and_stores_the_video(
    engine: GeminiOmniEngine,
    omni: InteractionsFake,
    tmp_path: Path,
    upstream_mp4: bytes,
    delivery: str,
) -> None:
    omni.delivery = delivery
    first = scene_image()
    (tmp_path / "a").write_bytes(first)
    job = make_job(
        tmp_path,
        images={"first_image": tmp_path / "a"},
        first_image="asset:a",
        resolution=Resolution.P1080,
        aspect_ratio=AspectRatio.PORTRAIT,
        duration_s=6,
    )
    reporter = RecordingReporter()
    waits = await drive(engine, job, reporter)
    assert waits == [PollLater(0.5), PollLater(1)]
    (create,) = omni.creates
    assert create.headers["x-goog-api-key"] == KEY
    assert create.body == {
        "model": "gemini-omni-flash-preview",
        "input": [
            {"type": "text", "text": "a kite"},
            {"type": "image", "data": base64.b64encode(first).decode(), "mime_type": "image/png"},
        ],
        "response_modalities": ["video"],
        "response_format": {
            "type": "video",
            "aspect_ratio": "9:16",
            "resolution": "1080p",
            "duration": "6s",
        },
        "generation_config": {"video_config": {"task": "image_to_video"}},
        "background": True,
    }
    assert reporter.upstream_ids == ["v1_omni0001"]
    polls = [r for r in omni.requests if r.path == "/v1beta/interactions/v1_omni0001"]
    assert len(polls) == 2
    output = job.output_path.read_bytes()
    assert output == upstream_mp4 and decode_mp4(output).frames == 48
    downloads = [r for r in omni.requests if r.path.startswith("/files/")]
    assert len(downloads) == (1 if delivery == "uri" else 0)


@pytest.mark.anyio
async def test_safety_block_is_content_filtered_and_failures_keep_googles_message(
    engine: GeminiOmniEngine, omni: InteractionsFake, tmp_path: Path
) -> None:
    omni.safety_block = True
    with pytest.raises(ContentFiltered, match="safety policy"):
        await drive(engine, make_job(tmp_path), RecordingReporter())
    omni.safety_block, omni.failure = False, "Internal error while generating the video."
    with pytest.raises(UpstreamRejected, match="Internal error") as caught:
        await drive(engine, make_job(tmp_path), RecordingReporter())
    assert not isinstance(caught.value, ContentFiltered)


@pytest.mark.anyio
async def test_rate_limit_and_5xx_are_transient_and_never_create_twice(
    engine: GeminiOmniEngine, omni: InteractionsFake, tmp_path: Path
) -> None:
    omni.rate_limited = 1
    reporter = RecordingReporter()
    job = make_job(tmp_path)
    with pytest.raises(UpstreamUnavailable) as caught:
        await engine.advance(job, reporter)
    assert caught.value.retry_after_s == 4.0 and reporter.upstream_ids == []
    await engine.advance(job, reporter)
    polling = dataclasses.replace(job, upstream_id=reporter.upstream_ids[0])
    omni.unavailable = 1
    with pytest.raises(UpstreamUnavailable, match="503"):
        await engine.advance(polling, reporter)
    await drive(engine, polling, reporter)
    assert len(omni.creates) == 1 and job.output_path.exists()


@pytest.mark.anyio
async def test_reference_images_ask_for_reference_to_video_and_cancel_reaches_google(
    engine: GeminiOmniEngine, omni: InteractionsFake, tmp_path: Path
) -> None:
    refs = {f"input_reference[{i}]": tmp_path / f"r{i}" for i in range(2)}
    for i, path in enumerate(refs.values()):
        path.write_bytes(scene_image(shift=40 * i))
    reporter = RecordingReporter()
    job = make_job(tmp_path, images=refs, references=("asset:r0", "asset:r1"))
    await engine.advance(job, reporter)
    body = omni.creates[0].body
    assert body["generation_config"] == {"video_config": {"task": "reference_to_video"}}
    assert [block["type"] for block in body["input"]] == ["text", "image", "image"]
    assert await engine.cancel_upstream(reporter.upstream_ids[0]) is True
    assert omni.cancelled == ["v1_omni0001"]


def test_only_the_gemini_key_gives_a_gemini_omni_video(
    settings: Settings,
    make_server: Callable[..., LiveServer],
    omni: InteractionsFake,
    upstream_mp4: bytes,
) -> None:
    omni.polls_until_done = 1
    clock = HandClock()
    server = make_server(
        settings.model_copy(
            update={
                "gemini_api_key": KEY,
                "gemini_base_url": omni.base_url,
                "worker_idle_poll_seconds": 0.05,
            }
        ),
        clock=clock,
    )
    with server.client() as api:
        body = {"model": "gemini_omni_flash", "prompt": "a kite over dunes", "duration": 10}
        created = api.post("/v1/veo/videos", json=body)
        assert created.status_code == 200, created.text
        wait_for(lambda: omni.creates, timeout_s=30, message="the interaction to be created")
        task_id = str(created.json()["id"])
        wait_for(lambda: is_parked(server.settings, task_id), timeout_s=30, message="the park")
        clock.now += 21  # the model's typical minimum time: the first poll is due
        done = poll_until_done(api, task_id, timeout_s=60)[-1]
    assert done["status"] == "completed" and done["engine"] == "gemini_omni", done
    assert omni.creates[0].body["response_format"]["duration"] == "10s"
    video = httpx.get(done["video_url"], timeout=30)
    assert video.content == upstream_mp4
