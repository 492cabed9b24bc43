"""A webhook receiver that checks every delivery with the `standardwebhooks` package (an
implementation independent of vgen's). Knobs: answer 500 to the first N requests, then a fixed
status (e.g. 307 or 503); hold the first N requests before answering; set a cookie."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


@dataclass(frozen=True)
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes
    payload: Any = None  # the verified, parsed body (None without a secret or when refused)
    refusal: str | None = None  # why verification failed


@dataclass
class WebhookReceiver:
    secret: str | None = None
    fail_first: int = 0
    status: int = 204
    delay_first: int = 0
    delay_s: float = 0.0
    cookie: str | None = None  # a Set-Cookie header to send with every answer
    deliveries: list[Delivery] = field(default_factory=list)

    @property
    def verified(self) -> list[Any]:
        return [d.payload for d in self.deliveries if d.payload is not None]

    @property
    def ids(self) -> list[str]:
        return [d.headers.get("webhook-id", "") for d in self.deliveries]

    async def _receive(self, request: Request) -> Response:
        body = await request.body()
        headers = dict(request.headers)
        payload, refusal = None, None
        if self.secret is not None:
            try:
                payload = Webhook(self.secret).verify(body, headers)
            except WebhookVerificationError as exc:
                refusal = str(exc)
        number = len(self.deliveries)
        self.deliveries.append(Delivery(request.url.path, headers, body, payload, refusal))
        if number < self.delay_first:
            await asyncio.sleep(self.delay_s)
        if refusal is not None:
            return Response(refusal, status_code=400)
        if number < self.fail_first:
            return Response("receiver down", status_code=500)
        headers = {"location": "/elsewhere"} if 300 <= self.status < 400 else {}
        if self.cookie is not None:
            headers["set-cookie"] = self.cookie
        return Response(status_code=self.status, headers=headers)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/{path:path}", self._receive, methods=["POST"])])
