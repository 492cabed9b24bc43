"""The Veo task dialect on the wire (API.md §1): request parsing and response bodies.

Parsing enforces every §1.1 rule that does not depend on the model; `check_against_model`
does the rest. Every rejection names its `param`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vgen.domain.catalog import AspectRatio, Resolution
from vgen.domain.errors import InvalidRequest
from vgen.domain.requests import VideoRequest
from vgen.domain.states import TaskState
from vgen.domain.tasks import Task, TaskStatus

MAX_REFERENCES = 3
MAX_IDEMPOTENCY_KEY_CHARS = 255


def parse_idempotency_key(header: str | None) -> str | None:
    if not header:
        return None
    if len(header) > MAX_IDEMPOTENCY_KEY_CHARS:
        raise InvalidRequest(
            f"Idempotency-Key is longer than {MAX_IDEMPOTENCY_KEY_CHARS} characters.",
            param="Idempotency-Key",
        )
    return header


def parse_create(body: Any, *, max_prompt_chars: int) -> VideoRequest:
    if not isinstance(body, Mapping):
        raise InvalidRequest("The request body must be a JSON object.", code="invalid_json")
    model = _required_str(body, "model")
    prompt = _required_str(body, "prompt").strip()
    if not prompt:
        raise InvalidRequest("prompt must not be empty.", param="prompt")
    if len(prompt) > max_prompt_chars:
        raise InvalidRequest(
            f"prompt is {len(prompt)} characters; the limit is {max_prompt_chars}.",
            param="prompt",
        )
    references, ref_param = _references(body)
    first = _optional_str(body, "first_image")
    last = _optional_str(body, "last_image")
    if last and not first:
        raise InvalidRequest("last_image requires first_image.", param="last_image")
    if references and (first or last):
        raise InvalidRequest(
            f"{ref_param} (reference-image mode) and first_image/last_image (first/last-frame "
            "mode) cannot be combined; send one or the other.",
            param=ref_param,
        )
    return VideoRequest(
        model=model,
        prompt=prompt,
        resolution=_resolution(body),
        aspect_ratio=_aspect_ratio(body),
        duration_s=_duration(body),
        first_image=first,
        last_image=last,
        references=references,
        negative_prompt=_optional_str(body, "negative_prompt"),
        seed=_seed(body),
        callback_url=_callback_url(body),
    )


def _required_str(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if value is None:
        raise InvalidRequest(
            f"Missing required parameter: '{name}'.", param=name, code="missing_required_parameter"
        )
    return _checked_str(value, name)


def _optional_str(body: Mapping[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None or value == "":
        return None
    return _checked_str(value, name)


def _checked_str(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise InvalidRequest(f"'{name}' must be a string.", param=name)
    if "\x00" in value:
        # PostgreSQL text cannot hold NUL; no legitimate prompt or URL contains one.
        raise InvalidRequest(f"'{name}' must not contain NUL characters.", param=name)
    return value


def _resolution(body: Mapping[str, Any]) -> Resolution:
    value = body.get("resolution")
    if value is None:
        return Resolution.P720
    parsed = Resolution.parse(value) if isinstance(value, str) else None
    if parsed is None:
        raise InvalidRequest(
            f"Invalid resolution {value!r}: use 720p, 1080p or 4K.", param="resolution"
        )
    return parsed


def _aspect_ratio(body: Mapping[str, Any]) -> AspectRatio:
    value = body.get("aspect_ratio")
    if value is None:
        return AspectRatio.LANDSCAPE
    if value not in ("16:9", "9:16"):
        raise InvalidRequest(
            f"Invalid aspect_ratio {value!r}: use 16:9 or 9:16.", param="aspect_ratio"
        )
    return AspectRatio(value)


def _references(body: Mapping[str, Any]) -> tuple[tuple[str, ...], str]:
    if body.get("input_reference") is not None and body.get("image_urls") is not None:
        raise InvalidRequest(
            "input_reference and image_urls are aliases; send only one.", param="image_urls"
        )
    param = "image_urls" if body.get("image_urls") is not None else "input_reference"
    value = body.get(param)
    if value is None:
        return (), param
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(i, str) and i for i in items):
        raise InvalidRequest(f"{param} must be a list of image references.", param=param)
    items = [_checked_str(i, param) for i in items]
    if not 1 <= len(items) <= MAX_REFERENCES:
        raise InvalidRequest(
            f"{param} takes 1 to {MAX_REFERENCES} images, got {len(items)}.", param=param
        )
    return tuple(items), param


def _duration(body: Mapping[str, Any]) -> int:
    values = {name: body[name] for name in ("duration", "seconds") if body.get(name) is not None}
    parsed: dict[str, int] = {}
    for name, value in values.items():
        number = _as_int(value)
        if number is None or number <= 0:
            raise InvalidRequest(
                f"'{name}' must be a positive whole number of seconds.", param=name
            )
        parsed[name] = number
    if len(set(parsed.values())) > 1:
        raise InvalidRequest("duration and seconds disagree; send one.", param="seconds")
    return next(iter(parsed.values()), 8)


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _seed(body: Mapping[str, Any]) -> int | None:
    value = body.get("seed")
    if value is None:
        return None
    number = _as_int(value)
    if number is None or not 0 <= number < 2**32:
        raise InvalidRequest("seed must be an integer between 0 and 4294967295.", param="seed")
    return number


def _callback_url(body: Mapping[str, Any]) -> str | None:
    value = _optional_str(body, "callback_url")
    if value is not None and not value.startswith(("https://", "http://")):
        raise InvalidRequest("callback_url must be an http(s) URL.", param="callback_url")
    return value


def created_body(task: Task | TaskStatus) -> dict[str, Any]:
    return {
        "id": task.id,
        "task_id": task.id,
        "object": "video",
        "created": int(task.created_at),
        "model": task.model,
        "status": _wire_status(task.state),
    }


def _wire_status(state: TaskState) -> str:
    # API.md §1.2: a cancelled task shows as failed with error "cancelled".
    return TaskState.FAILED.value if state is TaskState.CANCELLED else state.value


def task_body(
    task: Task | TaskStatus, *, video_url: str | None, expires_at: int | None
) -> dict[str, Any]:
    completed = task.state is TaskState.COMPLETED
    error = task.error
    if task.state is TaskState.CANCELLED:
        error = "cancelled"
    elif task.state is TaskState.FAILED and not error:
        error = "failed"
    return {
        **created_body(task),
        "progress": task.progress if not completed else 100,
        "video_url": video_url if completed else None,
        "actualDuration": _whole_seconds(task.video_seconds) if completed else None,
        "error": error,
        "completed_at": int(task.completed_at) if task.completed_at and task.is_terminal else None,
        "expires_at": expires_at if completed else None,
        "engine": task.engine,
    }


def _whole_seconds(value: float | None) -> int | float | None:
    if value is None:
        return None
    return round(value) if abs(value - round(value)) < 0.05 else value
