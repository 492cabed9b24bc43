"""The `vertex` engine against a fake Vertex AI (ENGINES.md §1b, §5): google-auth's real
service-account flow against a fake token endpoint, one submit, `fetchPredictOperation` polls,
results inline or in GCS, and every failure translated."""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.engines.reporters import RecordingReporter
from tests.engines.vertex_keys import write_key_file
from tests.fakes.vertex import VertexFake
from tests.images import scene_image
from tests.support import HandClock, serving
from tests.video import decode_mp4
from vgen.domain.errors import ContentFiltered, UpstreamRejected, UpstreamUnavailable
from vgen.domain.requests import VideoRequest
from vgen.engines.base import EngineJob, PollLater
from vgen.engines.google_credentials import GoogleCredentials
from vgen.engines.vertex import VertexEngine, vertex_base_url

MODEL_PREFIX = "/v1/projects/p1/locations/us-central1/publishers/google/models"


@pytest.fixture
def vertex(upstream_mp4: bytes) -> Iterator[VertexFake]:
    with serving(VertexFake(video=upstream_mp4)) as fake:
        yield fake


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(follow_redirects=True, timeout=5) as shared:
        yield shared


@pytest.fixture
def clock() -> HandClock:
    return HandClock()


@pytest.fixture
def key_file(tmp_path: Path, vertex: VertexFake) -> Path:
    return write_key_file(tmp_path / "key.json", vertex)


def make_engine(
    vertex: VertexFake, client: httpx.AsyncClient, key_file: Path, clock: HandClock, **kw: Any
) -> VertexEngine:
    return VertexEngine(
        project="p1",
        credentials=GoogleCredentials(key_file=key_file, clock=clock),
        client=client,
        base_url=vertex.base_url,
        storage_base_url=vertex.base_url,
        first_poll_s=0.5,
        poll_interval_s=1,
        **kw,
    )


@pytest.fixture
def engine(
    vertex: VertexFake, client: httpx.AsyncClient, key_file: Path, clock: HandClock
) -> VertexEngine:
    return make_engine(vertex, client, key_file, clock)


def make_job(tmp_path: Path, images: dict[str, Path] | None = None, **request: Any) -> EngineJob:
    fields: dict[str, Any] = {"model": "veo_3_1_fast", "prompt": "a harbour at dusk", **request}
    return EngineJob("vgen_t1", VideoRequest(**fields), images or {}, tmp_path / "out.mp4")


async def drive(
    engine: VertexEngine, job: EngineJob, reporter: RecordingReporter, *, max_steps: int = 20
) -> list[PollLater]:
    waits: list[PollLater] = []
    for _ in range(max_steps):
        if reporter.upstream_ids:
            job = dataclasses.replace(job, upstream_id=reporter.upstream_ids[-1])
        step = await engine.advance(job, reporter)
        if step is None:
            return waits
        waits.append(step)
    pytest.fail(f"the engine did not finish in {max_steps} steps")


def bearer(recorded: Any) -> str:
    return str(recorded.headers["authorization"])


@pytest.mark.anyio
async def test_submits_once_with_a_service_account_token_and_writes_inline_bytes(
    engine: VertexEngine, vertex: VertexFake, tmp_path: Path, upstream_mp4: bytes
) -> None:
    first = scene_image()
    (tmp_path / "a").write_bytes(first)
    job = make_job(tmp_path, images={"first_image": tmp_path / "a"}, first_image="asset:a", seed=7)
    reporter = RecordingReporter()
    waits = await drive(engine, job, reporter)

    assert waits == [PollLater(0.5), PollLater(1)]
    (submit,) = vertex.submits
    assert submit.path == f"{MODEL_PREFIX}/veo-3.1-fast-generate-001:predictLongRunning"
    assert submit.body["instances"][0]["image"] == {
        "bytesBase64Encoded": base64.b64encode(first).decode(),
        "mimeType": "image/png",
    }
    params = submit.body["parameters"]
    assert params["generateAudio"] is True and params["seed"] == 7 and "storageUri" not in params
    (operation,) = reporter.upstream_ids
    assert operation.startswith(MODEL_PREFIX.removeprefix("/v1/") + "/veo-3.1-fast-generate-001/")
    polls = vertex.requests_to(":fetchPredictOperation")
    assert len(polls) == 2 and all(p.body == {"operationName": operation} for p in polls)
    # One token from google-auth's real JWT-bearer flow, reused for every call.
    assert vertex.issued == ["ya29.fake-1"]
    assert {bearer(r) for r in [submit, *polls]} == {"Bearer ya29.fake-1"}
    output = job.output_path.read_bytes()
    assert output == upstream_mp4 and decode_mp4(output).frames == 48


@pytest.mark.anyio
async def test_gcs_result_is_downloaded_through_the_json_api_with_the_token(
    vertex: VertexFake,
    client: httpx.AsyncClient,
    key_file: Path,
    clock: HandClock,
    tmp_path: Path,
    upstream_mp4: bytes,
) -> None:
    vertex.output = "gcs"
    engine = make_engine(vertex, client, key_file, clock, storage_uri="gs://bucket-1/vgen out/")
    job = make_job(tmp_path, model="veo_3_1_pro")
    await drive(engine, job, RecordingReporter())
    (submit,) = vertex.submits
    assert submit.path.endswith("/veo-3.1-generate-001:predictLongRunning")
    assert submit.body["parameters"]["storageUri"] == "gs://bucket-1/vgen out/"
    (download,) = [r for r in vertex.requests if r.path.startswith("/storage/v1/b/bucket-1/o/")]
    assert download.path == "/storage/v1/b/bucket-1/o/vgen out/op0001/sample_0.mp4"
    assert bearer(download) == "Bearer ya29.fake-1"
    assert job.output_path.read_bytes() == upstream_mp4


@pytest.mark.anyio
async def test_token_is_refreshed_before_it_expires(
    engine: VertexEngine, vertex: VertexFake, clock: HandClock, tmp_path: Path
) -> None:
    vertex.token_lifetime_s = 900
    reporter = RecordingReporter()
    job = make_job(tmp_path)
    await engine.advance(job, reporter)
    polling = dataclasses.replace(job, upstream_id=reporter.upstream_ids[0])
    clock.now += 500  # 400 s left: still good
    await engine.advance(polling, reporter)
    assert vertex.issued == ["ya29.fake-1"]
    clock.now += 200  # 200 s left: inside the refresh margin
    await engine.advance(polling, reporter)
    assert vertex.issued == ["ya29.fake-1", "ya29.fake-2"]
    assert bearer(vertex.requests_to(":fetchPredictOperation")[-1]) == "Bearer ya29.fake-2"
    assert len(vertex.submits) == 1 and job.output_path.exists()


@pytest.mark.anyio
async def test_a_refused_token_is_replaced_once_and_the_call_repeated(
    engine: VertexEngine, vertex: VertexFake, tmp_path: Path
) -> None:
    reporter = RecordingReporter()
    job = make_job(tmp_path)
    await engine.advance(job, reporter)
    vertex.revoked.add("ya29.fake-1")  # e.g. revoked, or the clocks disagree
    polling = dataclasses.replace(job, upstream_id=reporter.upstream_ids[0])
    await engine.advance(polling, reporter)
    polls = vertex.requests_to(":fetchPredictOperation")
    assert [bearer(p) for p in polls] == ["Bearer ya29.fake-1", "Bearer ya29.fake-2"]
    # Refused again even with a fresh token: transient while polling, never a resubmit.
    vertex.revoked.update({"ya29.fake-2", "ya29.fake-3"})
    with pytest.raises(UpstreamUnavailable, match="401"):
        await engine.advance(polling, reporter)
    assert vertex.issued == ["ya29.fake-1", "ya29.fake-2", "ya29.fake-3"]
    assert len(vertex.submits) == 1


@pytest.mark.anyio
async def test_rate_limit_and_5xx_are_transient_with_retry_after_and_never_resubmit(
    engine: VertexEngine, vertex: VertexFake, tmp_path: Path
) -> None:
    vertex.rate_limited, vertex.retry_after_s = 1, "9"
    reporter = RecordingReporter()
    job = make_job(tmp_path)
    with pytest.raises(UpstreamUnavailable, match="429") as caught:
        await engine.advance(job, reporter)
    assert caught.value.retry_after_s == 9.0 and reporter.upstream_ids == []
    await engine.advance(job, reporter)
    polling = dataclasses.replace(job, upstream_id=reporter.upstream_ids[0])
    vertex.unavailable = 1
    with pytest.raises(UpstreamUnavailable, match="503"):
        await engine.advance(polling, reporter)
    await drive(engine, polling, reporter)
    assert len(vertex.submits) == 1 and decode_mp4(job.output_path.read_bytes()).frames == 48


@pytest.mark.anyio
async def test_safety_block_is_content_filtered_with_the_reasons(
    engine: VertexEngine, vertex: VertexFake, tmp_path: Path
) -> None:
    vertex.blocked_reasons = ["The prompt violates our usage guidelines (code 58061214)."]
    with pytest.raises(ContentFiltered, match="usage guidelines"):
        await drive(engine, make_job(tmp_path), RecordingReporter())


@pytest.mark.anyio
async def test_operation_error_and_unknown_model_reject_with_googles_message(
    engine: VertexEngine, vertex: VertexFake, tmp_path: Path
) -> None:
    vertex.operation_error = {"code": 3, "message": "Prompt is too long.", "status": "INVALID"}
    with pytest.raises(UpstreamRejected, match="Prompt is too long."):
        await drive(engine, make_job(tmp_path), RecordingReporter())
    vertex.known_models = {"veo-3.1-generate-001"}
    with pytest.raises(UpstreamRejected, match="veo-3.1-fast-generate-001"):
        await engine.advance(make_job(tmp_path), RecordingReporter())


@pytest.mark.anyio
async def test_a_restarted_engine_polls_the_persisted_operation_without_resubmitting(
    vertex: VertexFake,
    client: httpx.AsyncClient,
    key_file: Path,
    clock: HandClock,
    tmp_path: Path,
) -> None:
    reporter = RecordingReporter()
    job = make_job(tmp_path)
    await make_engine(vertex, client, key_file, clock).advance(job, reporter)
    # A new process: new engine, new credentials, only the persisted operation name.
    restarted = make_engine(vertex, client, key_file, clock)
    await drive(restarted, dataclasses.replace(job, upstream_id=reporter.upstream_ids[0]), reporter)
    assert len(vertex.submits) == 1 and job.output_path.exists()
    assert len(vertex.issued) == 2


@pytest.mark.anyio
async def test_missing_credentials_fail_with_what_to_configure(
    vertex: VertexFake,
    client: httpx.AsyncClient,
    tmp_path: Path,
    clock: HandClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    engine = VertexEngine(
        project="p1",
        credentials=GoogleCredentials(clock=clock),
        client=client,
        base_url=vertex.base_url,
    )
    with pytest.raises(UpstreamRejected, match="GOOGLE_APPLICATION_CREDENTIALS"):
        await engine.advance(make_job(tmp_path), RecordingReporter())
    assert vertex.submits == []


def test_global_location_has_its_own_host() -> None:
    assert vertex_base_url("global") == "https://aiplatform.googleapis.com"
    assert vertex_base_url("europe-west4") == "https://europe-west4-aiplatform.googleapis.com"
