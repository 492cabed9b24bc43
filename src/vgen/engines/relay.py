"""`relay`: any server speaking the Veo task dialect — the reseller itself, or another vgen
(ENGINES.md §2). Responses are read by `wire.veo_task`, which the SDK shares.

Invariant: a job is submitted at most once; from the moment the upstream id is known it is
only ever polled (the id is recorded before `advance` returns).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from vgen.domain.errors import EngineError, UpstreamRejected, UpstreamUnavailable
from vgen.engines.base import EngineJob, JobReporter, PollLater, submit_once
from vgen.engines.calls import timed_operation
from vgen.engines.cancel import request_upstream_cancel
from vgen.engines.download import download_video
from vgen.engines.upstream_http import UpstreamRules, error_message, send_checked
from vgen.wire.veo_task import MalformedResponse, RemoteStatus, RemoteTask, read_task

_RULES = UpstreamRules(transient_statuses=frozenset({401, 408, 409, 425, 429}))


class RelayEngine:
    def __init__(
        self,
        *,
        name: str = "relay",
        base_url: str,
        api_key: str | None,
        client: httpx.AsyncClient,
        poll_interval_s: float = 30.0,
        first_poll_s: float | None = None,
        model_map: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self._base = base_url.rstrip("/")
        self._auth = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = client
        self._poll_interval_s = poll_interval_s
        self._first_poll_s = first_poll_s
        self._model_map = dict(model_map or {})

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
            remote = await self._poll(job.upstream_id)
        if remote.status is RemoteStatus.FAILED:
            raise UpstreamRejected(remote.error or "the upstream reported the task failed")
        if remote.status is not RemoteStatus.COMPLETED:
            progress = min(remote.progress, 99) if remote.progress is not None else None
            return PollLater(self._poll_interval_s, progress=progress)
        if not remote.video_url:
            raise EngineError("the upstream finished without a video")
        with timed_operation(self.name, "download"):
            await download_video(self._client, remote.video_url, job.output_path)
        return None

    def submit_body(self, job: EngineJob) -> dict[str, Any]:
        request = job.request
        body: dict[str, Any] = {
            "model": self._model_map.get(request.model, request.model),
            "prompt": request.prompt,
            "resolution": request.resolution.value,
            "aspect_ratio": request.aspect_ratio.value,
        }
        urls = job.image_urls
        if request.references:
            body["input_reference"] = [
                urls[f"input_reference[{i}]"] for i in range(len(request.references))
            ]
        for field in ("first_image", "last_image"):
            if field in urls:
                body[field] = urls[field]
        optional = {"negative_prompt": request.negative_prompt, "seed": request.seed}
        body.update({k: v for k, v in optional.items() if v is not None})
        return body

    async def _submit(self, job: EngineJob) -> str:
        # The task id as Idempotency-Key: if the answer to an accepted submit is lost, an
        # upstream that honours the header (vgen does) hands back the same job, not a new one.
        headers = {**self._auth, "Idempotency-Key": job.task_id}
        url = f"{self._base}/v1/veo/videos"
        body = await self._call(
            "POST", url, during="submit", json=self.submit_body(job), headers=headers
        )
        try:
            return read_task(body, default_status=RemoteStatus.QUEUED).id
        except MalformedResponse as exc:
            raise UpstreamRejected(f"the upstream's answer to submit was unusable: {exc}") from exc

    async def _poll(self, upstream_id: str) -> RemoteTask:
        url = f"{self._base}/v1/result/{upstream_id}"
        body = await self._call("GET", url, during="poll", headers=self._auth)
        try:
            return read_task(body, expected_id=upstream_id)
        except MalformedResponse as exc:
            raise UpstreamUnavailable(f"unreadable poll answer: {exc}") from exc

    async def _call(
        self, method: str, url: str, *, during: str, **options: Any
    ) -> Mapping[str, Any]:
        answer = await send_checked(
            self._client, method, url, during=during, rules=_RULES, **options
        )
        # Resellers wrap answers in `{"code", "msg", "data"}` and may refuse inside an HTTP 200.
        code = answer.body.get("code")
        if isinstance(code, int) and code not in (0, 200):
            raise UpstreamRejected(error_message(answer.body) or f"upstream {during} error {code}")
        return answer.body

    async def cancel_upstream(self, upstream_id: str) -> bool:
        """vgen's own cancel route; a reseller without it answers 404 (nothing more to do)."""
        url = f"{self._base}/v1/veo/videos/{upstream_id}/cancel"
        return await request_upstream_cancel(self._client, "POST", url, headers=self._auth)

    async def aclose(self) -> None:
        """The HTTP client is shared and closed by its owner."""
