"""The OpenAI Videos dialect on the wire (API.md §2): create fields → `VideoRequest`, and the
video object the official `openai` SDK parses (`openai.types.Video`).

Invariant: only `queued`, `in_progress`, `completed` and `failed` are ever emitted, and every
rejection names the param in this dialect's words (`size`, `seconds`, `input_reference`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from vgen.api import fields
from vgen.domain.catalog import DEFAULT_MODEL, AspectRatio, ModelCatalog, Resolution, frame_size
from vgen.domain.errors import InvalidRequest
from vgen.domain.files import asset_ref
from vgen.domain.queue_estimate import QueueEstimate
from vgen.domain.requests import VideoRequest
from vgen.domain.states import TaskState
from vgen.domain.tasks import Task
from vgen.wire.veo_task_body import queue_fields

# The SDK's `model` is optional (OpenAI defaults to sora-2); vgen's default is its first model.

SIZES: dict[str, tuple[Resolution, AspectRatio]] = {
    f"{width}x{height}": (resolution, aspect)
    for resolution in Resolution
    for aspect in AspectRatio
    for width, height in [frame_size(resolution, aspect)]
}

_STATUS = {
    TaskState.QUEUED: "queued",
    TaskState.PROCESSING: "in_progress",
    TaskState.COMPLETED: "completed",
    TaskState.FAILED: "failed",
    TaskState.CANCELLED: "failed",  # with error code "cancelled"
}

# The domain names request fields as the Veo dialect does; these are their names here.
_PARAMS = {
    "resolution": "size",
    "aspect_ratio": "size",
    "duration": "seconds",
    "first_image": "input_reference",
}


@contextmanager
def openai_params() -> Iterator[None]:
    """Re-raise `InvalidRequest`s with the param renamed to this dialect's field."""
    try:
        yield
    except InvalidRequest as exc:
        if exc.param is not None:
            exc.param = _PARAMS.get(exc.param, exc.param)
        raise


def parse_create(
    body: Mapping[str, Any], *, catalog: ModelCatalog, max_prompt_chars: int
) -> VideoRequest:
    """A `VideoRequest` from create fields (a JSON object, or multipart fields with any
    `input_reference` file already turned into an image reference). Unknown fields are ignored,
    as clients built on the SDK may send newer ones."""
    model = fields.optional_str(body, "model") or DEFAULT_MODEL
    spec = catalog.get(model)
    resolution, aspect = _size(body)
    return VideoRequest(
        model=model,
        prompt=fields.prompt(body, max_chars=max_prompt_chars),
        resolution=resolution,
        aspect_ratio=aspect,
        duration_s=_seconds(body, default=spec.default_duration_s),
        first_image=_input_reference(body),
        negative_prompt=fields.optional_str(body, "negative_prompt"),
        seed=fields.seed(body),
        callback_url=fields.callback_url(body),
        priority=fields.priority(body),
    )


def _size(body: Mapping[str, Any]) -> tuple[Resolution, AspectRatio]:
    value = body.get("size")
    if value is None:
        # vgen extension: the Veo dialect's fields, when `size` is absent.
        return fields.resolution(body), fields.aspect_ratio(body)
    if body.get("resolution") is not None or body.get("aspect_ratio") is not None:
        raise InvalidRequest("Send either size or resolution/aspect_ratio, not both.", param="size")
    if not isinstance(value, str) or value not in SIZES:
        raise InvalidRequest(
            f"Invalid size {value!r}: use one of {', '.join(SIZES)}.", param="size"
        )
    return SIZES[value]


def _seconds(body: Mapping[str, Any], *, default: int) -> int:
    value = body.get("seconds")
    if value is None or value == "":
        return default
    number = fields.as_int(value)
    if number is None or number <= 0:
        raise InvalidRequest(
            f'Invalid seconds {value!r}: a positive whole number of seconds, such as "8".',
            param="seconds",
        )
    return number


def _input_reference(body: Mapping[str, Any]) -> str | None:
    """The first-frame image: `input_reference` as a reference string or as an object
    `{"image_url": ...}` / `{"file_id": ...}`, or top-level `image_url`."""
    reference = body.get("input_reference")
    image_url = fields.optional_str(body, "image_url")
    if reference is not None and image_url is not None:
        raise InvalidRequest(
            "input_reference and image_url both name the first frame; send one.",
            param="image_url",
        )
    if reference is None or reference == "":
        return image_url
    if isinstance(reference, str):
        return fields.checked_str(reference, "input_reference")
    if not isinstance(reference, Mapping) or len(reference) != 1:
        raise InvalidRequest(
            "input_reference must be an image file, or an object with one of image_url or file_id.",
            param="input_reference",
        )
    if "image_url" in reference:
        return fields.checked_str(reference["image_url"], "input_reference")
    if "file_id" in reference:
        # Files uploaded with POST /v1/files are the SDK's file ids here.
        return asset_ref(fields.checked_str(reference["file_id"], "input_reference"))
    raise InvalidRequest("input_reference takes image_url or file_id.", param="input_reference")


def video_object(task: Task, queue: QueueEstimate | None = None) -> dict[str, Any]:
    """The §2 video object; every field `openai.types.Video` requires, with its type, and the
    queue fields of API.md §6."""
    completed = task.state is TaskState.COMPLETED
    width, height = task.request.size
    return {
        "id": task.id,
        "object": "video",
        "model": task.model,
        "status": _STATUS[task.state],
        "progress": 100 if completed else task.progress,
        "created_at": int(task.created_at),
        "completed_at": int(task.completed_at) if task.completed_at and task.is_terminal else None,
        # When the downloadable content expires: the end of the archive's retention.
        "expires_at": (
            int(task.archive_expires_at) if completed and task.archive_expires_at else None
        ),
        "seconds": str(task.request.duration_s),
        "size": f"{width}x{height}",
        "prompt": task.request.prompt,
        "error": _error(task),
        "remixed_from_video_id": None,
        **queue_fields(task.state, queue),
    }


def _error(task: Task) -> dict[str, str] | None:
    if task.state is TaskState.CANCELLED:
        return {"code": "cancelled", "message": "The video was cancelled."}
    if task.state is TaskState.FAILED:
        return {
            "code": "video_generation_failed",
            "message": task.error or "The video could not be generated.",
        }
    return None
