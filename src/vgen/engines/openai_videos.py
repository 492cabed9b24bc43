"""`openai`: any server speaking the OpenAI Videos dialect — vLLM-Omni, SGLang-Diffusion, LiteLLM
proxies, resellers (ENGINES.md §3, API.md §2).

Invariant: a job is submitted at most once; from the moment the upstream id is known it is
only ever polled (the id is recorded before `advance` returns).
"""

from __future__ import annotations

import mimetypes
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio
import httpx

from vgen.domain.errors import EngineError, UpstreamRejected, UpstreamUnavailable
from vgen.engines.base import EngineJob, JobReporter, PollLater, submit_once
from vgen.engines.calls import timed_operation
from vgen.engines.cancel import request_upstream_cancel
from vgen.engines.download import download_video
from vgen.engines.upstream_http import UpstreamRules, error_message, send_checked
from vgen.wire.retry_after import poll_after_s

# A 401 on submit means a wrong key (permanent); while polling, it is treated as a credentials
# blip of a job that was already accepted.
_RULES = UpstreamRules(
    transient_statuses=frozenset({408, 409, 425, 429}), transient_when_polling=frozenset({401})
)
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
            raise UpstreamRejected(error_message(video) or "the upstream reported the video failed")
        if status in _PENDING:
            progress = video.get("progress")
            percent = (
                max(0, min(int(progress), 99))
                if isinstance(progress, int | float) and not isinstance(progress, bool)
                else None
            )
            # Never faster than the target's configured pace, slower when the server asks.
            return PollLater(
                max(poll_after_s or 0.0, self._poll_interval_s),
                progress=percent,
                upstream_wait_s=poll_after_s,
            )
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
            payload: dict[str, Any] = {"json": fields}
        else:
            payload = {"data": fields, "files": {"input_reference": await _file_part(image)}}
        answer = await send_checked(
            self._client, "POST", url, during="submit", rules=_RULES, headers=headers, **payload
        )
        upstream_id = answer.body.get("id")
        if not isinstance(upstream_id, str) or not upstream_id:
            raise UpstreamRejected("the upstream's answer to submit carried no video id")
        return upstream_id

    async def _poll(self, upstream_id: str) -> tuple[Mapping[str, Any], float | None]:
        url = f"{self._base}/videos/{upstream_id}"
        answer = await send_checked(
            self._client, "GET", url, during="poll", rules=_RULES, headers=self._auth
        )
        return answer.body, poll_after_s(answer.headers, now=time.time())

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
