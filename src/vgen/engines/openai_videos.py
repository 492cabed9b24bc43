"""`openai`: any server speaking the OpenAI Videos dialect — vLLM-Omni, SGLang-Diffusion, LiteLLM
proxies, resellers (ENGINES.md §3, API.md §2).

Invariant: a job is submitted at most once; from the moment the upstream id is known it is
only ever polled (the id is recorded before `advance` returns).
"""

from __future__ import annotations

import contextlib
import math
import mimetypes
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import anyio
import httpx

from vgen.domain.errors import EngineError, UpstreamRejected, UpstreamUnavailable
from vgen.engines.base import EngineJob, JobReporter, PollLater, submit_once
from vgen.engines.calls import timed_operation
from vgen.engines.cancel import request_upstream_cancel
from vgen.engines.download import download_video

# 401 is not here: on submit it means a wrong key (permanent), while polling it is treated as a
# credentials blip of a job that was already accepted (see `_checked`).
_TRANSIENT_STATUSES = {408, 409, 425, 429}
_PENDING = {"queued", "in_progress"}
# The dialect offers one `input_reference`: the first frame wins, else the first reference.
_IMAGE_FIELDS = ("first_image", "input_reference[0]")


class OpenAIVideosEngine:
    def __init__(
        self,
        *,
        name: str = "openai",
        base_url: str,
        api_key: str | None,
        client: httpx.AsyncClient,
        model_map: Mapping[str, str] | None = None,
        poll_interval_s: float = 10.0,
        first_poll_s: float | None = None,
    ) -> None:
        self.name = name
        self._base = base_url.rstrip("/")
        self._auth = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = client
        self._model_map = dict(model_map or {})
        self._poll_interval_s = poll_interval_s
        self._first_poll_s = first_poll_s

    async def advance(self, job: EngineJob, reporter: JobReporter) -> PollLater | None:
        """Submit once, then poll once per call; download when the upstream is done."""
        if job.upstream_id is None:
            return await submit_once(
                self.name,
                lambda: self._submit(job),
                job,
                reporter,
                first_poll_s=self._first_poll_s,
            )
        with timed_operation(self.name, "poll"):
            video, poll_after_s = await self._poll(job.upstream_id)
        status = video.get("status")
        if status == "failed":
            raise UpstreamRejected(_message(video) or "the upstream reported the video failed")
        if status in _PENDING:
            progress = video.get("progress")
            percent = (
                max(0, min(int(progress), 99))
                if isinstance(progress, int | float) and not isinstance(progress, bool)
                else None
            )
            # Never faster than the target's configured pace, slower when the server asks.
            return PollLater(max(poll_after_s or 0.0, self._poll_interval_s), progress=percent)
        if status != "completed":
            # API.md §2: only the four states exist; anything else is a garbled answer.
            raise UpstreamUnavailable(f"upstream poll answered an unknown status {status!r}")
        with timed_operation(self.name, "download"):
            await self._download(job.upstream_id, job.output_path)
        return None

    def submit_fields(self, job: EngineJob) -> dict[str, str]:
        """The create fields, the same whether sent as JSON or as multipart form data."""
        request = job.request
        width, height = request.size
        return {
            "model": self._model_map.get(request.model, request.model),
            "prompt": request.prompt,
            "seconds": str(request.duration_s),
            "size": f"{width}x{height}",
        }

    async def cancel_upstream(self, upstream_id: str) -> bool:
        """`DELETE /videos/{id}`: servers stop (or drop) the job."""
        url = f"{self._base}/videos/{upstream_id}"
        return await request_upstream_cancel(self._client, "DELETE", url, headers=self._auth)

    async def aclose(self) -> None:
        """The HTTP client is shared and closed by its owner."""

    async def _submit(self, job: EngineJob) -> str:
        # The task id as Idempotency-Key: if the answer to an accepted submit is lost, an
        # upstream that honours the header hands back the same video, not a second paid one.
        headers = {**self._auth, "Idempotency-Key": job.task_id}
        fields = self.submit_fields(job)
        image = next((job.images[f] for f in _IMAGE_FIELDS if f in job.images), None)
        url = f"{self._base}/videos"
        if image is None:
            with _translated("submit"):
                response = await self._client.post(url, json=fields, headers=headers)
        else:
            files = {"input_reference": await _file_part(image)}
            with _translated("submit"):
                response = await self._client.post(url, data=fields, files=files, headers=headers)
        body = _checked(response, during="submit")
        upstream_id = body.get("id")
        if not isinstance(upstream_id, str) or not upstream_id:
            raise UpstreamRejected("the upstream's answer to submit carried no video id")
        return upstream_id

    async def _poll(self, upstream_id: str) -> tuple[Mapping[str, Any], float | None]:
        with _translated("poll"):
            response = await self._client.get(
                f"{self._base}/videos/{upstream_id}", headers=self._auth
            )
        return _checked(response, during="poll"), _poll_after(response)

    async def _download(self, upstream_id: str, target: Path) -> None:
        url = f"{self._base}/videos/{upstream_id}/content"
        params = {"variant": "video"}
        full_url = str(httpx.URL(url, params=params))
        try:
            await download_video(self._client, full_url, target, headers=self._auth)
        except UpstreamUnavailable:
            # Only on failure: ask again for the status alone, to tell "no video" from a blip.
            if await self._content_status(full_url) in (404, 410):
                raise EngineError("the upstream finished but has no video (content 404)") from None
            raise

    async def _content_status(self, url: str) -> int | None:
        try:
            async with self._client.stream("GET", url, headers=self._auth) as response:
                return response.status_code
        except httpx.TransportError:
            return None


async def _file_part(path: Path) -> tuple[str, bytes, str]:
    content = await anyio.Path(path).read_bytes()
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return path.name, content, mime


@contextlib.contextmanager
def _translated(during: str) -> Iterator[None]:
    try:
        yield
    except httpx.TransportError as exc:
        raise UpstreamUnavailable(f"upstream {during} failed: {exc.__class__.__name__}") from exc


def _checked(response: httpx.Response, *, during: str) -> Mapping[str, Any]:
    """The JSON object of a successful answer; transient failures raise UpstreamUnavailable
    (with the upstream's Retry-After), permanent ones UpstreamRejected with its message."""
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    if status < 400:
        if not isinstance(body, Mapping):
            raise UpstreamUnavailable(f"upstream {during} answered unreadable JSON")
        return body
    transient = status in _TRANSIENT_STATUSES or status >= 500
    if transient or (status == 401 and during == "poll"):
        raise UpstreamUnavailable(
            f"upstream {during} answered HTTP {status}", retry_after_s=_retry_after(response)
        )
    raise UpstreamRejected(_message(body) or f"upstream {during} answered HTTP {status}")


def _message(body: Any) -> str | None:
    """The OpenAI-style `error.message`, or what FastAPI-style servers put in `detail`."""
    if not isinstance(body, Mapping):
        return None
    for candidate in (body.get("error"), body.get("detail"), body.get("message")):
        if isinstance(candidate, Mapping):
            candidate = candidate.get("message")
        if isinstance(candidate, str) and candidate:
            return candidate
    return None


def _poll_after(response: httpx.Response) -> float | None:
    millis = _number(response.headers.get("openai-poll-after-ms"))
    if millis is not None:
        return millis / 1000
    return _retry_after(response)


def _retry_after(response: httpx.Response) -> float | None:
    # Seconds only: the HTTP-date form is rare from API servers and would need a clock here.
    return _number(response.headers.get("retry-after"))


def _number(value: str | None) -> float | None:
    try:
        number = float(value or "")
    except ValueError:
        return None
    return number if math.isfinite(number) and number >= 0 else None
