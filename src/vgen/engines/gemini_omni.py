"""`gemini_omni`: Gemini Omni video through the Gemini API's Interactions API (ENGINES.md §1c):
`POST /v1beta/interactions` with `background: true`, then `GET /v1beta/interactions/{id}`.

Invariant: an interaction is created at most once; from the moment Google names it, it is only
ever polled. Shapes were pinned from python-genai's generated Interactions types; where sources
disagree the reader accepts each (docs/engines.md says which parts are confirmed).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import anyio.to_thread
import httpx

from vgen.domain.catalog import Resolution
from vgen.domain.errors import ContentFiltered, EngineError, UpstreamRejected, UpstreamUnavailable
from vgen.engines.base import EngineJob, JobReporter, PollLater, submit_once
from vgen.engines.calls import timed_operation
from vgen.engines.cancel import request_upstream_cancel
from vgen.engines.download import download_video
from vgen.engines.gemini import DEFAULT_GEMINI_BASE_URL, list_gemini_models
from vgen.engines.upstream_http import UpstreamRules, send_checked
from vgen.engines.veo_predict import inline_image

DEFAULT_OMNI_MODELS: Mapping[str, str] = MappingProxyType(
    {"gemini_omni_flash": "gemini-omni-flash-preview"}
)
_RESOLUTIONS = {Resolution.P720: "720p", Resolution.P1080: "1080p", Resolution.K4: "4k"}
_RULES = UpstreamRules(label="Gemini Interactions")
_RUNNING = frozenset({"queued", "in_progress"})
_SAFETY_WORDS = ("safety", "blocked", "policy", "prohibited")


class GeminiOmniEngine:
    """Gemini Omni models behind the Interactions API (same key and base as `gemini`)."""

    def __init__(
        self,
        *,
        name: str = "gemini_omni",
        api_key: str,
        client: httpx.AsyncClient,
        base_url: str = DEFAULT_GEMINI_BASE_URL,
        model_map: Mapping[str, str] | None = None,
        poll_interval_s: float = 10.0,
        first_poll_s: float | None = None,
    ) -> None:
        self.name = name
        self._base = base_url.rstrip("/")
        self._auth = {"x-goog-api-key": api_key}
        self._client = client
        self._model_map = {**DEFAULT_OMNI_MODELS, **(model_map or {})}
        self._poll_interval_s = poll_interval_s
        self._first_poll_s = first_poll_s

    def model_for(self, public_model: str) -> str:
        return self._model_map.get(public_model, public_model)

    async def available_models(self) -> frozenset[str]:
        """The model ids this key may use (`GET /v1beta/models`)."""
        return await list_gemini_models(self._client, self._base, headers=self._auth)

    async def advance(self, job: EngineJob, reporter: JobReporter) -> PollLater | None:
        """Create the interaction once, then poll it once per call; store the video when done."""
        if job.upstream_id is None:
            return await submit_once(
                self.name, lambda: self._create(job), job, reporter, first_poll_s=self._first_poll_s
            )
        with timed_operation(self.name, "poll"):
            answer = await send_checked(
                self._client,
                "GET",
                f"{self._base}/v1beta/interactions/{job.upstream_id}",
                during="poll",
                rules=_RULES,
                headers=self._auth,
            )
        status = str(answer.body.get("status") or "").lower()
        if status != "completed":
            if status in _RUNNING or not status:
                return PollLater(self._poll_interval_s)
            raise _failure(answer.body, status)
        video = _output_video(answer.body)
        with timed_operation(self.name, "download"):
            await self._store(video, job.output_path)
        return None

    async def create_body(self, job: EngineJob) -> dict[str, Any]:
        """Text and images as one list of content blocks; the video's shape in `response_format`."""
        request = job.request
        content: list[dict[str, Any]] = [{"type": "text", "text": request.prompt}]
        fields = ["first_image", *(f"input_reference[{i}]" for i in range(len(request.references)))]
        for field_name in fields:
            if field_name in job.images:
                image = await inline_image(job.images[field_name])
                content.append(
                    {
                        "type": "image",
                        "data": image["bytesBase64Encoded"],
                        "mime_type": image["mimeType"],
                    }
                )
        task = (
            "reference_to_video"
            if request.references
            else "image_to_video"
            if "first_image" in job.images
            else "text_to_video"
        )
        return {
            "model": self.model_for(request.model),
            "input": content,
            "response_modalities": ["video"],
            "response_format": {
                "type": "video",
                "aspect_ratio": request.aspect_ratio.value,
                "resolution": _RESOLUTIONS[request.resolution],
                "duration": f"{request.duration_s}s",
            },
            "generation_config": {"video_config": {"task": task}},
            "background": True,
        }

    async def _create(self, job: EngineJob) -> str:
        answer = await send_checked(
            self._client,
            "POST",
            f"{self._base}/v1beta/interactions",
            during="submit",
            rules=_RULES,
            json=await self.create_body(job),
            headers=self._auth,
        )
        ident = answer.body.get("id") or answer.body.get("name")
        if not isinstance(ident, str) or not ident:
            raise UpstreamUnavailable("the Interactions API's answer named no interaction")
        return ident.removeprefix("interactions/")

    async def _store(self, video: Mapping[str, Any], target: Path) -> None:
        data = video.get("data")
        if isinstance(data, str) and data:
            await anyio.to_thread.run_sync(_write_base64, data, target)
            return
        uri = video.get("uri")
        if not isinstance(uri, str) or not uri:
            raise EngineError("Gemini Omni finished without a video")
        await download_video(self._client, uri, target, headers=self._auth)

    async def cancel_upstream(self, upstream_id: str) -> bool:
        url = f"{self._base}/v1beta/interactions/{upstream_id}/cancel"
        return await request_upstream_cancel(self._client, "POST", url, headers=self._auth)

    async def aclose(self) -> None:
        """The HTTP client is shared and closed by its owner."""


def _output_video(interaction: Mapping[str, Any]) -> Mapping[str, Any]:
    """The video of a completed interaction: `output_video`, else the last video block of the
    model's output steps (or of `outputs`, the older shape); no video is a block or a fault."""
    blocks: list[Mapping[str, Any]] = _output_blocks(interaction)
    direct = interaction.get("output_video")
    if isinstance(direct, Mapping):
        blocks.append({**direct, "type": "video"})
    videos = [block for block in blocks if block.get("type") == "video"]
    if videos:
        return videos[-1]
    said = " ".join(str(b.get("text")) for b in blocks if b.get("type") == "text" and b.get("text"))
    if said:
        raise ContentFiltered(said)
    raise EngineError("Gemini Omni finished without a video")


def _output_blocks(interaction: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    steps = interaction.get("steps")
    contents = [
        step.get("content")
        for step in (steps if isinstance(steps, list) else [])
        if isinstance(step, Mapping) and step.get("type") == "model_output"
    ]
    contents.append(interaction.get("outputs"))
    return [
        block
        for content in contents
        if isinstance(content, list)
        for block in content
        if isinstance(block, Mapping)
    ]


def _failure(interaction: Mapping[str, Any], status: str) -> EngineError:
    """A finished interaction without success: a safety block, or Google's own message."""
    errors = interaction.get("errors")
    error = interaction.get("error")
    first = errors[0] if isinstance(errors, list) and errors else error
    message = str(first.get("message") or "") if isinstance(first, Mapping) else ""
    message = message or f"Gemini Omni interaction ended {status}"
    if any(word in message.lower() for word in _SAFETY_WORDS):
        return ContentFiltered(message)
    return UpstreamRejected(message)


def _write_base64(data: str, target: Path) -> None:
    try:
        target.write_bytes(base64.b64decode(data, validate=True))
    except binascii.Error as exc:
        raise EngineError("Gemini Omni sent a video that is not valid base64") from exc
