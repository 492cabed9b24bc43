"""The `gemini` engine against a fake Gemini API (ENGINES.md §1, §5): the submit body, one
submit, polling, the redirected download with the API key, and every failure translated."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.test_veo_lifecycle import poll_until_done
from tests.engines.reporters import RecordingReporter
from tests.fakes.gemini import GeminiFake
from tests.images import data_url, scene_image
from tests.support import LiveServer, free_port, serving
from tests.video import decode_mp4
from vgen.config import Settings
from vgen.domain.catalog import AspectRatio, Resolution
from vgen.domain.errors import ContentFiltered, UpstreamRejected, UpstreamUnavailable
from vgen.domain.requests import VideoRequest
from vgen.engines.base import EngineJob, PollLater
from vgen.engines.gemini import DEFAULT_GEMINI_MODELS, GeminiEngine

KEY = "gemini-secret"


@pytest.fixture
def gemini(upstream_mp4: bytes) -> Iterator[GeminiFake]:
    with serving(GeminiFake(video=upstream_mp4)) as fake:
        yield fake


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(follow_redirects=True, timeout=5) as shared:
        yield shared


@pytest.fixture
def engine(gemini: GeminiFake, client: httpx.AsyncClient) -> GeminiEngine:
    return GeminiEngine(
        api_key=KEY, client=client, base_url=gemini.base_url, first_poll_s=0.5, poll_interval_s=1
    )


async def drive(
    engine: GeminiEngine, job: EngineJob, reporter: RecordingReporter, *, max_steps: int = 20
) -> list[PollLater]:
    """Call `advance` as the worker would (without waiting) until the engine is done."""
    waits: list[PollLater] = []
    for _ in range(max_steps):
        if reporter.upstream_ids:
            job = dataclasses.replace(job, upstream_id=reporter.upstream_ids[-1])
        step = await engine.advance(job, reporter)
        if step is None:
            return waits
        waits.append(step)
    pytest.fail(f"the engine did not finish in {max_steps} steps")


def make_job(tmp_path: Path, images: dict[str, Path] | None = None, **request: Any) -> EngineJob:
    fields: dict[str, Any] = {"model": "veo_3_1_fast", "prompt": "a harbour at dusk", **request}
    return EngineJob("vgen_t1", VideoRequest(**fields), images or {}, tmp_path / "out.mp4")


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def job_output_decodes(path: Path) -> bool:
    return decode_mp4(path.read_bytes()).frames == 48


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.mark.anyio
async def test_submits_once_polls_and_downloads_through_the_redirect(
    engine: GeminiEngine, gemini: GeminiFake, tmp_path: Path, upstream_mp4: bytes
) -> None:
    first, last = scene_image(), scene_image(shift=200, fmt="JPEG")
    job = make_job(
        tmp_path,
        # No extensions: the mime type comes from the bytes.
        images={
            "first_image": write(tmp_path / "a", first),
            "last_image": write(tmp_path / "b", last),
        },
        first_image="asset:a",
        last_image="asset:b",
        resolution=Resolution.K4,
        aspect_ratio=AspectRatio.PORTRAIT,
        duration_s=6,
        negative_prompt="rain",
        seed=42,
    )
    reporter = RecordingReporter()
    waits = await drive(engine, job, reporter)

    assert waits == [PollLater(0.5), PollLater(1, progress=50)]
    assert len(gemini.submits) == 1
    submit = gemini.submits[0]
    assert submit.path == "/v1beta/models/veo-3.1-fast-generate-preview:predictLongRunning"
    assert submit.headers["x-goog-api-key"] == KEY
    assert submit.body == {
        "instances": [
            {
                "prompt": "a harbour at dusk",
                "image": {"bytesBase64Encoded": b64(first), "mimeType": "image/png"},
                "lastFrame": {"bytesBase64Encoded": b64(last), "mimeType": "image/jpeg"},
            }
        ],
        "parameters": {
            "aspectRatio": "9:16",
            "resolution": "4k",
            "durationSeconds": 6,
            "negativePrompt": "rain",
            "seed": 42,
            "sampleCount": 1,
        },
    }
    assert reporter.upstream_ids == ["models/veo-3.1-fast-generate-preview/operations/op0001"]
    assert [w.progress for w in waits if w.progress is not None] == [
        50
    ]  # metadata.progressPercent of the one unfinished poll
    polls = gemini.requests_to("/v1beta/models/veo-3.1-fast-generate-preview/operations/")
    assert len(polls) == 2 and all(p.headers["x-goog-api-key"] == KEY for p in polls)
    # The download URI answers 302; the key goes with the request, the video comes from /media.
    (download,) = gemini.requests_to("/v1beta/files/")
    assert download.path == "/v1beta/files/op0001:download"
    assert download.headers["x-goog-api-key"] == KEY
    assert len(gemini.requests_to("/media/")) == 1
    output = job.output_path.read_bytes()
    assert output == upstream_mp4 and decode_mp4(output).frames == 48


@pytest.mark.anyio
async def test_reference_images_go_inline_as_assets_with_the_mapped_model(
    gemini: GeminiFake, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    engine = GeminiEngine(
        api_key=KEY,
        client=client,
        base_url=gemini.base_url,
        model_map={"veo_3_1_pro": "veo-3.1-custom"},
        first_poll_s=0,
        poll_interval_s=0,
    )
    refs = [scene_image(fmt="WEBP"), scene_image(shift=50, fmt="PNG")]
    job = make_job(
        tmp_path,
        images={
            f"input_reference[{i}]": write(tmp_path / f"r{i}.img", d) for i, d in enumerate(refs)
        },
        model="veo_3_1_pro",
        references=("asset:r0", "asset:r1"),
        resolution=Resolution.P1080,
    )
    await drive(engine, job, RecordingReporter())
    (submit,) = gemini.submits
    assert submit.path == "/v1beta/models/veo-3.1-custom:predictLongRunning"
    instance = submit.body["instances"][0]
    assert instance["referenceImages"] == [
        {
            "image": {"bytesBase64Encoded": b64(refs[0]), "mimeType": "image/webp"},
            "referenceType": "asset",
        },
        {
            "image": {"bytesBase64Encoded": b64(refs[1]), "mimeType": "image/png"},
            "referenceType": "asset",
        },
    ]
    assert "image" not in instance and "lastFrame" not in instance
    params = submit.body["parameters"]
    assert params["resolution"] == "1080p" and params["aspectRatio"] == "16:9"
    assert "seed" not in params and "negativePrompt" not in params
    # Models the config does not mention keep their default mapping.
    assert engine.model_for("veo_3_1_fast_stable") == DEFAULT_GEMINI_MODELS["veo_3_1_fast_stable"]


@pytest.mark.anyio
async def test_short_operation_names_are_polled_as_given(
    engine: GeminiEngine, gemini: GeminiFake, tmp_path: Path
) -> None:
    gemini.short_operation_names = True
    reporter = RecordingReporter()
    await drive(engine, make_job(tmp_path), reporter)
    assert reporter.upstream_ids == ["operations/op0001"]
    assert len(gemini.requests_to("/v1beta/operations/op0001")) == 2
    assert job_output_decodes(tmp_path / "out.mp4")


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("reasons", "message"),
    [
        (
            ["Your prompt was blocked.", "Unsafe person depiction."],
            "Your prompt was blocked.; Unsafe",
        ),
        ([], "blocked by Google's safety filter"),
    ],
    ids=["with-reasons", "without-reasons"],
)
async def test_safety_blocked_result_is_content_filtered_with_the_reasons(
    engine: GeminiEngine, gemini: GeminiFake, tmp_path: Path, reasons: list[str], message: str
) -> None:
    gemini.blocked_reasons = reasons
    with pytest.raises(ContentFiltered, match=message):
        await drive(engine, make_job(tmp_path), RecordingReporter())
    assert len(gemini.submits) == 1 and not gemini.requests_to("/v1beta/files/")


@pytest.mark.anyio
async def test_operation_error_rejects_with_googles_message(
    engine: GeminiEngine, gemini: GeminiFake, tmp_path: Path
) -> None:
    gemini.operation_error = {
        "code": 3,
        "message": "Prompt is too long.",
        "status": "INVALID_ARGUMENT",
    }
    with pytest.raises(UpstreamRejected, match="Prompt is too long.") as caught:
        await drive(engine, make_job(tmp_path), RecordingReporter())
    assert not isinstance(caught.value, ContentFiltered)


@pytest.mark.anyio
async def test_rate_limited_submit_is_transient_with_retry_after_and_never_doubled(
    engine: GeminiEngine, gemini: GeminiFake, tmp_path: Path
) -> None:
    gemini.rate_limited, gemini.retry_after_s = 1, "7"
    reporter = RecordingReporter()
    job = make_job(tmp_path)
    with pytest.raises(UpstreamUnavailable, match="429") as caught:
        await engine.advance(job, reporter)
    assert caught.value.retry_after_s == 7.0
    assert reporter.upstream_ids == [] and gemini.submits == []
    # The worker retries later: this time Google accepts, once.
    await drive(engine, job, reporter)
    assert len(gemini.submits) == 1 and job_output_decodes(job.output_path)


@pytest.mark.anyio
async def test_retry_delay_in_googles_error_details_is_honoured(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        details = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "31s"}]
        error = {"code": 429, "message": "Quota exceeded.", "details": details}
        return httpx.Response(429, json={"error": error})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as quota_client:
        engine = GeminiEngine(api_key=KEY, client=quota_client, base_url="http://gemini.test")
        with pytest.raises(UpstreamUnavailable, match="Quota exceeded") as caught:
            await engine.advance(make_job(tmp_path), RecordingReporter())
    assert caught.value.retry_after_s == 31.0


@pytest.mark.anyio
@pytest.mark.parametrize("knob", ["unavailable", "garbage"])
async def test_5xx_and_garbage_json_are_transient_on_submit_and_poll(
    engine: GeminiEngine, gemini: GeminiFake, tmp_path: Path, knob: str
) -> None:
    reporter = RecordingReporter()
    job = make_job(tmp_path)
    setattr(gemini, knob, 1)
    with pytest.raises(UpstreamUnavailable):
        await engine.advance(job, reporter)
    assert reporter.upstream_ids == []
    await engine.advance(job, reporter)  # accepted
    polling = dataclasses.replace(job, upstream_id=reporter.upstream_ids[0])
    setattr(gemini, knob, 1)
    with pytest.raises(UpstreamUnavailable):
        await engine.advance(polling, reporter)
    await drive(engine, polling, reporter)
    assert len(gemini.submits) == 1 and job_output_decodes(job.output_path)


@pytest.mark.anyio
async def test_rejected_submit_carries_googles_message(
    engine: GeminiEngine, gemini: GeminiFake, tmp_path: Path
) -> None:
    gemini.reject_submits_with = "Unsupported resolution for this model."
    with pytest.raises(UpstreamRejected, match="^Unsupported resolution for this model.$"):
        await engine.advance(make_job(tmp_path), RecordingReporter())


@pytest.mark.anyio
async def test_expired_download_is_transient_and_the_next_poll_downloads(
    engine: GeminiEngine, gemini: GeminiFake, tmp_path: Path
) -> None:
    gemini.expired_downloads = 1
    gemini.polls_until_done = 1
    reporter = RecordingReporter()
    job = make_job(tmp_path)
    await engine.advance(job, reporter)
    polling = dataclasses.replace(job, upstream_id=reporter.upstream_ids[0])
    with pytest.raises(UpstreamUnavailable, match="403"):
        await engine.advance(polling, reporter)
    assert await engine.advance(polling, reporter) is None
    assert len(gemini.requests_to("/v1beta/files/")) == 2 and job_output_decodes(job.output_path)


@pytest.mark.anyio
async def test_timeouts_and_refused_connections_are_transient(
    gemini: GeminiFake, tmp_path: Path
) -> None:
    gemini.hang_s = 1.0
    async with httpx.AsyncClient(timeout=0.2) as impatient:
        engine = GeminiEngine(api_key=KEY, client=impatient, base_url=gemini.base_url)
        with pytest.raises(UpstreamUnavailable, match="ReadTimeout"):
            await engine.advance(make_job(tmp_path), RecordingReporter())
        closed = GeminiEngine(
            api_key=KEY, client=impatient, base_url=f"http://127.0.0.1:{free_port()}"
        )
        with pytest.raises(UpstreamUnavailable, match="ConnectError"):
            await closed.advance(make_job(tmp_path), RecordingReporter())


# --- end to end: a live vgen server whose only engine is `gemini` ---------------------------


@pytest.fixture
def gemini_server(
    settings: Settings, make_server: Callable[..., LiveServer], gemini: GeminiFake
) -> Iterator[LiveServer]:
    # The client is first used on the server's event loop. Without keep-alive it holds no
    # connection between requests, so closing it afterwards on another loop is clean.
    shared = httpx.AsyncClient(
        follow_redirects=True, timeout=10, limits=httpx.Limits(max_keepalive_connections=0)
    )
    engine = GeminiEngine(
        api_key=KEY, client=shared, base_url=gemini.base_url, first_poll_s=0.1, poll_interval_s=0.1
    )
    server = make_server(
        settings.model_copy(update={"worker_idle_poll_seconds": 0.05}), engines={"gemini": engine}
    )
    yield server
    server.stop()
    asyncio.run(shared.aclose())


def create_and_finish(server: LiveServer, **body: Any) -> dict[str, Any]:
    with server.client() as api:
        response = api.post("/v1/veo/videos", json={"model": "veo_3_1_fast", **body})
        assert response.status_code == 200, response.text
        return poll_until_done(api, str(response.json()["id"]), timeout_s=60)[-1]


def test_task_through_vgen_is_submitted_once_and_archived(
    gemini_server: LiveServer, gemini: GeminiFake, upstream_mp4: bytes
) -> None:
    gemini.rate_limited, gemini.retry_after_s = 1, "1"  # the first submit is refused
    first = scene_image()
    done = create_and_finish(
        gemini_server, prompt="a lighthouse", first_image=data_url(first), resolution="1080p"
    )
    assert done["status"] == "completed", done
    assert done["engine"] == "gemini" and done["actualDuration"] == 2
    (submit,) = gemini.submits
    assert len(gemini.requests_to(submit.path)) == 2  # refused once, then accepted once
    assert submit.headers["x-goog-api-key"] == KEY
    assert submit.path == "/v1beta/models/veo-3.1-fast-generate-preview:predictLongRunning"
    image = submit.body["instances"][0]["image"]
    assert image["mimeType"] == "image/png"
    assert base64.b64decode(image["bytesBase64Encoded"]) == first
    assert submit.body["parameters"]["resolution"] == "1080p"
    video = httpx.get(done["video_url"], timeout=30)
    assert video.content == upstream_mp4 and decode_mp4(video.content).frames == 48


def test_safety_block_fails_the_task_with_the_reason(
    gemini_server: LiveServer, gemini: GeminiFake
) -> None:
    gemini.blocked_reasons = ["The prompt could not be submitted (celebrity likeness)."]
    done = create_and_finish(gemini_server, prompt="someone famous")
    assert done["status"] == "failed"
    assert "celebrity likeness" in done["error"]
    assert len(gemini.submits) == 1


def test_gemini_target_from_vgen_toml_serves_veo_models(
    settings: Settings,
    make_server: Callable[..., LiveServer],
    gemini: GeminiFake,
    tmp_path: Path,
    upstream_mp4: bytes,
) -> None:
    config = tmp_path / "vgen.toml"
    config.write_text(
        f"""
[targets.google]
type = "gemini"
base_url = "{gemini.base_url}"
api_key = "{KEY}"
first_poll_seconds = 0.1
poll_interval_seconds = 0.1

[routes]
veo_3_1_pro = ["google"]
"""
    )
    server = make_server(
        settings.model_copy(update={"config": config, "worker_idle_poll_seconds": 0.05})
    )
    done = create_and_finish(server, prompt="routed by file", model="veo_3_1_pro")
    assert done["status"] == "completed" and done["engine"] == "google", done
    (submit,) = gemini.submits
    assert submit.path == "/v1beta/models/veo-3.1-generate-preview:predictLongRunning"
    # Models without a route still render locally.
    local = create_and_finish(server, prompt="not routed", model="veo_3_1_fast")
    assert local["engine"] == "local"


@pytest.mark.anyio
async def test_cancel_upstream_cancels_the_operation(
    engine: GeminiEngine, gemini: GeminiFake, tmp_path: Path
) -> None:
    reporter = RecordingReporter()
    await engine.advance(make_job(tmp_path), reporter)
    (operation,) = reporter.upstream_ids
    assert await engine.cancel_upstream(operation) is True
    assert gemini.cancelled == [operation.rsplit("/", 1)[-1]]
    cancel = gemini.requests[-1]
    assert cancel.method == "POST" and cancel.headers["x-goog-api-key"] == KEY
    assert await engine.cancel_upstream("models/x/operations/unknown") is False


# --- models Google no longer serves --------------------------------------------------------


@pytest.mark.anyio
async def test_a_retired_model_fails_with_what_to_configure_instead(
    gemini: GeminiFake, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    gemini.served_models = ["veo-3.1-generate-preview"]
    engine = GeminiEngine(
        api_key=KEY,
        client=client,
        base_url=gemini.base_url,
        model_map={"veo_3_1_fast": "veo-3.0-fast-generate-001"},
    )
    reporter = RecordingReporter()
    with pytest.raises(UpstreamRejected) as caught:
        await engine.advance(make_job(tmp_path), reporter)
    message = str(caught.value)
    assert "'veo-3.0-fast-generate-001'" in message and "veo_3_1_fast" in message
    assert "VGEN_VERTEX_PROJECT" in message and "vgen.toml" in message
    assert gemini.submits == [] and reporter.upstream_ids == []


@pytest.mark.anyio
async def test_available_models_reads_every_page(engine: GeminiEngine, gemini: GeminiFake) -> None:
    gemini.served_models = [f"model-{i}" for i in range(5)]
    assert await engine.available_models() == {f"model-{i}" for i in range(5)}
    pages = gemini.requests_to("/v1beta/models")
    assert len(pages) == 3 and all(p.headers["x-goog-api-key"] == KEY for p in pages)


def test_default_map_names_no_retired_veo_3_0_model() -> None:
    assert not [m for m in DEFAULT_GEMINI_MODELS.values() if m.startswith("veo-3.0")]


def test_a_task_on_a_retired_model_fails_with_one_clear_message(
    gemini_server: LiveServer, gemini: GeminiFake
) -> None:
    gemini.served_models = ["veo-3.1-generate-preview"]
    done = create_and_finish(gemini_server, prompt="a model that is gone")
    assert done["status"] == "failed", done
    assert "veo-3.1-fast-generate-preview" in done["error"]
    assert "VGEN_VERTEX_PROJECT" in done["error"]
    assert gemini.submits == []
