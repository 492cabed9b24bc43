"""A fake Gemini API speaking Veo's long-running predict (ENGINES.md §1): submit, operations,
and a download URI that redirects to the file. Knobs: 429 (with Retry-After) or 503 for the next
N requests, garbage JSON, a hang, a safety-blocked result, an operation error, a rejected submit
and download URLs that answer 403 ("expired") the first time. Every request is recorded."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any = None


@dataclass
class FakeOperation:
    name: str
    model: str
    polls_until_done: int
    polls: int = 0


@dataclass
class GeminiFake:
    video: bytes = b""
    polls_until_done: int = 2
    rate_limited: int = 0
    retry_after_s: str = "3"
    unavailable: int = 0
    garbage: int = 0
    hang_s: float = 0.0
    short_operation_names: bool = False
    blocked_reasons: list[str] | None = None
    operation_error: dict[str, Any] | None = None
    reject_submits_with: str | None = None
    expired_downloads: int = 0
    served_models: list[str] | None = None
    """Models the key may use: others answer 404 as retired ones do (None: every model)."""
    models_page_size: int = 2
    base_url: str = ""
    requests: list[RecordedRequest] = field(default_factory=list)
    submits: list[RecordedRequest] = field(default_factory=list)
    operations: dict[str, FakeOperation] = field(default_factory=dict)
    cancelled: list[str] = field(default_factory=list)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1beta/models", self._list_models),
                Route("/v1beta/models/{model}:predictLongRunning", self._submit, methods=["POST"]),
                Route(
                    "/v1beta/models/{model}/operations/{op}:cancel", self._cancel, methods=["POST"]
                ),
                Route("/v1beta/models/{model}/operations/{op}", self._operation),
                Route("/v1beta/operations/{op}", self._operation),
                Route("/v1beta/files/{file}", self._download),
                Route("/media/{file}", self._media),
            ]
        )

    async def _cancel(self, request: Request) -> Response:
        await self._record(request)
        op = self.operations.get(request.path_params["op"])
        if op is None:
            return JSONResponse({"error": {"code": 404, "message": "not found"}}, status_code=404)
        self.cancelled.append(request.path_params["op"])
        return JSONResponse({})

    async def _record(self, request: Request) -> RecordedRequest:
        raw = await request.body()
        recorded = RecordedRequest(request.method, request.url.path, dict(request.headers))
        if raw:
            try:
                recorded.body = await request.json()
            except ValueError:
                recorded.body = raw
        self.requests.append(recorded)
        return recorded

    async def _trouble(self) -> Response | None:
        if self.hang_s:
            await asyncio.sleep(self.hang_s)
        if self.rate_limited > 0:
            self.rate_limited -= 1
            return _error(429, "Resource has been exhausted.", "RESOURCE_EXHAUSTED", self)
        if self.unavailable > 0:
            self.unavailable -= 1
            return _error(503, "The service is currently unavailable.", "UNAVAILABLE")
        if self.garbage > 0:
            self.garbage -= 1
            return Response("<html>oops{", media_type="application/json")
        return None

    async def _submit(self, request: Request) -> Response:
        recorded = await self._record(request)
        if (trouble := await self._trouble()) is not None:
            return trouble
        if self.reject_submits_with:
            return _error(400, self.reject_submits_with, "INVALID_ARGUMENT")
        model = request.path_params["model"]
        if self.served_models is not None and model not in self.served_models:
            message = (
                f"models/{model} is not found for API version v1beta, or is not supported for "
                "predictLongRunning. Call ListModels to see the list of available models and "
                "their supported methods."
            )
            return _error(404, message, "NOT_FOUND")
        self.submits.append(recorded)
        op = f"op{len(self.submits):04d}"
        name = (
            f"operations/{op}" if self.short_operation_names else f"models/{model}/operations/{op}"
        )
        self.operations[op] = FakeOperation(name, model, self.polls_until_done)
        return JSONResponse({"name": name})

    async def _list_models(self, request: Request) -> Response:
        """`models.list`, paged as Google pages it (`pageSize`, `nextPageToken`)."""
        await self._record(request)
        if request.headers.get("x-goog-api-key") in (None, "", "wrong"):
            return _error(
                400, "API key not valid. Please pass a valid API key.", "INVALID_ARGUMENT"
            )
        names = self.served_models if self.served_models is not None else []
        start = int(request.query_params.get("pageToken") or 0)
        size = min(int(request.query_params.get("pageSize") or 50), self.models_page_size)
        body: dict[str, Any] = {
            "models": [{"name": f"models/{name}"} for name in names[start : start + size]]
        }
        if start + size < len(names):
            body["nextPageToken"] = str(start + size)
        return JSONResponse(body)

    async def _operation(self, request: Request) -> Response:
        await self._record(request)
        if (trouble := await self._trouble()) is not None:
            return trouble
        operation = self.operations.get(request.path_params["op"])
        if operation is None:
            return _error(404, "Operation not found.", "NOT_FOUND")
        operation.polls += 1
        body: dict[str, Any] = {"name": operation.name}
        if operation.polls < operation.polls_until_done:
            body["metadata"] = {
                "progressPercent": 100 * operation.polls // operation.polls_until_done
            }
            body["done"] = False
        elif self.operation_error is not None:
            body.update(done=True, error=self.operation_error)
        else:
            body.update(done=True, response={"generateVideoResponse": self._result(operation)})
        return JSONResponse(body)

    def _result(self, operation: FakeOperation) -> dict[str, Any]:
        if self.blocked_reasons is not None:
            return {
                "raiMediaFilteredCount": 1,
                "raiMediaFilteredReasons": self.blocked_reasons,
            }
        uri = f"{self.base_url}/v1beta/files/{operation.name.rsplit('/', 1)[1]}:download?alt=media"
        return {"generatedSamples": [{"video": {"uri": uri}}]}

    async def _download(self, request: Request) -> Response:
        await self._record(request)
        if self.expired_downloads > 0:
            self.expired_downloads -= 1
            return _error(403, "The file has expired.", "PERMISSION_DENIED")
        file = request.path_params["file"].removesuffix(":download")
        return RedirectResponse(f"{self.base_url}/media/{file}.mp4", status_code=302)

    async def _media(self, request: Request) -> Response:
        await self._record(request)
        return Response(self.video, media_type="video/mp4")

    def requests_to(self, prefix: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.startswith(prefix)]


def _error(status: int, message: str, code: str, fake: GeminiFake | None = None) -> Response:
    headers = {"Retry-After": fake.retry_after_s} if fake is not None else None
    return JSONResponse(
        {"error": {"code": status, "message": message, "status": code}},
        status_code=status,
        headers=headers,
    )
