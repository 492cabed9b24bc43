"""`gemini`: Google Veo through the Gemini API's long-running predict (ENGINES.md §1).

Invariant: a job is submitted at most once; from the moment Google names the operation it is
only ever polled (the name is recorded before `advance` returns).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import httpx

from vgen.domain.errors import ContentFiltered, EngineError, UpstreamRejected, UpstreamUnavailable
from vgen.engines.base import EngineJob, JobReporter, PollLater, submit_once
from vgen.engines.calls import timed_operation
from vgen.engines.cancel import request_upstream_cancel
from vgen.engines.download import download_video
from vgen.engines.upstream_http import UpstreamRules, checked_json, send_checked, translated
from vgen.engines.veo_predict import veo_predict_body

DEFAULT_GEMINI_BASE_URL = "https://generativelanguage.googleapis.com"
# The Veo models the Gemini API serves (docs/engines.md, "Sources"): Veo 3.1 exists here only
# as preview models; the Veo 3.0 models the `_stable` names used to reach were retired, so they
# go to Veo 3.1 as well. For the GA models use the `vertex` engine.
DEFAULT_GEMINI_MODELS: Mapping[str, str] = MappingProxyType(
    {
        "veo_3_1_pro": "veo-3.1-generate-preview",
        "veo_3_1_fast": "veo-3.1-fast-generate-preview",
        "veo_3_1_pro_stable": "veo-3.1-generate-preview",
        "veo_3_1_fast_stable": "veo-3.1-fast-generate-preview",
        "veo_3_1_lite": "veo-3.1-lite-generate-preview",
    }
)
_MODEL_PAGE_SIZE = 1000
_MAX_MODEL_PAGES = 20

_RULES = UpstreamRules(label="Gemini")


class GeminiEngine:
    """Veo models behind `POST /v1beta/models/{model}:predictLongRunning`.

    `model_map` entries override (and extend) `DEFAULT_GEMINI_MODELS`; a public model missing
    from both is sent to Google under its own name.
    """

    def __init__(
        self,
        *,
        name: str = "gemini",
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
        self._model_map = {**DEFAULT_GEMINI_MODELS, **(model_map or {})}
        self._poll_interval_s = poll_interval_s
        self._first_poll_s = first_poll_s

    async def advance(self, job: EngineJob, reporter: JobReporter) -> PollLater | None:
        """Submit once, then poll the operation once per call; download when it is done."""
        if job.upstream_id is None:
            return await submit_once(
                self.name,
                lambda: self._submit(job),
                job,
                reporter,
                first_poll_s=self._first_poll_s,
            )
        with timed_operation(self.name, "poll"):
            operation = await self._poll(job.upstream_id)
        if operation.get("done") is not True:
            return PollLater(self._poll_interval_s, progress=_progress(operation))
        uri = _video_uri(operation)
        # The URI redirects to storage; the shared client follows redirects.
        with timed_operation(self.name, "download"):
            await download_video(self._client, uri, job.output_path, headers=self._auth)
        return None

    def model_for(self, public_model: str) -> str:
        return self._model_map.get(public_model, public_model)

    async def submit_body(self, job: EngineJob) -> dict[str, Any]:
        """The predictLongRunning body: one instance with inline images, and parameters."""
        return await veo_predict_body(job)

    async def available_models(self) -> frozenset[str]:
        """The model ids this key may use (`GET /v1beta/models`, every page).

        Raises:
            UpstreamUnavailable / UpstreamRejected: as for any call (a refused key is rejected).
        """
        return await list_gemini_models(self._client, self._base, headers=self._auth)

    async def _submit(self, job: EngineJob) -> str:
        model = self.model_for(job.request.model)
        body = await self.submit_body(job)
        url = f"{self._base}/v1beta/models/{model}:predictLongRunning"
        with translated("submit", label=_RULES.label):
            response = await self._client.request("POST", url, json=body, headers=self._auth)
        if response.status_code == 404:
            raise UpstreamRejected(_missing_model_message(job.request.model, model))
        name = checked_json(response, during="submit", rules=_RULES).get("name")
        if not isinstance(name, str) or not name:
            raise UpstreamUnavailable("Gemini's answer to submit named no operation")
        return name

    async def _poll(self, operation_name: str) -> Mapping[str, Any]:
        url = f"{self._base}/v1beta/{operation_name.lstrip('/')}"
        answer = await send_checked(
            self._client, "GET", url, during="poll", rules=_RULES, headers=self._auth
        )
        return answer.body

    async def cancel_upstream(self, upstream_id: str) -> bool:
        """The long-running operation's `:cancel` method."""
        url = f"{self._base}/v1beta/{upstream_id.lstrip('/')}:cancel"
        return await request_upstream_cancel(self._client, "POST", url, headers=self._auth)

    async def aclose(self) -> None:
        """The HTTP client is shared and closed by its owner."""


async def list_gemini_models(
    client: httpx.AsyncClient, base_url: str, *, headers: Mapping[str, str]
) -> frozenset[str]:
    """Every model id (`models/` dropped) that `GET {base}/v1beta/models` lists, page by page."""
    found: set[str] = set()
    page_token = ""
    for _ in range(_MAX_MODEL_PAGES):
        params = {"pageSize": _MODEL_PAGE_SIZE, **({"pageToken": page_token} if page_token else {})}
        answer = await send_checked(
            client,
            "GET",
            f"{base_url.rstrip('/')}/v1beta/models",
            during="model list",
            rules=_RULES,
            params=params,
            headers=headers,
        )
        models = answer.body.get("models")
        for entry in models if isinstance(models, list) else []:
            name = entry.get("name") if isinstance(entry, Mapping) else None
            if isinstance(name, str):
                found.add(name.removeprefix("models/"))
        page_token = str(answer.body.get("nextPageToken") or "")
        if not page_token:
            break
    return frozenset(found)


def _missing_model_message(public_model: str, upstream_model: str) -> str:
    """What a user reads on the task when Google no longer serves the mapped model."""
    return (
        f"The Gemini API has no model '{upstream_model}' (retired, or not available to this "
        f"API key), so {public_model} cannot run there. Set VGEN_VERTEX_PROJECT to serve Veo "
        f"from Vertex AI, or map {public_model} to a model the key can use in vgen.toml "
        f'([targets.NAME] models = {{ {public_model} = "…" }}); `vgen engines` lists '
        "which configured models exist."
    )


def _video_uri(operation: Mapping[str, Any]) -> str:
    """The video of a finished operation, or the reason there is none.

    A finished operation cannot change any more, so every failure here is permanent.
    """
    error = operation.get("error")
    if isinstance(error, Mapping):
        status = error.get("status") or error.get("code") or "error"
        raise UpstreamRejected(str(error.get("message") or f"Veo generation failed ({status})"))
    result = _field(operation, "response", "generateVideoResponse")
    samples = _field(result, "generatedSamples")
    if not isinstance(samples, list) or not samples:
        reasons = _field(result, "raiMediaFilteredReasons")
        if isinstance(reasons, list) and reasons:
            raise ContentFiltered("; ".join(str(reason) for reason in reasons))
        raise ContentFiltered("The video was blocked by Google's safety filter.")
    uri = _field(samples[0], "video", "uri")
    if not isinstance(uri, str) or not uri:
        raise EngineError("Gemini finished without a video")
    return uri


def _progress(operation: Mapping[str, Any]) -> int | None:
    """Google may announce `metadata.progressPercent`; without it, progress stays unknown."""
    value = _field(operation, "metadata", "progressPercent")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return max(0, min(int(value), 99))


def _field(value: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value
