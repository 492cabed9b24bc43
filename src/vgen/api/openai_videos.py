"""Routes of the OpenAI Videos dialect (API.md §2) under `/v1`, so the official `openai` SDK works
with only `base_url` changed. Same tasks, engines and archive as the Veo task dialect.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, Request
from starlette.datastructures import UploadFile
from starlette.responses import Response

from vgen.api.archive_response import archive_response
from vgen.api.body import parse_json, read_limited
from vgen.api.deps import KeyDep, Services, ServicesDep
from vgen.api.openai_wire import openai_params, parse_create, video_object
from vgen.api.veo import json_response, page_size, poll_headers, request_hash
from vgen.api.veo_wire import parse_idempotency_key
from vgen.domain.errors import InvalidRequest, PayloadTooLarge, VideoNotReady
from vgen.domain.queue_estimate import QueueEstimate
from vgen.domain.states import TaskState
from vgen.domain.tasks import Task

_FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")
_MULTIPART_OVERHEAD = 64 * 1024
_MAX_FORM_FIELDS = 50
_VARIANTS = {"video": "video/mp4", "thumbnail": "image/jpeg"}

router = APIRouter(tags=["OpenAI Videos"])


@router.post("/videos")
async def create_video(request: Request, key: KeyDep, services: ServicesDep) -> Response:
    """Create a video. JSON, or multipart with `input_reference` as an image file (the first
    frame). Fields: `prompt` (required), `model` (default `veo_3_1_fast`), `seconds` (default:
    the model's), `size` (default `1280x720`). Answers at once with status `queued`."""
    with openai_params():
        body, hashed = await _create_fields(request, services)
        video_request = parse_create(
            body,
            catalog=services.tasks.catalog,
            max_prompt_chars=services.settings.max_prompt_chars,
        )
        task = await services.tasks.create(
            key.tenant_id,
            video_request,
            idempotency_key=parse_idempotency_key(request.headers.get("idempotency-key")),
            request_hash=request_hash(hashed),
            is_retry=_is_sdk_retry(request),
            key=key,
        )
    queue = await _queue_of(services, task)
    return json_response(video_object(task, queue), headers=poll_headers(task))


@router.get("/videos/{video_id}")
async def retrieve_video(video_id: str, key: KeyDep, services: ServicesDep) -> Response:
    """A video's status and progress. While it is not finished the `openai-poll-after-ms`
    header says when to ask again."""
    task = await services.tasks.get(key.tenant_id, video_id)
    queue = await _queue_of(services, task)
    return json_response(video_object(task, queue), headers=poll_headers(task))


async def _queue_of(services: Services, task: Task) -> QueueEstimate | None:
    if task.state is not TaskState.QUEUED:
        return None
    return await services.queue.estimate(task.id, engine=task.engine, model=task.model)


@router.get("/videos")
async def list_videos(
    key: KeyDep,
    services: ServicesDep,
    limit: str = "20",
    after: str | None = None,
    order: str = "desc",
) -> Response:
    """Your videos, newest first (`order=asc` for oldest first). Page on with
    `after=<last_id of the previous page>` while `has_more` is true."""
    if order not in ("asc", "desc"):
        raise InvalidRequest(f"Invalid order {order!r}: use asc or desc.", param="order")
    page, has_more = await services.tasks.list(
        key.tenant_id, limit=page_size(limit), after=after, newest_first=order == "desc"
    )
    return json_response(
        {
            "object": "list",
            "data": [video_object(task) for task in page],
            "first_id": page[0].id if page else None,
            "last_id": page[-1].id if page else None,
            "has_more": has_more,
        }
    )


@router.delete("/videos/{video_id}")
async def delete_video(video_id: str, key: KeyDep, services: ServicesDep) -> Response:
    """Delete a video in any state, with its archived files; it is gone from both dialects.
    An unfinished video is dropped (a running render stops at its next lease renewal)."""
    task = await services.tasks.delete(key.tenant_id, video_id)
    return json_response({"id": task.id, "object": "video.deleted", "deleted": True})


@router.get("/videos/{video_id}/content")
async def download_content(
    request: Request, video_id: str, key: KeyDep, services: ServicesDep, variant: str = "video"
) -> Response:
    """The finished video (`variant=video`, MP4) or its first frame (`variant=thumbnail`,
    JPEG), streamed from the archive; honours `Range`. 409 `video_not_ready` until the video
    is completed; 404 once the archive no longer holds it."""
    media_type = _VARIANTS.get(variant)
    if media_type is None:
        raise InvalidRequest(
            f"Unsupported variant {variant!r}: use video or thumbnail.", param="variant"
        )
    task = await services.tasks.get_status(key.tenant_id, video_id)
    if task.state is not TaskState.COMPLETED:
        raise VideoNotReady(
            f"Video '{task.id}' is not completed, so it has no {variant} to download.",
        )
    if variant == "video":
        object_key, filename = services.artifacts.video(task), f"{task.id}.mp4"
    else:
        object_key, filename = await services.artifacts.thumbnail(task), f"{task.id}.jpg"
    return await archive_response(
        services.storage,
        object_key,
        request=request,
        media_type=media_type,
        filename=filename,
        missing=f"The video of '{task.id}' is no longer available.",
    )


async def _create_fields(request: Request, services: Services) -> tuple[dict[str, Any], Any]:
    """The create fields, and what identifies the request for idempotency (the body; for an
    uploaded file, its digest rather than its bytes)."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(_FORM_TYPES):
        return await _form_fields(request, max_image_bytes=services.settings.max_image_bytes)
    parsed = parse_json(await read_limited(request, max_bytes=services.settings.max_body_bytes))
    if not isinstance(parsed, dict):
        raise InvalidRequest("The request body must be a JSON object.", code="invalid_json")
    return parsed, parsed


async def _form_fields(
    request: Request, *, max_image_bytes: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_image_bytes + _MULTIPART_OVERHEAD:
        raise PayloadTooLarge(
            f"Request body exceeds {max_image_bytes} bytes.",
            param="input_reference",
            code="body_too_large",
        )
    body: dict[str, Any] = {}
    hashed: dict[str, Any] = {}
    async with request.form(max_files=1, max_fields=_MAX_FORM_FIELDS) as form:
        for name, value in form.multi_items():
            if not isinstance(value, UploadFile):
                _set_form_field(body, name, value)
                _set_form_field(hashed, name, value)
                continue
            if name != "input_reference" or name in body:
                raise InvalidRequest(f"Unexpected file field '{name}'.", param=name)
            data = await value.read(max_image_bytes + 1)
            body[name], hashed[name] = await anyio.to_thread.run_sync(
                _upload_reference, data, max_image_bytes
            )
    return body, hashed


def _set_form_field(body: dict[str, Any], name: str, value: str) -> None:
    """Form fields as the SDK flattens them: `input_reference[image_url]` → nested object."""
    outer, bracket, inner = name.partition("[")
    if bracket and inner.endswith("]"):
        nested = body.setdefault(outer, {})
        if not isinstance(nested, dict):
            raise InvalidRequest(f"'{outer}' is given twice.", param=outer)
        nested[inner[:-1]] = value
    else:
        body[name] = value


def _upload_reference(data: bytes, max_bytes: int) -> tuple[str, str]:
    """An uploaded image as a data URL, so it goes through the same image intake (size, type and
    decode checks; archived once the request is valid) as every other reference; and its
    digest. CPU-bound for big images: run it in a thread."""
    if len(data) > max_bytes:
        raise PayloadTooLarge(
            f"image is over the limit of {max_bytes} bytes",
            param="input_reference",
            code="image_too_large",
        )
    if not data:
        raise InvalidRequest("The input_reference file is empty.", param="input_reference")
    # The media type is only a label (the intake judges the bytes alone), so the part's declared
    # type is not copied into the URL.
    reference = f"data:image/upload;base64,{base64.b64encode(data).decode()}"
    return reference, "sha256:" + hashlib.sha256(data).hexdigest()


def _is_sdk_retry(request: Request) -> bool:
    # The openai SDK (like every Stainless SDK) numbers its automatic retries, but sends no
    # Idempotency-Key of its own.
    count = request.headers.get("x-stainless-retry-count", "")
    return count.isdigit() and int(count) > 0
