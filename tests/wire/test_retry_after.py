"""The one Retry-After parser, shared by the engines' upstream edge and the SDK."""

from __future__ import annotations

import email.utils

import pytest

from vgen.wire.retry_after import google_retry_delay_s, poll_after_s, retry_after_s

NOW = 1_700_000_000.0


def _http_date(epoch_s: float) -> str:
    return email.utils.formatdate(epoch_s, usegmt=True)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("7", 7.0),
        (" 120 ", 120.0),
        ("1.5", 1.5),
        ("0", 0.0),
        (_http_date(NOW + 30), 30.0),
        (_http_date(NOW - 30), 0.0),  # a date in the past: retry now
        ("Tue, 14 Nov 2023 22:13:50 -0000", 30.0),  # no zone: RFC 5322 reads it as UTC
    ],
    ids=["seconds", "padded", "fraction", "zero", "date", "past-date", "date-without-zone"],
)
def test_delta_seconds_and_http_dates_become_seconds_from_now(value: str, seconds: float) -> None:
    assert retry_after_s(value, now=NOW) == seconds


@pytest.mark.parametrize(
    "value", [None, "", "soon", "-3", "-0.5", "inf", "nan", "1e999", "Wed, 99 Foo 2015"]
)
def test_absent_negative_or_garbage_values_are_no_hint(value: str | None) -> None:
    assert retry_after_s(value, now=NOW) is None


def test_poll_after_ms_wins_over_retry_after() -> None:
    headers = {"openai-poll-after-ms": "2500", "retry-after": "9"}

    assert poll_after_s(headers, now=NOW) == 2.5
    assert poll_after_s({"openai-poll-after-ms": "soon", "retry-after": "9"}, now=NOW) == 9.0
    assert poll_after_s({}, now=NOW) is None


@pytest.mark.parametrize(
    ("body", "seconds"),
    [
        ({"error": {"details": [{"retryDelay": "31s"}]}}, 31.0),
        ({"error": {"details": [{"@type": "x"}, {"retryDelay": "0.5s"}]}}, 0.5),
        ({"error": {"details": [{"retryDelay": "soon"}]}}, None),
        ({"error": {"details": [{"retryDelay": "-4s"}]}}, None),
        ({"error": {"message": "no details"}}, None),
        ("<html>", None),
    ],
)
def test_google_retry_info_delay_is_read_from_the_error_body(
    body: object, seconds: float | None
) -> None:
    assert google_retry_delay_s(body) == seconds
