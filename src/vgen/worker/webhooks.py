"""`WebhookDeliverer`: sends the outbox's events to their targets, signed per Standard Webhooks.

Invariants (API.md §4, §5): an event is retried with exponential back-off until a 2xx or 24 h
after it was created, so delivery is at least once; every request goes only to an address the
outbound address policy approved, pinned so that DNS cannot swap it between check and connect.
"""

from __future__ import annotations

import http.cookiejar
import logging
import random
import secrets
import socket
from collections.abc import Callable, Mapping
from typing import Any

import anyio
import httpx
import orjson

from vgen import __version__
from vgen.domain.tasks import Task
from vgen.domain.webhooks import EventType, WebhookEvent, WebhookTarget
from vgen.metrics import WEBHOOK_DELIVERIES
from vgen.net.address_policy import AddressError
from vgen.net.pinning import URLRefused, outbound_url, pinned_stream
from vgen.store.store import Store
from vgen.worker.webhook_signature import InvalidSecret, secret_key, signed_headers

log = logging.getLogger(__name__)

Clock = Callable[[], float]
Render = Callable[[Task, float], Mapping[str, Any]]
"""The API.md §1.2 task object at time `now` (the API wires `render_task`, which mints a
fresh `video_url`)."""

RETRY_WINDOW_S = 24 * 3600.0
FIRST_RETRY_S = 5.0
MAX_RETRY_S = 3600.0


def retry_delay_s(attempts: int, *, jitter: float) -> float:
    """Seconds to wait after the `attempts`-th failed attempt: 5, 10, 20, ... capped at 1 h,
    each spread by ±20 % (`jitter` in [0, 1)) so a receiver coming back is not hit by every
    event at once."""
    delay = min(MAX_RETRY_S, FIRST_RETRY_S * 2.0 ** min(max(attempts - 1, 0), 20))
    return delay * (0.8 + 0.4 * jitter)


class AttemptFailed(Exception):
    """One delivery attempt did not get a 2xx; the message says why (stored as `last_error`)."""


def webhook_http_client() -> httpx.AsyncClient:
    """The client deliveries need: no proxies from the environment (a proxy connects by name,
    undoing the pinning), no redirects, and no cookies, which a shared jar would otherwise
    carry from one tenant's receiver to another's behind the same IP."""
    no_cookies = http.cookiejar.CookieJar(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    return httpx.AsyncClient(
        trust_env=False, follow_redirects=False, cookies=no_cookies, timeout=30.0
    )


def _url_and_secret(target: WebhookTarget | None) -> tuple[str, str] | str:
    """Where to send an event and the secret to sign it with, or why it cannot be sent at all
    (it is then skipped)."""
    if target is None:
        return "the task was deleted before its webhook was sent, so its API key is unknown"
    if not target.url:
        return "no webhook target: the task has no callback_url and its API key no webhook_url"
    if not target.secret:
        return "the API key that created the task has no webhook secret to sign with"
    try:
        secret_key(target.secret)
    except InvalidSecret as exc:
        return f"the API key's webhook secret is unusable: {exc}"
    return target.url, target.secret


def _deleted_task_data(event: WebhookEvent) -> dict[str, Any]:
    # API.md §1.2 shows a cancelled task as failed.
    status = "completed" if event.event_type is EventType.COMPLETED else "failed"
    return {"id": event.task_id, "status": status}


class WebhookDeliverer:
    """Claims due outbox events with a lease and delivers up to `concurrency` at a time.

    Give it `webhook_http_client()` (or a client just as bare): requests go to addresses that
    tenants choose, so no default credentials, cookies or proxy.
    """

    def __init__(
        self,
        *,
        store: Store,
        client: httpx.AsyncClient,
        render: Render,
        clock: Clock,
        allow_private: bool,
        owner_id: str | None = None,
        concurrency: int = 32,
        attempt_timeout_s: float = 10.0,
        idle_poll_s: float = 2.0,
        retry_window_s: float = RETRY_WINDOW_S,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._store = store
        self._client = client
        self._render = render
        self._clock = clock
        self._allow_private = allow_private
        self.owner_id = owner_id or f"{socket.gethostname()}-{secrets.token_hex(4)}"
        self._concurrency = concurrency
        self._attempt_timeout_s = attempt_timeout_s
        # Outlives any attempt (bounded by the timeout), so only a dead deliverer's lapses.
        self._lease_s = attempt_timeout_s + 60.0
        self._idle_poll_s = idle_poll_s
        self._retry_window_s = retry_window_s
        self._jitter = jitter
        self._wake = anyio.Event()

    def wake(self) -> None:
        """Look for due events now (e.g. right after a task ended in this process)."""
        self._wake.set()

    async def run(self) -> None:
        """Deliver until cancelled, sleeping until the next event falls due (at most
        `idle_poll_s`, since other processes add events too) or `wake()`."""
        while True:
            try:
                claimed = await self.deliver_due()
                pause_s = 0.0 if claimed >= self._concurrency else await self._pause_s()
            except Exception:  # a failed pass (database down) must not stop the next one
                log.exception("webhook delivery pass failed")
                pause_s = self._idle_poll_s
            if pause_s > 0:
                with anyio.move_on_after(pause_s):
                    await self._wake.wait()
                self._wake = anyio.Event()

    async def deliver_due(self) -> int:
        """One pass: claim the events due now (up to `concurrency`) and make one attempt at
        each, concurrently. Returns how many were claimed."""
        events = await self._store.outbox.claim_due(
            self.owner_id, now=self._clock(), lease_s=self._lease_s, limit=self._concurrency
        )
        async with anyio.create_task_group() as group:
            for event in events:
                group.start_soon(self._deliver_guarded, event)
        return len(events)

    async def _pause_s(self) -> float:
        due_at = await self._store.outbox.next_due_at()
        if due_at is None:
            return self._idle_poll_s
        # A floor, so an event due but won by another process cannot make this loop spin.
        return min(self._idle_poll_s, max(0.05, due_at - self._clock()))

    async def _deliver_guarded(self, event: WebhookEvent) -> None:
        try:
            await self._deliver(event)
        except Exception:
            # The lease lapses and the event is tried again; the others go on meanwhile.
            log.exception("webhook delivery crashed", extra=_log_extra(event))

    async def _deliver(self, event: WebhookEvent) -> None:
        route = _url_and_secret(await self._store.outbox.find_target(event))
        if isinstance(route, str):
            await self._skip(event, route)
            return
        url, secret = route
        now = self._clock()
        body = await self._body(event, now=now)
        headers = signed_headers(secret, msg_id=event.id, timestamp=int(now), body=body)
        try:
            await self._post(url, body=body, headers=headers)
        except AttemptFailed as exc:
            await self._after_failure(event, url=url, error=str(exc))
            return
        if not await self._store.outbox.mark_delivered(
            event.id, self.owner_id, url=url, now=self._clock()
        ):
            log.warning("webhook delivered after its lease lapsed", extra=_log_extra(event))
        WEBHOOK_DELIVERIES.labels(outcome="delivered").inc()
        log.info("webhook delivered", extra=_log_extra(event))

    async def _body(self, event: WebhookEvent, *, now: float) -> bytes:
        task = await self._store.tasks.get(event.tenant_id, event.task_id)
        data = self._render(task, now) if task is not None else _deleted_task_data(event)
        payload = {"type": event.event_type.value, "timestamp": int(event.created_at), "data": data}
        return orjson.dumps(payload)

    async def _post(self, url: str, *, body: bytes, headers: dict[str, str]) -> None:
        """One POST; returns on a 2xx and raises AttemptFailed on anything else."""
        try:
            target = outbound_url(url)
        except URLRefused as exc:
            raise AttemptFailed(f"the webhook URL {exc.message}") from exc
        try:
            with anyio.fail_after(self._attempt_timeout_s):
                async with pinned_stream(
                    self._client,
                    "POST",
                    target,
                    allow_private=self._allow_private,
                    headers={**headers, "User-Agent": f"vgen-webhooks/{__version__}"},
                    content=body,
                ) as response:
                    status = response.status_code  # the body is never read
        except AddressError as exc:
            raise AttemptFailed(f"target refused: {exc.message}") from exc
        except TimeoutError as exc:
            raise AttemptFailed(f"no answer within {self._attempt_timeout_s:g} s") from exc
        except httpx.ConnectError as exc:
            raise AttemptFailed("could not connect to the webhook URL") from exc
        except (httpx.HTTPError, httpx.StreamError) as exc:
            raise AttemptFailed(f"the request failed ({type(exc).__name__})") from exc
        if not 200 <= status < 300:
            note = " (redirects are not followed)" if 300 <= status < 400 else ""
            raise AttemptFailed(f"the webhook URL answered HTTP {status}{note}")

    async def _after_failure(self, event: WebhookEvent, *, url: str, error: str) -> None:
        now = self._clock()
        give_up_at = event.created_at + self._retry_window_s
        extra = {**_log_extra(event), "attempts": event.attempts}
        if now >= give_up_at:
            await self._store.outbox.give_up(event.id, self.owner_id, url=url, error=error)
            WEBHOOK_DELIVERIES.labels(outcome="gave_up").inc()
            log.warning("webhook given up: %s", error, extra=extra)
            return
        # The last attempt lands on the end of the window rather than past it.
        next_at = min(now + retry_delay_s(event.attempts, jitter=self._jitter()), give_up_at)
        await self._store.outbox.reschedule(
            event.id, self.owner_id, url=url, error=error, next_attempt_at=next_at
        )
        WEBHOOK_DELIVERIES.labels(outcome="retry").inc()
        log.info("webhook attempt failed, retrying: %s", error, extra=extra)

    async def _skip(self, event: WebhookEvent, reason: str) -> None:
        await self._store.outbox.skip(event.id, self.owner_id, reason=reason)
        log.info("webhook skipped: %s", reason, extra=_log_extra(event))


def _log_extra(event: WebhookEvent) -> dict[str, str]:
    return {"task_id": event.task_id, "webhook_id": event.id}
