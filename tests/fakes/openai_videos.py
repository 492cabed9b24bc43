"""A fake OpenAI Videos server (API.md §2, as vLLM-Omni / LiteLLM serve it) under `/v1`: JSON or
multipart create, polling until done, content download with `Range`. Knobs: 401, 429 (with
Retry-After) or 502 for the next N requests, garbage JSON, failed jobs, rejected submits, done
without content, a download cut mid-stream. Every request is recorded."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.streaming import video_response


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    fields: dict[str, Any] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    is_multipart: bool = False


@dataclass
class FakeVideo:
    id: str
    model: str
    prompt: str
    seconds: str
    size: str
    polls_until_done: int
    polls: int = 0
    fail_with: tuple[str, str] | None = None


def _error(message: str, status: int, code: str, **headers: str) -> JSONResponse:
    body = {"error": {"message": message, "type": "invalid_request_error", "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)


@dataclass
class OpenAIVideosFake:
    video: bytes = b""
    polls_until_done: int = 3
    poll_after_ms: int | None = None
    rate_limited: int = 0
    retry_after_s: str = "7"
    unavailable: int = 0
    garbage: int = 0
    unauthorized: int = 0
    reject_submits_with: str | None = None
    fail_with: tuple[str, str] | None = None
    no_content: bool = False
    cut_after_bytes: int | None = None
    cuts_left: int = 0
    requests: list[RecordedRequest] = field(default_factory=list)
    videos: dict[str, FakeVideo] = field(default_factory=dict)
    submits: int = 0
    base_url: str = ""

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/videos", self._create, methods=["POST"]),
                Route("/v1/videos/{video_id}", self._retrieve, methods=["GET"]),
                Route("/v1/videos/{video_id}", self._delete, methods=["DELETE"]),
                Route("/v1/videos/{video_id}/content", self._content, methods=["GET"]),
            ]
        )

    @property
    def content_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith("/content")]

    async def _delete(self, request: Request) -> Response:
        await self._record(request)
        if (trouble := self._trouble()) is not None:
            return trouble
        video_id = request.path_params["video_id"]
        if self.videos.pop(video_id, None) is None:
            return _error("No such video", 404, "not_found")
        return JSONResponse({"id": video_id, "object": "video.deleted", "deleted": True})

    def _trouble(self) -> Response | None:
        if self.unauthorized > 0:
            self.unauthorized -= 1
            return _error("Incorrect API key provided", 401, "invalid_api_key")
        if self.rate_limited > 0:
            self.rate_limited -= 1
            return _error(
                "Rate limit reached",
                429,
                "rate_limit_exceeded",
                **{"Retry-After": self.retry_after_s},
            )
        if self.unavailable > 0:
            self.unavailable -= 1
            return Response("<html>502 Bad Gateway</html>", status_code=502)
        if self.garbage > 0:
            self.garbage -= 1
            return Response("{not json", status_code=200, media_type="application/json")
        return None

    async def _record(self, request: Request) -> RecordedRequest:
        recorded = RecordedRequest(request.method, request.url.path, dict(request.headers))
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("multipart/form-data"):
            recorded.is_multipart = True
            async with request.form() as form:
                for key, value in form.multi_items():
                    if isinstance(value, UploadFile):
                        recorded.files[key] = await value.read()
                    else:
                        recorded.fields[key] = value
        elif content_type.startswith("application/json"):
            recorded.fields = await request.json()
        self.requests.append(recorded)
        return recorded

    async def _create(self, request: Request) -> Response:
        recorded = await self._record(request)
        if (trouble := self._trouble()) is not None:
            return trouble
        if self.reject_submits_with:
            return _error(self.reject_submits_with, 400, "invalid_value")
        self.submits += 1
        fields = recorded.fields
        video = FakeVideo(
            id=f"video_{self.submits:04d}",
            model=fields["model"],
            prompt=fields["prompt"],
            seconds=fields["seconds"],
            size=fields["size"],
            polls_until_done=self.polls_until_done,
            fail_with=self.fail_with,
        )
        self.videos[video.id] = video
        return JSONResponse(self._object(video, "queued", 0))

    async def _retrieve(self, request: Request) -> Response:
        await self._record(request)
        if (trouble := self._trouble()) is not None:
            return trouble
        video = self.videos.get(request.path_params["video_id"])
        if video is None:
            return _error("Video not found", 404, "not_found")
        video.polls += 1
        if video.polls < video.polls_until_done:
            progress = int(100 * video.polls / video.polls_until_done)
            headers = {}
            if self.poll_after_ms is not None:
                headers["openai-poll-after-ms"] = str(self.poll_after_ms)
            return JSONResponse(self._object(video, "in_progress", progress), headers=headers)
        if video.fail_with:
            body = self._object(video, "failed", 100)
            body["error"] = {"code": video.fail_with[0], "message": video.fail_with[1]}
            return JSONResponse(body)
        return JSONResponse(self._object(video, "completed", 100))

    def _object(self, video: FakeVideo, status: str, progress: int) -> dict[str, Any]:
        return {
            "id": video.id,
            "object": "video",
            "model": video.model,
            "status": status,
            "progress": progress,
            "created_at": 1_700_000_000,
            "completed_at": 1_700_000_100 if status == "completed" else None,
            "expires_at": 1_700_086_400 if status == "completed" else None,
            "seconds": video.seconds,
            "size": video.size,
            "prompt": video.prompt,
            "error": None,
        }

    async def _content(self, request: Request) -> Response:
        await self._record(request)
        if (trouble := self._trouble()) is not None:
            return trouble
        video = self.videos.get(request.path_params["video_id"])
        if video is None or self.no_content or request.query_params.get("variant") != "video":
            return _error("Video content not found", 404, "not_found")
        return self._stream(request.headers.get("range"))

    def _stream(self, range_header: str | None) -> Response:
        cut = self.cut_after_bytes if self.cuts_left > 0 else None
        if cut is not None:
            self.cuts_left -= 1
        return video_response(self.video, range_header, cut_after=cut)
