"""Every HTTP request counted and timed for `/metrics` by (method, route template, status).

`RequestMetrics` counts every request that reaches it; the route template is whatever
`scope["route"]` names once the request is answered. The status-poll fast path sits outside it
and counts the polls it answers itself, through `count_request` (one ASGI layer and two
wrapped sends less on the hottest request), so every request is still counted once.
"""

from __future__ import annotations

import functools
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vgen.metrics import HTTP_REQUESTS
from vgen.request_tally import RequestCount, RequestLatency

# Label values must stay few: any other method a client invents is counted as OTHER.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class RequestMetrics:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client sees if the app fails before answering

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            count_request(scope["method"], route, status, started)


def count_request(method: str, route: str, status: int, started: float) -> None:
    """Count one answered request; `started` is its `time.perf_counter()` on arrival."""
    count, latency = _series(method if method in _METHODS else "OTHER", route, status)
    count.value += 1
    latency.observe(time.perf_counter() - started)


@functools.cache
def _series(method: str, route: str, status: int) -> tuple[RequestCount, RequestLatency]:
    """The request count and latency histogram of one (method, route, status); looked up
    once, since the lookup costs more than the update itself."""
    return HTTP_REQUESTS.series((method, route, str(status)), (method, route))
