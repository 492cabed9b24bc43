"""A fake reseller speaking the Veo task dialect with the quirks of ENGINES.md §2: the
`{"code","msg","data"}` envelope, `taskId`, upper-case and synonym statuses, `result_url`,
errors in `msg`. Knobs: answer 429 (with Retry-After), 503 or garbage JSON for the next N
requests; serve a video with a connection cut after N bytes; expire video URLs; finish jobs
after N polls, or `job_seconds` after their submit on a given `clock`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.fakes.streaming import video_response


@dataclass
class FakeJob:
    id: str
    prompt: str
    polls_until_done: int = 2
    polls: int = 0
    fail_with: str | None = None
    done_at: float | None = None


@dataclass
class ResellerFake:
    video: bytes = b""
    rate_limited: int = 0
    retry_after_s: str = "3"
    unavailable: int = 0
    garbage: int = 0
    cut_after_bytes: int | None = None
    cuts_left: int = 0
    expired_urls: set[str] = field(default_factory=set)
    jobs: dict[str, FakeJob] = field(default_factory=dict)
    jobs_by_key: dict[str, str] = field(default_factory=dict)
    creates: list[dict[str, Any]] = field(default_factory=list)
    idempotency_keys: list[str | None] = field(default_factory=list)
    submitted_keys: list[str | None] = field(default_factory=list)
    """The Idempotency-Key of every submit that reached the job logic, repeats included."""
    video_requests: list[dict[str, str]] = field(default_factory=list)
    polls_until_done: int = 2
    reject_submits_with: str | None = None
    done_without_video: bool = False
    submit_delay_s: float = 0.0
    clock: Callable[[], float] | None = None
    job_seconds: float | None = None
    """With `clock`: a job is done this long after its submit (not after a number of polls)."""
    """How long a submit's answer takes once the job is made (a slow upstream)."""
    base_url: str = ""
    requests_seen: int = 0
    cancels: list[str] = field(default_factory=list)
    """Every request that reached the fake, whatever it answered."""

    def app(self) -> ASGIApp:
        app = Starlette(
            routes=[
                Route("/v1/veo/videos", self._create, methods=["POST"]),
                Route("/v1/veo/videos/{task_id}/cancel", self._cancel, methods=["POST"]),
                Route("/v1/result/{task_id}", self._result),
                Route("/v1/veo/videos", self._list),
                Route("/files/{name}", self._file, methods=["GET"]),
            ]
        )

        async def counted(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http":
                self.requests_seen += 1
            await app(scope, receive, send)

        return counted

    def _throttled(self) -> Response | None:
        if self.rate_limited > 0:
            self.rate_limited -= 1
            return JSONResponse(
                {"code": 429, "msg": "too many requests"},
                status_code=429,
                headers={"Retry-After": self.retry_after_s},
            )
        if self.unavailable > 0:
            self.unavailable -= 1
            return Response("upstream busy", status_code=503)
        if self.garbage > 0:
            self.garbage -= 1
            return Response("{not json", status_code=200, media_type="application/json")
        return None

    async def _create(self, request: Request) -> Response:
        if (throttled := self._throttled()) is not None:
            return throttled
        body = await request.json()
        if self.reject_submits_with:
            return JSONResponse({"code": 400, "msg": self.reject_submits_with}, status_code=400)
        key = request.headers.get("idempotency-key")
        self.submitted_keys.append(key)
        if key and key in self.jobs_by_key:
            # Like vgen itself, the fake honours Idempotency-Key: a repeated submit whose
            # answer was lost gets the original job back.
            return JSONResponse({"code": 0, "data": {"taskId": self.jobs_by_key[key]}})
        self.creates.append(body)
        self.idempotency_keys.append(key)
        job = FakeJob(
            id=f"r{len(self.creates):04d}",
            prompt=body["prompt"],
            polls_until_done=self.polls_until_done,
        )
        if self.clock is not None and self.job_seconds is not None:
            job.done_at = self.clock() + self.job_seconds
        if "fail" in body["prompt"]:
            job.fail_with = "Content policy violation: prompt rejected"
        self.jobs[job.id] = job
        if key:
            self.jobs_by_key[key] = job.id
        await anyio.sleep(self.submit_delay_s)  # the job exists; its id is not known yet
        return JSONResponse({"code": 0, "msg": "success", "data": {"taskId": job.id}})

    async def _result(self, request: Request) -> Response:
        if (throttled := self._throttled()) is not None:
            return throttled
        job = self.jobs.get(request.path_params["task_id"])
        if job is None:
            return JSONResponse({"code": 404, "msg": "task not found"}, status_code=404)
        job.polls += 1
        data: dict[str, Any] = {"task_id": job.id}
        if job.done_at is not None and self.clock is not None:
            running = self.clock() < job.done_at
        else:
            running = job.polls < job.polls_until_done
        if running:
            data.update(status="RUNNING", progress=f"{40 * job.polls}%")
        elif job.fail_with:
            data.update(status="error", msg=job.fail_with)
        elif self.done_without_video:
            data.update(status="succeeded")
        else:
            data.update(status="SUCCESS", result_url=f"{self.base_url}/files/{job.id}.mp4")
        return JSONResponse({"code": 0, "msg": "ok", "data": data})

    async def _cancel(self, request: Request) -> Response:
        job = self.jobs.get(request.path_params["task_id"])
        if job is None:
            return JSONResponse({"code": 404, "msg": "task not found"}, status_code=404)
        self.cancels.append(job.id)
        return JSONResponse({"code": 0, "data": {"task_id": job.id, "status": "cancelled"}})

    async def _list(self, _request: Request) -> Response:
        items = [{"taskId": j.id, "status": "Pending"} for j in reversed(self.jobs.values())]
        return JSONResponse({"code": 0, "data": {"items": items}})

    async def _file(self, request: Request) -> Response:
        name = request.path_params["name"]
        self.video_requests.append(dict(request.headers))
        if name in self.expired_urls:
            self.expired_urls.discard(name)
            return Response("expired", status_code=403)
        cut = self.cut_after_bytes if self.cuts_left > 0 else None
        if cut is not None:
            self.cuts_left -= 1
        return video_response(self.video, request.headers.get("range"), cut_after=cut)
