"""Wait hints an HTTP server gives: `Retry-After` (RFC 9110 §10.2.3), `openai-poll-after-ms`, and
the `retryDelay` of Google's RetryInfo error detail.

Invariant: a hint is a finite number of seconds, never negative; anything unreadable is no hint
(None), so callers fall back to their own pace instead of acting on garbage.
"""

from __future__ import annotations

import email.utils
import math
from collections.abc import Mapping
from datetime import UTC
from typing import Any


def retry_after_s(value: str | None, *, now: float) -> float | None:
    """Seconds to wait from a `Retry-After` value: delta-seconds, or an HTTP-date (a date in the
    past means "now", 0). `now` is the wall-clock time (epoch seconds) the date is measured from.
    """
    text = (value or "").strip()
    if not text:
        return None
    if text[0] in "+-0123456789.":
        return _seconds(text)  # delta-seconds; a negative or broken number is no hint
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000": RFC 5322's "UTC, origin unknown"
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


def poll_after_s(headers: Mapping[str, str], *, now: float) -> float | None:
    """The pace a server asks for: `openai-poll-after-ms` (API.md §2), else `Retry-After`."""
    millis = _seconds(headers.get("openai-poll-after-ms") or "")
    if millis is not None:
        return millis / 1000
    return retry_after_s(headers.get("retry-after"), now=now)


def google_retry_delay_s(body: Any) -> float | None:
    """The `retryDelay` ("30s", "1.5s": a protobuf Duration in JSON) of the RetryInfo detail in
    a Google API error body `{"error": {"details": [...]}}`."""
    error = body.get("error") if isinstance(body, Mapping) else None
    details = error.get("details") if isinstance(error, Mapping) else None
    for detail in details if isinstance(details, list) else []:
        delay = detail.get("retryDelay") if isinstance(detail, Mapping) else None
        if isinstance(delay, str) and delay.endswith("s"):
            seconds = _seconds(delay[:-1])
            if seconds is not None:
                return seconds
    return None


def _seconds(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) and number >= 0 else None
