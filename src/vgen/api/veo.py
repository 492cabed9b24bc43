"""Routes of the Veo task dialect (API.md §1), served under `/v1`, `/kyyReactApiServer/v1`
and the bare aliases, so a client built for the reseller only changes its host."""

from __future__ import annotations

import functools
import hashlib
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.routing import APIRoute
from starlette.responses import Response

from vgen.api.body import parse_json, read_limited
from vgen.api.deps import ClockDep, KeyDep, Services, ServicesDep
from vgen.api.veo_wire import parse_create, parse_idempotency_key
from vgen.domain.errors import InvalidRequest, NotFound
from vgen.domain.states import TaskState
from vgen.domain.tasks import Task, TaskStatus
from vgen.wire.veo_task_body import created_body

# `create_app` mounts this router under each prefix: clients built for the reseller only change
# their host.
PREFIXES = ("/v1", "/kyyReactApiServer/v1", "")
# The documented status path; request metrics count the polls of every alias under it.
POLL_ROUTE = "/v1/result/{task_id}"
_POLL_AFTER_S = {TaskState.QUEUED: 2, TaskState.PROCESSING: 2}
_MAX_PAGE = 100

# A ready-to-send 200: the body and its raw ASGI headers (content-length included).
PollAnswer = tuple[bytes, list[tuple[bytes, bytes]]]


def json_response(body: Any, *, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), media_type="application/json", headers=headers)


def request_hash(body: Any) -> str:
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


def render_task(services: Services, task: Task | TaskStatus, *, now: float) -> dict[str, Any]:
    """The §1.2 body; `video_url` is minted fresh, never past the archive's retention end."""
    return services.task_bodies(task, now)


def poll_headers(task: Task | TaskStatus) -> dict[str, str] | None:
    """Retry-After / openai-poll-after-ms while a task is not terminal (API.md §1.2)."""
    return poll_headers_for(task.state)


def poll_headers_for(state: TaskState) -> dict[str, str] | None:
    seconds = _POLL_AFTER_S.get(state)
    if seconds is None:
        return None
    return {"Retry-After": str(seconds), "openai-poll-after-ms": str(seconds * 1000)}


async def answer_poll(
    services: Services, task_id: str, *, authorization: str | None, now: float
) -> PollAnswer:
    """The answer to a status poll (API.md §1.2): the documented route and the fast path
    (`api/middleware/poll_fast_path.py`) both answer through here.

    Raises:
        AuthenticationFailed, RateLimited: as for any request (`Authenticator`).
        NotFound: no such task for the caller's tenant.
    """
    task = await services.auth.authenticate_poll(authorization, task_id)
    if task is None:
        raise NotFound(f"No task with id '{task_id}'.")
    queue = None
    if task.state is TaskState.QUEUED:
        queue = await services.queue.estimate(task.id, engine=task.engine, model=task.model)
    body = services.task_bodies.encoded(task, now, queue)
    return body, [(b"content-length", str(len(body)).encode()), *_fixed_headers(task.state)]


@functools.cache
def _fixed_headers(state: TaskState) -> tuple[tuple[bytes, bytes], ...]:
    """Content type and poll hints, encoded once per state (they depend on nothing else)."""
    hints = poll_headers_for(state) or {}
    encoded = tuple((k.lower().encode(), v.encode()) for k, v in hints.items())
    return ((b"content-type", b"application/json"), *encoded)


def poll_paths() -> list[str]:
    """Every path template `get_video` answers at (each of `PREFIXES` × each of its routes):
    the fast path's table, derived from the routes themselves."""
    aliases = [r.path for r in router.routes if isinstance(r, APIRoute) and r.endpoint is get_video]
    return [prefix + alias for prefix in PREFIXES for alias in aliases]


router = APIRouter()


@router.post("/veo/videos")
async def create_video(request: Request, key: KeyDep, services: ServicesDep) -> Response:
    """Create a video task. Answers at once with status `queued`; poll `GET /v1/result/{id}`."""
    raw = await read_limited(request, max_bytes=services.settings.max_body_bytes)
    body = parse_json(raw)
    video_request = parse_create(body, max_prompt_chars=services.settings.max_prompt_chars)
    idempotency_key = parse_idempotency_key(request.headers.get("idempotency-key"))
    task = await services.tasks.create(
        key.tenant_id,
        video_request,
        idempotency_key=idempotency_key,
        request_hash=request_hash(body) if idempotency_key else None,
        key=key,
    )
    return json_response(created_body(task))


@router.post("/veo/videos/{task_id}/cancel")
async def cancel_video(
    task_id: str, key: KeyDep, services: ServicesDep, clock: ClockDep
) -> Response:
    """Cancel a queued or processing task; it then shows `failed` with error "cancelled".
    A task that already ended answers 409."""
    task = await services.tasks.cancel(key.tenant_id, task_id)
    return json_response(render_task(services, task, now=clock()))


@router.get("/result/{task_id}")
@router.get("/veo/videos/{task_id}")
async def get_video(
    task_id: str, request: Request, services: ServicesDep, clock: ClockDep
) -> Response:
    """A task's status, progress and, once completed, a signed `video_url`.

    Send `Authorization: Bearer <key>` as for every request.
    """
    # Polls are normally answered by `api/middleware/poll_fast_path.py` before routing, through
    # the same `answer_poll`; this route documents the endpoint in OpenAPI.
    body, headers = await answer_poll(
        services, task_id, authorization=request.headers.get("authorization"), now=clock()
    )
    response = Response(body)
    response.raw_headers = headers
    return response


@router.get("/veo/videos")
async def list_videos(
    key: KeyDep,
    services: ServicesDep,
    clock: ClockDep,
    limit: str = "20",
    after: str | None = None,
) -> Response:
    """The caller's tasks, newest first. Page on with `after=<last id of the previous page>`."""
    size = page_size(limit)
    page, has_more = await services.tasks.list(key.tenant_id, limit=size, after=after)
    now = clock()
    data = [render_task(services, task, now=now) for task in page]
    return json_response(
        {
            "object": "list",
            "data": data,
            "first_id": page[0].id if page else None,
            "last_id": page[-1].id if page else None,
            "has_more": has_more,
        }
    )


def page_size(limit: str) -> int:
    """The `limit` query parameter of a list request, 1 to 100."""
    if not limit.isdigit() or not 1 <= int(limit) <= _MAX_PAGE:
        raise InvalidRequest(f"limit must be a whole number from 1 to {_MAX_PAGE}.", param="limit")
    return int(limit)
