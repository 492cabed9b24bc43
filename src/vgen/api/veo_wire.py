"""The Veo task dialect's create request (API.md §1.1), parsed into a `VideoRequest`; the
response bodies are written by `wire.veo_task_body`.

Parsing enforces every §1.1 rule that does not depend on the model; `check_against_model`
does the rest. Every rejection names its `param`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vgen.api import fields
from vgen.domain.errors import InvalidRequest
from vgen.domain.requests import VideoRequest

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
    model = fields.required_str(body, "model")
    prompt = fields.prompt(body, max_chars=max_prompt_chars)
    references, ref_param = _references(body)
    first = fields.optional_str(body, "first_image")
    last = fields.optional_str(body, "last_image")
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
        resolution=fields.resolution(body),
        aspect_ratio=fields.aspect_ratio(body),
        duration_s=_duration(body),
        first_image=first,
        last_image=last,
        references=references,
        negative_prompt=fields.optional_str(body, "negative_prompt"),
        seed=fields.seed(body),
        callback_url=fields.callback_url(body),
        priority=fields.priority(body),
    )


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
    items = [fields.checked_str(i, param) for i in items]
    if not 1 <= len(items) <= MAX_REFERENCES:
        raise InvalidRequest(
            f"{param} takes 1 to {MAX_REFERENCES} images, got {len(items)}.", param=param
        )
    return tuple(items), param


def _duration(body: Mapping[str, Any]) -> int:
    values = {name: body[name] for name in ("duration", "seconds") if body.get(name) is not None}
    parsed: dict[str, int] = {}
    for name, value in values.items():
        number = fields.as_int(value)
        if number is None or number <= 0:
            raise InvalidRequest(
                f"'{name}' must be a positive whole number of seconds.", param=name
            )
        parsed[name] = number
    if len(set(parsed.values())) > 1:
        raise InvalidRequest("duration and seconds disagree; send one.", param="seconds")
    return next(iter(parsed.values()), 8)
