"""A fake Gemini Interactions API (ENGINES.md §1c) for Gemini Omni: `POST /v1beta/interactions`
(background), `GET /v1beta/interactions/{id}`, `POST …/{id}/cancel`, and a file URI for large
videos. Knobs: where the video arrives (an inline block in a `model_output` step, a URI, or
`output_video`), 429 with Retry-After, 503, a safety block, a failed interaction. Every request
is recorded."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.gemini import RecordedRequest


@dataclass
class FakeInteraction:
    id: str
    model: str
    polls: int = 0


@dataclass
class InteractionsFake:
    video: bytes = b""
    delivery: str = "inline"  # inline | uri | output_video
    polls_until_done: int = 2
    rate_limited: int = 0
    retry_after_s: str = "4"
    unavailable: int = 0
    safety_block: bool = False
    failure: str | None = None
    base_url: str = ""
    requests: list[RecordedRequest] = field(default_factory=list)
    creates: list[RecordedRequest] = field(default_factory=list)
    interactions: dict[str, FakeInteraction] = field(default_factory=dict)
    cancelled: list[str] = field(default_factory=list)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1beta/interactions", self._create, methods=["POST"]),
                Route("/v1beta/interactions/{id}", self._get),
                Route("/v1beta/interactions/{id}/cancel", self._cancel, methods=["POST"]),
                Route("/files/{id}.mp4", self._file),
            ]
        )

    async def _record(self, request: Request) -> RecordedRequest:
        raw = await request.body()
        recorded = RecordedRequest(request.method, request.url.path, dict(request.headers))
        recorded.body = json.loads(raw) if raw else None
        self.requests.append(recorded)
        return recorded

    def _trouble(self) -> Response | None:
        if self.rate_limited > 0:
            self.rate_limited -= 1
            return _error(
                429, "Resource has been exhausted.", "RESOURCE_EXHAUSTED", self.retry_after_s
            )
        if self.unavailable > 0:
            self.unavailable -= 1
            return _error(503, "The service is currently unavailable.", "UNAVAILABLE")
        return None

    async def _create(self, request: Request) -> Response:
        recorded = await self._record(request)
        if (trouble := self._trouble()) is not None:
            return trouble
        self.creates.append(recorded)
        ident = f"v1_omni{len(self.creates):04d}"
        model = str(recorded.body.get("model"))
        self.interactions[ident] = FakeInteraction(ident, model)
        return JSONResponse(
            {"id": ident, "object": "interaction", "model": model, "status": "in_progress"}
        )

    async def _get(self, request: Request) -> Response:
        await self._record(request)
        if (trouble := self._trouble()) is not None:
            return trouble
        interaction = self.interactions.get(request.path_params["id"])
        if interaction is None:
            return _error(404, "Interaction not found.", "NOT_FOUND")
        interaction.polls += 1
        body: dict[str, Any] = {"id": interaction.id, "object": "interaction"}
        if interaction.polls < self.polls_until_done:
            return JSONResponse({**body, "status": "in_progress"})
        if self.safety_block:
            message = "The request was blocked by our safety policy (prohibited content)."
            return JSONResponse(
                {**body, "status": "failed", "errors": [{"code": 3, "message": message}]}
            )
        if self.failure is not None:
            return JSONResponse(
                {**body, "status": "failed", "errors": [{"code": 13, "message": self.failure}]}
            )
        video: dict[str, Any] = {"type": "video", "mime_type": "video/mp4"}
        if self.delivery == "uri":
            video["uri"] = f"{self.base_url}/files/{interaction.id}.mp4"
        else:
            video["data"] = base64.b64encode(self.video).decode()
        steps = [
            {"type": "user_input", "content": [{"type": "text", "text": "…"}]},
            {"type": "thought", "signature": "c2ln"},
        ]
        if self.delivery == "output_video":
            body["output_video"] = {k: v for k, v in video.items() if k != "type"}
        else:
            steps.append({"type": "model_output", "content": [video]})
        return JSONResponse({**body, "status": "completed", "steps": steps})

    async def _cancel(self, request: Request) -> Response:
        await self._record(request)
        if request.path_params["id"] not in self.interactions:
            return _error(404, "Interaction not found.", "NOT_FOUND")
        self.cancelled.append(request.path_params["id"])
        return JSONResponse({"id": request.path_params["id"], "status": "cancelled"})

    async def _file(self, request: Request) -> Response:
        await self._record(request)
        return Response(self.video, media_type="video/mp4")


def _error(status: int, message: str, code: str, retry_after: str | None = None) -> Response:
    return JSONResponse(
        {"error": {"code": status, "message": message, "status": code}},
        status_code=status,
        headers={"Retry-After": retry_after} if retry_after else None,
    )
