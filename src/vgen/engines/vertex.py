"""`vertex`: Google Veo on Vertex AI (ENGINES.md §1b): `predictLongRunning`, then
`fetchPredictOperation`, with a google-auth bearer token.

Invariant: a job is submitted at most once; from the moment Vertex names the operation it is only
ever polled, and the operation name alone (persisted as the upstream id) is enough to poll it.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import quote

import anyio.to_thread
import httpx

from vgen.domain.errors import ContentFiltered, EngineError, UpstreamRejected, UpstreamUnavailable
from vgen.engines.base import EngineJob, JobReporter, PollLater, submit_once
from vgen.engines.calls import timed_operation
from vgen.engines.cancel import request_upstream_cancel
from vgen.engines.download import download_video
from vgen.engines.google_credentials import GoogleCredentials
from vgen.engines.upstream_http import UpstreamAnswer, UpstreamRules, checked_json, translated
from vgen.engines.veo_predict import veo_predict_body

DEFAULT_VERTEX_LOCATION = "us-central1"
DEFAULT_STORAGE_BASE_URL = "https://storage.googleapis.com"
# The GA models (Vertex AI "Veo 3.1" model page; python-genai's tests use `veo-3.1-*-001` on
# Vertex). The `_stable` public models go to them too: GA *is* the stable line on Vertex, and
# the Veo 3.0 models they used to name were retired.
DEFAULT_VERTEX_MODELS: Mapping[str, str] = MappingProxyType(
    {
        "veo_3_1_pro": "veo-3.1-generate-001",
        "veo_3_1_fast": "veo-3.1-fast-generate-001",
        "veo_3_1_pro_stable": "veo-3.1-generate-001",
        "veo_3_1_fast_stable": "veo-3.1-fast-generate-001",
        "veo_3_1_lite": "veo-3.1-lite-generate-001",
    }
)
# A 401 while polling is a token that lapsed between refresh and use: asked again, not failed.
_RULES = UpstreamRules(label="Vertex AI", transient_when_polling=frozenset({401}))


def vertex_base_url(location: str) -> str:
    """Google's regional endpoint; `global` has its own host."""
    if location == "global":
        return "https://aiplatform.googleapis.com"
    return f"https://{location}-aiplatform.googleapis.com"


class VertexEngine:
    """Veo models on one Google Cloud project and location.

    `model_map` entries override (and extend) `DEFAULT_VERTEX_MODELS`; a public model missing
    from both is sent under its own name.
    """

    def __init__(
        self,
        *,
        name: str = "vertex",
        project: str,
        location: str = DEFAULT_VERTEX_LOCATION,
        credentials: GoogleCredentials,
        client: httpx.AsyncClient,
        base_url: str | None = None,
        storage_uri: str | None = None,
        storage_base_url: str = DEFAULT_STORAGE_BASE_URL,
        model_map: Mapping[str, str] | None = None,
        poll_interval_s: float = 10.0,
        first_poll_s: float | None = None,
    ) -> None:
        self.name = name
        self._base = (base_url or vertex_base_url(location)).rstrip("/")
        self._parent = f"projects/{project}/locations/{location}"
        self._credentials = credentials
        self._client = client
        self._storage_uri = storage_uri
        self._storage_base = storage_base_url.rstrip("/")
        self._model_map = {**DEFAULT_VERTEX_MODELS, **(model_map or {})}
        self._poll_interval_s = poll_interval_s
        self._first_poll_s = first_poll_s

    def model_for(self, public_model: str) -> str:
        return self._model_map.get(public_model, public_model)

    def model_url(self, model: str) -> str:
        return f"{self._base}/v1/{self._parent}/publishers/google/models/{model}"

    async def advance(self, job: EngineJob, reporter: JobReporter) -> PollLater | None:
        """Submit once, then poll the operation once per call; store the video when done."""
        if job.upstream_id is None:
            return await submit_once(
                self.name, lambda: self._submit(job), job, reporter, first_poll_s=self._first_poll_s
            )
        with timed_operation(self.name, "poll"):
            operation = await self._poll(job.upstream_id, job)
        if operation.get("done") is not True:
            return PollLater(self._poll_interval_s)
        video = _finished_video(operation)
        with timed_operation(self.name, "download"):
            await self._store(video, job.output_path)
        return None

    async def submit_body(self, job: EngineJob) -> dict[str, Any]:
        """The Gemini API's body plus what Vertex adds: audio on, and the GCS output prefix."""
        body = await veo_predict_body(job)
        body["parameters"]["generateAudio"] = True
        if self._storage_uri:
            body["parameters"]["storageUri"] = self._storage_uri
        return body

    async def _submit(self, job: EngineJob) -> str:
        url = f"{self.model_url(self.model_for(job.request.model))}:predictLongRunning"
        answer = await self._send("POST", url, during="submit", json=await self.submit_body(job))
        name = answer.body.get("name")
        if not isinstance(name, str) or not name:
            raise UpstreamUnavailable("Vertex AI's answer to submit named no operation")
        return name

    async def _poll(self, operation_name: str, job: EngineJob) -> Mapping[str, Any]:
        # The operation lives under its model: `…/publishers/google/models/{m}/operations/{op}`.
        model_resource, found, _ = operation_name.partition("/operations/")
        url = (
            f"{self._base}/v1/{model_resource}:fetchPredictOperation"
            if found
            else f"{self.model_url(self.model_for(job.request.model))}:fetchPredictOperation"
        )
        answer = await self._send(
            "POST", url, during="poll", json={"operationName": operation_name}
        )
        return answer.body

    async def _send(self, method: str, url: str, *, during: str, **options: Any) -> UpstreamAnswer:
        """One call with the cached token; a 401 means the token went stale: one retry with a
        fresh one (a second 401 is the credentials' fault)."""
        for attempt in range(2):
            token = await self._credentials.token()
            headers = {"Authorization": f"Bearer {token}"}
            with translated(during, label=_RULES.label):
                response = await self._client.request(method, url, headers=headers, **options)
            if response.status_code != 401 or attempt == 1:
                break
            self._credentials.invalidate(token)
        return UpstreamAnswer(checked_json(response, during=during, rules=_RULES), response.headers)

    async def _store(self, video: Mapping[str, Any], target: Path) -> None:
        inline = video.get("bytesBase64Encoded")
        if isinstance(inline, str) and inline:
            await anyio.to_thread.run_sync(_write_base64, inline, target)
            return
        uri = video.get("gcsUri")
        if not isinstance(uri, str) or not uri.startswith("gs://"):
            raise EngineError("Vertex AI finished without a video")
        bucket, _, obj = uri.removeprefix("gs://").partition("/")
        url = f"{self._storage_base}/storage/v1/b/{bucket}/o/{quote(obj, safe='')}?alt=media"
        token = await self._credentials.token()
        await download_video(
            self._client, url, target, headers={"Authorization": f"Bearer {token}"}
        )

    async def cancel_upstream(self, upstream_id: str) -> bool:
        """The long-running operation's `:cancel` method."""
        token = await self._credentials.token()
        url = f"{self._base}/v1/{upstream_id.lstrip('/')}:cancel"
        return await request_upstream_cancel(
            self._client, "POST", url, headers={"Authorization": f"Bearer {token}"}
        )

    async def aclose(self) -> None:
        """The HTTP client is shared and closed by its owner."""


def _finished_video(operation: Mapping[str, Any]) -> Mapping[str, Any]:
    """The first video of a finished operation, or the permanent reason there is none."""
    error = operation.get("error")
    if isinstance(error, Mapping):
        status = error.get("status") or error.get("code") or "error"
        raise UpstreamRejected(str(error.get("message") or f"Veo generation failed ({status})"))
    response = operation.get("response")
    result = response if isinstance(response, Mapping) else {}
    videos = result.get("videos")
    if isinstance(videos, list) and videos and isinstance(videos[0], Mapping):
        return videos[0]
    reasons = result.get("raiMediaFilteredReasons")
    if isinstance(reasons, list) and reasons:
        raise ContentFiltered("; ".join(str(reason) for reason in reasons))
    if result.get("raiMediaFilteredCount"):
        raise ContentFiltered("The video was blocked by Google's safety filter.")
    raise EngineError("Vertex AI finished without a video")


def _write_base64(data: str, target: Path) -> None:
    try:
        target.write_bytes(base64.b64decode(data, validate=True))
    except binascii.Error as exc:
        raise EngineError("Vertex AI sent a video that is not valid base64") from exc
