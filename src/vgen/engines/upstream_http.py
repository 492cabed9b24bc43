"""The engines' one upstream HTTP edge: httpx errors and upstream answers become domain errors.

Invariant: no httpx exception leaves a call made through `translated`, and a checked answer is
either a JSON object or an `UpstreamUnavailable` (retry, with the upstream's wait hint) or an
`UpstreamRejected` (fail the task, with the upstream's own message).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from vgen.domain.errors import UpstreamRejected, UpstreamUnavailable
from vgen.wire.retry_after import google_retry_delay_s, retry_after_s
from vgen.wire.veo_task import read_error


@dataclass(frozen=True)
class UpstreamRules:
    """How one upstream dialect's answers read.

    `transient_statuses` are the 4xx worth asking again (every 5xx is); `transient_when_polling`
    are those that are transient only once a job was accepted (a 401 while polling is a
    credentials blip, while on submit it means a wrong key). `label` names the upstream in
    messages.
    """

    label: str = "upstream"
    transient_statuses: frozenset[int] = frozenset({408, 425, 429})
    transient_when_polling: frozenset[int] = frozenset()


@dataclass(frozen=True)
class UpstreamAnswer:
    body: Mapping[str, Any]
    headers: httpx.Headers


async def send_checked(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    during: str,
    rules: UpstreamRules,
    **options: Any,
) -> UpstreamAnswer:
    """Send one request (`options` as for `httpx.AsyncClient.request`) and check the answer;
    `during` names the step in messages ("submit", "poll").

    Raises:
        UpstreamUnavailable: the upstream could not be reached, or answered in a way that
            asking again may change.
        UpstreamRejected: the upstream refused for good.
    """
    with translated(during, label=rules.label):
        response = await client.request(method, url, **options)
    return UpstreamAnswer(checked_json(response, during=during, rules=rules), response.headers)


@contextmanager
def translated(during: str, *, label: str = "upstream") -> Iterator[None]:
    """Turn httpx's errors into domain errors, most specific first (httpx's own
    `map_httpcore_exceptions` is the model)."""
    try:
        yield
    except httpx.InvalidURL as exc:
        # The URL was built from the target's settings or an upstream id: asking again cannot help.
        raise UpstreamRejected(f"{label} {during} has an invalid URL: {exc}") from exc
    except (httpx.TransportError, httpx.DecodingError, httpx.TooManyRedirects) as exc:
        # Timeouts, refused connections, cut streams, garbled encodings: the next try may work.
        raise UpstreamUnavailable(f"{label} {during} failed: {exc.__class__.__name__}") from exc


def checked_json(
    response: httpx.Response, *, during: str, rules: UpstreamRules
) -> Mapping[str, Any]:
    """The JSON object of a successful answer, else the domain error its status means."""
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    if status < 400 and isinstance(body, Mapping):
        return body
    message = error_message(body)
    polling = during == "poll"
    if status >= 400 and not (
        status >= 500
        or status in rules.transient_statuses
        or (polling and status in rules.transient_when_polling)
    ):
        raise UpstreamRejected(message or f"{rules.label} {during} answered HTTP {status}")
    what = f"HTTP {status}" if status >= 400 else f"unreadable JSON (HTTP {status})"
    detail = f": {message}" if message else ""
    raise UpstreamUnavailable(
        f"{rules.label} {during} answered {what}{detail}", retry_after_s=wait_hint_s(response, body)
    )


def error_message(body: Any) -> str | None:
    """A short human message from an upstream's error body, in its common shapes: `error` (a
    string, or an object with `message` as OpenAI and Google send it), FastAPI's `detail`,
    `message`/`msg`, and the same inside a `{"code", "msg", "data": {...}}` envelope."""
    if not isinstance(body, Mapping):
        return None
    detail = body.get("detail")
    if isinstance(detail, Mapping):
        detail = detail.get("message")
    data = body.get("data")
    return (
        read_error(body)
        or (detail if isinstance(detail, str) and detail else None)
        or (read_error(data) if isinstance(data, Mapping) else None)
    )


def wait_hint_s(response: httpx.Response, body: Any = None) -> float | None:
    """The upstream's `Retry-After`, else the `retryDelay` of Google's RetryInfo in the body."""
    # The wall clock is read here, at the I/O edge, only to measure an HTTP-date against.
    hint = retry_after_s(response.headers.get("retry-after"), now=time.time())
    return hint if hint is not None else google_retry_delay_s(body)
