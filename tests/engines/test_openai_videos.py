"""The `openai` engine against a fake OpenAI Videos server (ENGINES.md §3, API.md §2): submit once
(JSON or multipart), poll at the pace the server asks, download with resume; every failure mode
ends as the right domain error. One test runs it inside a live vgen server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from tests.api.test_veo_lifecycle import poll_until_done
from tests.engines.reporters import RecordingReporter
from tests.fakes.openai_videos import OpenAIVideosFake
from tests.images import scene_image
from tests.support import LiveServer, serving
from tests.video import decode_mp4
from vgen.config import Settings
from vgen.domain.catalog import AspectRatio, Resolution
from vgen.domain.errors import EngineError, UpstreamRejected, UpstreamUnavailable
from vgen.domain.requests import VideoRequest
from vgen.engines.base import EngineJob, PollLater
from vgen.engines.openai_videos import OpenAIVideosEngine

API_KEY = "sk-upstream-secret"


@pytest.fixture
def fake(upstream_mp4: bytes) -> Iterator[OpenAIVideosFake]:
    with serving(OpenAIVideosFake(video=upstream_mp4)) as fake:
        yield fake


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(follow_redirects=True, timeout=30) as client:
        yield client


@pytest.fixture
def engine(fake: OpenAIVideosFake, client: httpx.AsyncClient) -> OpenAIVideosEngine:
    return OpenAIVideosEngine(
        base_url=f"{fake.base_url}/v1",
        api_key=API_KEY,
        client=client,
        model_map={"veo_3_1_fast": "Wan-AI/Wan2.2-T2V-A14B"},
        poll_interval_s=5.0,
        first_poll_s=12.0,
    )


def make_job(
    tmp_path: Path,
    request: VideoRequest | None = None,
    *,
    images: dict[str, Path] | None = None,
    upstream_id: str | None = None,
) -> EngineJob:
    return EngineJob(
        "vgen_task_1",
        request or VideoRequest(model="veo_3_1_fast", prompt="a lighthouse at dusk"),
        images or {},
        tmp_path / "out.mp4",
        upstream_id=upstream_id,
    )


async def drive(
    engine: OpenAIVideosEngine, job: EngineJob, reporter: RecordingReporter, *, max_calls: int = 20
) -> list[PollLater]:
    """Call `advance` as the worker would, with the recorded upstream id, until it returns None."""
    waits: list[PollLater] = []
    for _ in range(max_calls):
        current = EngineJob(
            job.task_id,
            job.request,
            job.images,
            job.output_path,
            upstream_id=reporter.upstream_ids[-1] if reporter.upstream_ids else None,
        )
        step = await engine.advance(current, reporter)
        if step is None:
            return waits
        waits.append(step)
    pytest.fail(f"the engine did not finish in {max_calls} calls")


@pytest.mark.anyio
async def test_text_job_submits_json_once_polls_and_downloads(
    engine: OpenAIVideosEngine, fake: OpenAIVideosFake, tmp_path: Path, upstream_mp4: bytes
) -> None:
    request = VideoRequest(
        model="veo_3_1_fast",
        prompt="a harbour",
        resolution=Resolution.P1080,
        aspect_ratio=AspectRatio.PORTRAIT,
        duration_s=4,
    )
    reporter = RecordingReporter()
    waits = await drive(engine, make_job(tmp_path, request), reporter)
    assert fake.submits == 1 and reporter.upstream_ids == ["video_0001"]
    create = fake.requests[0]
    assert not create.is_multipart
    assert create.fields == {
        "model": "Wan-AI/Wan2.2-T2V-A14B",
        "prompt": "a harbour",
        "seconds": "4",
        "size": "1080x1920",
    }
    assert create.headers["authorization"] == f"Bearer {API_KEY}"
    assert create.headers["idempotency-key"] == "vgen_task_1"
    assert all(r.headers["authorization"] == f"Bearer {API_KEY}" for r in fake.requests)
    # First wait is first_poll_s, then poll_interval_s (the fake sends no pacing header).
    assert [w.after_s for w in waits] == [12.0, 5.0, 5.0]
    assert [w.progress for w in waits if w.progress is not None] == [33, 66]
    data = (tmp_path / "out.mp4").read_bytes()
    assert data == upstream_mp4 and decode_mp4(data).frames == 48


@pytest.mark.anyio
async def test_image_job_is_multipart_with_the_image_bytes(
    engine: OpenAIVideosEngine, fake: OpenAIVideosFake, tmp_path: Path, upstream_mp4: bytes
) -> None:
    image = tmp_path / "first.png"
    image.write_bytes(scene_image())
    request = VideoRequest(model="other-model", prompt="from a frame", first_image="ref")
    reporter = RecordingReporter()
    await drive(engine, make_job(tmp_path, request, images={"first_image": image}), reporter)
    create = fake.requests[0]
    assert create.is_multipart and fake.submits == 1
    assert create.fields == {
        "model": "other-model",
        "prompt": "from a frame",
        "seconds": "8",
        "size": "1280x720",
    }
    assert create.files == {"input_reference": image.read_bytes()}
    assert create.headers["idempotency-key"] == "vgen_task_1"
    assert (tmp_path / "out.mp4").read_bytes() == upstream_mp4


@pytest.mark.anyio
async def test_first_reference_image_is_sent_without_a_first_frame(
    engine: OpenAIVideosEngine, fake: OpenAIVideosFake, tmp_path: Path
) -> None:
    ref0, ref1 = tmp_path / "r0.png", tmp_path / "r1.png"
    ref0.write_bytes(scene_image(shift=10))
    ref1.write_bytes(scene_image(shift=200))
    request = VideoRequest(model="m", prompt="refs", references=("a", "b"))
    images = {"input_reference[0]": ref0, "input_reference[1]": ref1}
    await drive(engine, make_job(tmp_path, request, images=images), RecordingReporter())
    assert fake.requests[0].files == {"input_reference": ref0.read_bytes()}


@pytest.mark.anyio
@pytest.mark.parametrize(("asked_ms", "expected_s"), [(7500, 7.5), (1500, 5.0)])
async def test_poll_waits_as_long_as_the_server_asks_but_never_less_than_configured(
    engine: OpenAIVideosEngine,
    fake: OpenAIVideosFake,
    tmp_path: Path,
    asked_ms: int,
    expected_s: float,
) -> None:
    fake.poll_after_ms = asked_ms
    waits = await drive(engine, make_job(tmp_path), RecordingReporter())
    assert [w.after_s for w in waits] == [12.0, expected_s, expected_s]


@pytest.mark.anyio
async def test_a_download_cut_midway_resumes_with_range(
    engine: OpenAIVideosEngine, fake: OpenAIVideosFake, tmp_path: Path, upstream_mp4: bytes
) -> None:
    fake.cut_after_bytes, fake.cuts_left = 5000, 1
    await drive(engine, make_job(tmp_path), RecordingReporter())
    downloads = fake.content_requests
    assert len(downloads) == 2 and downloads[1].headers["range"] == "bytes=5000-"
    assert downloads[0].headers["authorization"] == f"Bearer {API_KEY}"
    data = (tmp_path / "out.mp4").read_bytes()
    assert data == upstream_mp4 and decode_mp4(data).frames == 48
    assert fake.submits == 1


@pytest.mark.anyio
async def test_failed_video_is_rejected_with_the_upstream_message(
    engine: OpenAIVideosEngine, fake: OpenAIVideosFake, tmp_path: Path
) -> None:
    fake.fail_with = ("moderation_blocked", "Your request was blocked by our safety system")
    with pytest.raises(UpstreamRejected, match="blocked by our safety system"):
        await drive(engine, make_job(tmp_path), RecordingReporter())
    assert fake.submits == 1


@pytest.mark.anyio
async def test_completed_without_content_is_an_engine_error(
    engine: OpenAIVideosEngine, fake: OpenAIVideosFake, tmp_path: Path
) -> None:
    fake.no_content = True
    with pytest.raises(EngineError, match="no video") as raised:
        await drive(engine, make_job(tmp_path), RecordingReporter())
    assert type(raised.value) is EngineError  # not transient: retrying cannot help


@pytest.mark.anyio
async def test_rate_limited_submit_is_transient_with_retry_after(
    engine: OpenAIVideosEngine, fake: OpenAIVideosFake, tmp_path: Path
) -> None:
    fake.rate_limited = 1
    reporter = RecordingReporter()
    with pytest.raises(UpstreamUnavailable, match="429") as raised:
        await engine.advance(make_job(tmp_path), reporter)
    assert raised.value.retry_after_s == 7.0
    assert reporter.upstream_ids == [] and fake.submits == 0
    # The worker's retry goes through and is the only accepted submit.
    await drive(engine, make_job(tmp_path), reporter)
    assert fake.submits == 1


@pytest.mark.anyio
@pytest.mark.parametrize("knob", ["unavailable", "garbage", "rate_limited"])
async def test_poll_trouble_is_transient_and_the_job_is_kept(
    engine: OpenAIVideosEngine, fake: OpenAIVideosFake, tmp_path: Path, knob: str
) -> None:
    reporter = RecordingReporter()
    assert await engine.advance(make_job(tmp_path), reporter) == PollLater(12.0)
    setattr(fake, knob, 1)
    with pytest.raises(UpstreamUnavailable):
        await engine.advance(make_job(tmp_path, upstream_id="video_0001"), reporter)
    await drive(engine, make_job(tmp_path), reporter)
    assert fake.submits == 1 and (tmp_path / "out.mp4").stat().st_size > 0


@pytest.mark.anyio
async def test_server_errors_and_garbage_on_submit_are_transient(
    engine: OpenAIVideosEngine, fake: OpenAIVideosFake, tmp_path: Path
) -> None:
    fake.unavailable = 1
    with pytest.raises(UpstreamUnavailable, match="502"):
        await engine.advance(make_job(tmp_path), RecordingReporter())
    fake.garbage = 1
    with pytest.raises(UpstreamUnavailable, match="unreadable JSON"):
        await engine.advance(make_job(tmp_path), RecordingReporter())


@pytest.mark.anyio
async def test_rejected_submit_fails_with_the_openai_error_message(
    engine: OpenAIVideosEngine, fake: OpenAIVideosFake, tmp_path: Path
) -> None:
    fake.reject_submits_with = "Invalid size '1080x1920' for model wan2.2"
    with pytest.raises(UpstreamRejected, match=r"Invalid size '1080x1920' for model wan2\.2"):
        await engine.advance(make_job(tmp_path), RecordingReporter())


@pytest.mark.anyio
async def test_bad_key_is_permanent_on_submit_but_a_blip_while_polling(
    engine: OpenAIVideosEngine, fake: OpenAIVideosFake, tmp_path: Path
) -> None:
    fake.unauthorized = 1
    with pytest.raises(UpstreamRejected, match="Incorrect API key provided"):
        await engine.advance(make_job(tmp_path), RecordingReporter())
    reporter = RecordingReporter()
    await engine.advance(make_job(tmp_path), reporter)
    fake.unauthorized = 1
    with pytest.raises(UpstreamUnavailable, match="401"):
        await engine.advance(make_job(tmp_path, upstream_id="video_0001"), reporter)
    await drive(engine, make_job(tmp_path), reporter)
    assert fake.submits == 1


@pytest.mark.anyio
async def test_unreachable_upstream_is_transient(client: httpx.AsyncClient, tmp_path: Path) -> None:
    from tests.support import free_port

    engine = OpenAIVideosEngine(
        base_url=f"http://127.0.0.1:{free_port()}/v1", api_key=None, client=client
    )
    with pytest.raises(UpstreamUnavailable, match="ConnectError"):
        await engine.advance(make_job(tmp_path), RecordingReporter())


def test_live_server_serves_a_video_made_by_the_openai_engine(
    settings: Settings,
    make_server: Callable[..., LiveServer],
    fake: OpenAIVideosFake,
    upstream_mp4: bytes,
) -> None:
    # No keep-alive: the client is used on the server thread's loop, and nothing may stay open
    # there once it stops (an open socket would fail the run under filterwarnings=error).
    client = httpx.AsyncClient(
        follow_redirects=True, limits=httpx.Limits(max_keepalive_connections=0)
    )
    engine = OpenAIVideosEngine(
        base_url=f"{fake.base_url}/v1",
        api_key=API_KEY,
        client=client,
        poll_interval_s=0.2,
        first_poll_s=0.2,
    )
    try:
        server = make_server(
            settings.model_copy(update={"worker_idle_poll_seconds": 0.1}),
            engines={"openai": engine},
        )
        with server.client() as api:
            created = api.post("/v1/veo/videos", json={"model": "veo_3_1_fast", "prompt": "x"})
            assert created.status_code == 200, created.text
            task_id = created.json()["id"]
            done: dict[str, Any] = poll_until_done(api, task_id, timeout_s=60)[-1]
        video = httpx.get(done["video_url"], timeout=30)
        server.stop()  # before closing the client its worker uses
    finally:
        anyio.run(client.aclose)
    assert done["status"] == "completed", done
    assert done["engine"] == "openai"
    assert fake.submits == 1 and fake.requests[0].headers["idempotency-key"] == task_id
    assert video.content == upstream_mp4


@pytest.mark.anyio
async def test_cancel_upstream_deletes_the_video(
    engine: OpenAIVideosEngine, fake: OpenAIVideosFake, tmp_path: Path
) -> None:
    reporter = RecordingReporter()
    await engine.advance(make_job(tmp_path), reporter)
    (video_id,) = reporter.upstream_ids
    assert await engine.cancel_upstream(video_id) is True
    assert video_id not in fake.videos
    deletes = [r for r in fake.requests if r.method == "DELETE"]
    assert deletes[0].headers["authorization"] == f"Bearer {API_KEY}"
    assert await engine.cancel_upstream(video_id) is False  # gone already: nothing more to do
    fake.unavailable = 1
    with pytest.raises(UpstreamUnavailable):
        await engine.cancel_upstream("video_9999")
