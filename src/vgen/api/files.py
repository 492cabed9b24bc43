"""Files: image uploads (`POST /v1/files`) and the signed, expiring video URLs
(`GET /v1/files/{task_id}/video.mp4?exp=&sig=`, no API key: the signature is the permission)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.datastructures import UploadFile
from starlette.responses import Response

from vgen.api.archive_response import archive_response
from vgen.api.deps import ClockDep, KeyDep, ServicesDep
from vgen.api.veo import json_response
from vgen.domain.errors import InvalidRequest, NotFound, PayloadTooLarge, PermissionDenied
from vgen.domain.files import asset_ref
from vgen.domain.states import TaskState

_MULTIPART_OVERHEAD = 64 * 1024

router = APIRouter()


@router.post("/files")
async def upload_file(request: Request, key: KeyDep, services: ServicesDep) -> Response:
    """Upload an image (multipart field `file`) to use as `asset://<id>` in a create request."""
    limit = services.settings.max_image_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + _MULTIPART_OVERHEAD:
        raise PayloadTooLarge(
            f"Upload exceeds {limit} bytes.", param="file", code="image_too_large"
        )
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise InvalidRequest("Send the image as multipart/form-data, field 'file'.", param="file")
    async with request.form(max_files=1, max_fields=10) as form:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidRequest(
                "Missing multipart file field 'file'.",
                param="file",
                code="missing_required_parameter",
            )
        data = await upload.read(limit + 1)
    stored = await services.intake.store_upload(key.tenant_id, data)
    return json_response(
        {
            "id": stored.id,
            "object": "file",
            "url": asset_ref(stored.id),
            "bytes": stored.size_bytes,
            "mime_type": stored.mime_type,
            "width": stored.width,
            "height": stored.height,
            "created_at": int(stored.created_at),
        }
    )


@router.api_route("/files/inputs/{file_id}", methods=["GET", "HEAD"], include_in_schema=False)
async def download_input(
    request: Request,
    file_id: str,
    services: ServicesDep,
    clock: ClockDep,
    exp: str = "",
    sig: str = "",
) -> Response:
    """Serve an input image to an upstream engine that fetches images by URL (signed, like
    video URLs: vgen mints them for the upstream; they expire)."""
    if not services.signer.is_valid(
        f"inputs/{file_id}", expires_at=exp, signature=sig, now=clock()
    ):
        raise PermissionDenied("This file URL is invalid or has expired.")
    stored = await services.store.files.get_any(file_id)
    if stored is None:
        raise NotFound("This file is no longer available.")
    return await archive_response(
        services.storage,
        stored.storage_key,
        request=request,
        media_type=stored.mime_type,
        filename=file_id,
        missing="This file is no longer available.",
    )


@router.api_route("/files/{task_id}/video.mp4", methods=["GET", "HEAD"], include_in_schema=False)
async def download_video(
    request: Request,
    task_id: str,
    services: ServicesDep,
    clock: ClockDep,
    exp: str = "",
    sig: str = "",
) -> Response:
    """Stream an archived video. Needs the `exp` and `sig` of a URL vgen minted; honours Range."""
    path = f"{task_id}/video.mp4"
    if not services.signer.is_valid(path, expires_at=exp, signature=sig, now=clock()):
        raise PermissionDenied(
            "This file URL is invalid or has expired; fetch the task again for a fresh video_url."
        )
    task = await services.store.tasks.get_any(task_id)
    if task is None or task.state is not TaskState.COMPLETED or task.artifact_key is None:
        raise NotFound("This video is no longer available.")
    return await archive_response(
        services.storage,
        task.artifact_key,
        request=request,
        media_type="video/mp4",
        filename=f"{task_id}.mp4",
        missing="This video is no longer available.",
    )
