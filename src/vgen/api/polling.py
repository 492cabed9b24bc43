"""The fast path for status polling, the hottest request a task service gets.

`GET /v1/result/{id}` and its aliases are answered by `VgenApp.__call__` before FastAPI's own
request handling (telemetry checks, middleware, routing, dependency injection cost several
times the request itself). The behaviour is the route's in `api/veo.py`: same auth, same body,
same errors via `api/errors.response_for`.
"""

from __future__ import annotations

import functools
import logging
import re
import time

import orjson
from fastapi import FastAPI
from prometheus_client import Counter, Histogram
from starlette.types import Message, Receive, Scope, Send

from vgen.api.deps import Services
from vgen.api.errors import internal_error, response_for
from vgen.api.veo import poll_headers_for, render_task
from vgen.domain.errors import NotFound, VgenError
from vgen.domain.states import TaskState
from vgen.metrics import HTTP_LATENCY, HTTP_REQUESTS

log = logging.getLogger(__name__)

_POLL_ROUTE = "/v1/result/{task_id}"
# Label values must stay few: any other method a client invents is counted as OTHER.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_POLL_PATH = re.compile(r"^(?:/kyyReactApiServer/v1|/v1)?/(?:result|veo/videos)/([^/]+)$")


class VgenApp(FastAPI):
    """FastAPI, with status polls answered before FastAPI's own request handling, and every
    HTTP request counted and timed for `/metrics` by its route template."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client sees if the app fails before answering
        route = _POLL_ROUTE

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            match = _POLL_PATH.match(scope["path"]) if scope["method"] == "GET" else None
            if match is not None:
                services = self.state.services
                await answer_poll(services, match.group(1), scope, receive, send_noting_status)
            else:
                await super().__call__(scope, receive, send_noting_status)
                matched = scope.get("route")
                route = getattr(matched, "path", None) or "unmatched"
        finally:
            method = scope["method"] if scope["method"] in _METHODS else "OTHER"
            count, latency = _series(method, route, status)
            count.inc()
            latency.observe(time.perf_counter() - started)


async def answer_poll(
    services: Services, task_id: str, scope: Scope, receive: Receive, send: Send
) -> None:
    try:
        _key, task = await services.auth.authenticate_poll(
            _header(scope, b"authorization"), task_id
        )
        if task is None:
            raise NotFound(f"No task with id '{task_id}'.")
        body = orjson.dumps(render_task(services, task, now=time.time()))
    except VgenError as exc:
        await response_for(exc)(scope, receive, send)
        return
    except Exception:
        log.exception("unhandled error answering a status poll")
        await internal_error()(scope, receive, send)
        return
    headers = [(b"content-length", str(len(body)).encode()), *_fixed_headers(task.state)]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@functools.cache
def _series(method: str, route: str, status: int) -> tuple[Counter, Histogram]:
    """The request counter and latency histogram of one (method, route, status); looked up
    once, since `labels()` costs more than the observation itself."""
    return HTTP_REQUESTS.labels(method, route, str(status)), HTTP_LATENCY.labels(method, route)


@functools.cache
def _fixed_headers(state: TaskState) -> tuple[tuple[bytes, bytes], ...]:
    """Content type and poll hints, encoded once per state (they depend on nothing else)."""
    hints = poll_headers_for(state) or {}
    encoded = tuple((k.lower().encode(), v.encode()) for k, v in hints.items())
    return ((b"content-type", b"application/json"), *encoded)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            decoded: str = value.decode("latin-1")
            return decoded
    return None
