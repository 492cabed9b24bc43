"""The engines' one upstream HTTP edge: every HTTP engine, against its fake upstream, turns the
same trouble into the same domain outcome; and the edge reads the common error body shapes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.engines.reporters import RecordingReporter
from tests.fakes.gemini import GeminiFake
from tests.fakes.openai_videos import OpenAIVideosFake
from tests.fakes.reseller import ResellerFake
from tests.support import ThreadedUvicorn, free_port
from vgen.domain.errors import UpstreamRejected, UpstreamUnavailable
from vgen.domain.requests import VideoRequest
from vgen.engines.base import Engine, EngineJob
from vgen.engines.gemini import GeminiEngine
from vgen.engines.openai_videos import OpenAIVideosEngine
from vgen.engines.relay import RelayEngine
from vgen.engines.upstream_http import UpstreamRules, checked_json, error_message

pytestmark = pytest.mark.anyio


@dataclass
class Upstream:
    """One HTTP engine wired to its fake, with the fake's knobs under common names."""

    fake: Any
    make_engine: Callable[[str], Engine]
    base_url: str

    def engine(self) -> Engine:
        return self.make_engine(self.base_url)

    def submits(self) -> int:
        seen = getattr(self.fake, "creates", None) or getattr(self.fake, "submits", 0)
        return seen if isinstance(seen, int) else len(seen)


def _relay(client: httpx.AsyncClient) -> Callable[[str], Engine]:
    return lambda url: RelayEngine(base_url=url, api_key="k", client=client)


def _gemini(client: httpx.AsyncClient) -> Callable[[str], Engine]:
    return lambda url: GeminiEngine(api_key="k", client=client, base_url=url)


def _openai(client: httpx.AsyncClient) -> Callable[[str], Engine]:
    return lambda url: OpenAIVideosEngine(base_url=f"{url}/v1", api_key="k", client=client)


FAKES = {"relay": ResellerFake, "gemini": GeminiFake, "openai": OpenAIVideosFake}
ENGINES = {"relay": _relay, "gemini": _gemini, "openai": _openai}


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(follow_redirects=True, timeout=10) as shared:
        yield shared


@pytest.fixture(params=sorted(FAKES))
def upstream(
    request: pytest.FixtureRequest, upstream_mp4: bytes, client: httpx.AsyncClient
) -> Iterator[Upstream]:
    fake = FAKES[request.param](video=upstream_mp4)
    server = ThreadedUvicorn(fake.app(), lifespan="off")
    yield Upstream(fake, ENGINES[request.param](client), server.url)
    server.stop()


def make_job(tmp_path: Path) -> EngineJob:
    request = VideoRequest(model="veo_3_1_fast", prompt="a harbour at dusk")
    return EngineJob("vgen_t1", request, {}, tmp_path / "out.mp4")


@pytest.mark.parametrize(
    ("knobs", "message", "retry_after_s"),
    [
        ({"rate_limited": 1, "retry_after_s": "7"}, "answered HTTP 429", 7.0),
        ({"unavailable": 1}, r"answered HTTP 50\d", None),
        ({"garbage": 1}, "answered unreadable JSON", None),
    ],
    ids=["429-retry-after", "5xx", "garbage-json"],
)
async def test_upstream_trouble_on_submit_is_transient_alike_for_every_engine(
    upstream: Upstream,
    tmp_path: Path,
    knobs: dict[str, Any],
    message: str,
    retry_after_s: float | None,
) -> None:
    for name, value in knobs.items():
        setattr(upstream.fake, name, value)
    engine, reporter = upstream.engine(), RecordingReporter()

    with pytest.raises(UpstreamUnavailable, match=message) as caught:
        await engine.advance(make_job(tmp_path), reporter)

    assert caught.value.retry_after_s == retry_after_s
    assert reporter.upstream_ids == [] and upstream.submits() == 0
    await engine.advance(make_job(tmp_path), reporter)  # the worker's retry is accepted, once
    assert len(reporter.upstream_ids) == 1 and upstream.submits() == 1


async def test_refused_connection_is_transient_alike_for_every_engine(
    upstream: Upstream, tmp_path: Path
) -> None:
    engine = upstream.make_engine(f"http://127.0.0.1:{free_port()}")

    with pytest.raises(UpstreamUnavailable, match="submit failed: ConnectError") as caught:
        await engine.advance(make_job(tmp_path), RecordingReporter())

    assert isinstance(caught.value.__cause__, httpx.ConnectError)


RULES = UpstreamRules(transient_statuses=frozenset({429}), transient_when_polling=frozenset({401}))


def _answer(status: int, body: Any = None, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"error": {"code": 400, "message": "Bad size.", "status": "INVALID_ARGUMENT"}},
            "Bad size.",
        ),
        ({"error": {"message": "Invalid model", "type": "invalid_request_error"}}, "Invalid model"),
        ({"error": "prompt blocked"}, "prompt blocked"),
        ({"detail": "Field required"}, "Field required"),
        ({"code": 4001, "msg": "insufficient credit"}, "insufficient credit"),
        ({"code": 1, "data": {"fail_reason": "banned words"}}, "banned words"),
        (["not", "an", "object"], None),
        ({"status": "failed"}, None),
    ],
    ids=["google", "openai", "string", "fastapi", "envelope", "envelope-data", "list", "none"],
)
def test_error_message_reads_the_common_body_shapes(body: Any, message: str | None) -> None:
    assert error_message(body) == message


def test_permanent_refusal_carries_the_upstream_message_alone() -> None:
    with pytest.raises(UpstreamRejected, match="^Invalid model$"):
        checked_json(
            _answer(400, {"error": {"message": "Invalid model"}}), during="submit", rules=RULES
        )


@pytest.mark.parametrize(
    ("during", "outcome"), [("submit", UpstreamRejected), ("poll", UpstreamUnavailable)]
)
def test_statuses_transient_only_when_polling_are_permanent_on_submit(
    during: str, outcome: type[Exception]
) -> None:
    with pytest.raises(outcome):
        checked_json(_answer(401, {"error": "bad key"}), during=during, rules=RULES)


def test_retry_delay_in_a_google_error_body_is_the_hint_without_a_header() -> None:
    details = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "31s"}]
    body = {"error": {"code": 429, "message": "Quota exceeded.", "details": details}}

    with pytest.raises(UpstreamUnavailable, match="HTTP 429: Quota exceeded.") as caught:
        checked_json(_answer(429, body), during="poll", rules=RULES)

    assert caught.value.retry_after_s == 31.0
