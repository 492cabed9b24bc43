"""Typed fields read out of a decoded request body (JSON object or form), shared by the dialects.

Every rejection is an `InvalidRequest` naming its `param`; nothing here knows a dialect's rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vgen.domain.catalog import AspectRatio, Resolution
from vgen.domain.errors import InvalidRequest
from vgen.domain.fair_share import Priority


def required_str(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if value is None:
        raise InvalidRequest(
            f"Missing required parameter: '{name}'.", param=name, code="missing_required_parameter"
        )
    return checked_str(value, name)


def optional_str(body: Mapping[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None or value == "":
        return None
    return checked_str(value, name)


def checked_str(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise InvalidRequest(f"'{name}' must be a string.", param=name)
    if "\x00" in value:
        # PostgreSQL text cannot hold NUL; no legitimate prompt or URL contains one.
        raise InvalidRequest(f"'{name}' must not contain NUL characters.", param=name)
    return value


def prompt(body: Mapping[str, Any], *, max_chars: int) -> str:
    """The trimmed, non-empty `prompt` of at most `max_chars` characters."""
    text = required_str(body, "prompt").strip()
    if not text:
        raise InvalidRequest("prompt must not be empty.", param="prompt")
    if len(text) > max_chars:
        raise InvalidRequest(
            f"prompt is {len(text)} characters; the limit is {max_chars}.", param="prompt"
        )
    return text


def as_int(value: Any) -> int | None:
    """A whole number given as int, integral float or digit string; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def seed(body: Mapping[str, Any]) -> int | None:
    value = body.get("seed")
    if value is None:
        return None
    number = as_int(value)
    if number is None or not 0 <= number < 2**32:
        raise InvalidRequest("seed must be an integer between 0 and 4294967295.", param="seed")
    return number


def callback_url(body: Mapping[str, Any]) -> str | None:
    value = optional_str(body, "callback_url")
    if value is not None and not value.startswith(("https://", "http://")):
        raise InvalidRequest("callback_url must be an http(s) URL.", param="callback_url")
    return value


def resolution(body: Mapping[str, Any]) -> Resolution:
    value = body.get("resolution")
    if value is None:
        return Resolution.P720
    parsed = Resolution.parse(value) if isinstance(value, str) else None
    if parsed is None:
        raise InvalidRequest(
            f"Invalid resolution {value!r}: use 720p, 1080p or 4K.", param="resolution"
        )
    return parsed


def aspect_ratio(body: Mapping[str, Any]) -> AspectRatio:
    value = body.get("aspect_ratio")
    if value is None:
        return AspectRatio.LANDSCAPE
    if value not in ("16:9", "9:16"):
        raise InvalidRequest(
            f"Invalid aspect_ratio {value!r}: use 16:9 or 9:16.", param="aspect_ratio"
        )
    return AspectRatio(value)


def priority(body: Mapping[str, Any]) -> Priority:
    """`priority` (API.md §6): low, normal (the default) or high."""
    value = body.get("priority")
    if value is None or value == "":
        return Priority.NORMAL
    if value not in tuple(Priority):
        raise InvalidRequest(
            f"Invalid priority {value!r}: use low, normal or high.", param="priority"
        )
    return Priority(value)
