"""Status polls (`GET /v1/result/{id}` and its aliases) answered before routing.

The hottest request a task service gets skips FastAPI's routing and dependency injection, which
cost several times the request itself. It answers through `veo.answer_poll`, the function the
documented route answers through, so both give the same bytes (a test pins that).

It is the outermost layer and counts the polls it answers for `/metrics` itself
(`request_metrics.count_request`, as `RequestMetrics` counts every other request): wrapping
`send` to learn a status it already knows would cost the poll a layer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection
from dataclasses import dataclass

from starlette.datastructures import State
from starlette.types import ASGIApp, Receive, Scope, Send

from vgen.api.errors import internal_error, response_for
from vgen.api.middleware.request_metrics import count_request
from vgen.api.veo import answer_poll
from vgen.domain.errors import VgenError

log = logging.getLogger(__name__)

_TASK_ID = "/{task_id}"


@dataclass(frozen=True)
class _NamedRoute:
    """Stands in for the route the router would have matched: the ASGI scope's `route` is where
    `RequestMetrics` (like any observer) reads the template a request is counted under."""

    path: str


class PollFastPath:
    """Answers a `GET` whose path matches one of `paths` (templates `<prefix>/{task_id}`) and
    passes anything else on. Reads the services and the clock from the app's `state`, where
    routes read them too (the lifespan puts the services there)."""

    def __init__(self, app: ASGIApp, *, state: State, paths: Collection[str], route: str) -> None:
        if route not in paths or not all(path.endswith(_TASK_ID) for path in paths):
            raise ValueError("expected templates '<prefix>/{task_id}', the route among them")
        self.app = app
        self._state = state
        # A set lookup per request instead of a regex (`{task_id}` matches `[^/]+`).
        self._prefixes = frozenset(path.removesuffix(_TASK_ID) for path in paths)
        self._route = _NamedRoute(route)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            prefix, _, task_id = scope["path"].rpartition("/")
            if task_id and prefix in self._prefixes:
                scope["route"] = self._route
                await self._answer(scope, receive, send, task_id)
                return
        await self.app(scope, receive, send)

    async def _answer(self, scope: Scope, receive: Receive, send: Send, task_id: str) -> None:
        started = time.perf_counter()
        state = self._state
        status = 500  # counted if even the error answer fails
        try:
            try:
                body, headers = await answer_poll(
                    state.services,
                    task_id,
                    authorization=_header(scope, b"authorization"),
                    now=state.clock(),
                )
            except VgenError as exc:
                error = response_for(exc)
                status = error.status_code
                await error(scope, receive, send)
                return
            except Exception:
                log.exception("unhandled error answering a status poll")
                await internal_error()(scope, receive, send)
                return
            status = 200
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body})
        finally:
            count_request("GET", self._route.path, status, started)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            decoded: str = value.decode("latin-1")
            return decoded
    return None
