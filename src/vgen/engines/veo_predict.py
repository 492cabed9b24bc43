"""The Veo `predictLongRunning` request both Google APIs take (ENGINES.md §1, §1b): one instance
with the images inline (base64 + MIME type read from the bytes), and the parameters."""

from __future__ import annotations

import base64
import mimetypes
from pathlib import Path
from typing import Any

import anyio.to_thread

from vgen.domain.catalog import Resolution
from vgen.engines.base import EngineJob

# Google spells 4K in lower case.
_RESOLUTIONS = {Resolution.P720: "720p", Resolution.P1080: "1080p", Resolution.K4: "4k"}
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF8", "image/gif"),
    (b"BM", "image/bmp"),
)


async def veo_predict_body(job: EngineJob) -> dict[str, Any]:
    """`{"instances": [one instance], "parameters": {...}}` for `job`."""
    request = job.request
    instance: dict[str, Any] = {"prompt": request.prompt}
    if "first_image" in job.images:
        instance["image"] = await inline_image(job.images["first_image"])
    if "last_image" in job.images:
        instance["lastFrame"] = await inline_image(job.images["last_image"])
    if request.references:
        instance["referenceImages"] = [
            {
                "image": await inline_image(job.images[f"input_reference[{i}]"]),
                "referenceType": "asset",
            }
            for i in range(len(request.references))
        ]
    parameters: dict[str, Any] = {
        "aspectRatio": request.aspect_ratio.value,
        "resolution": _RESOLUTIONS[request.resolution],
        "durationSeconds": request.duration_s,
        "sampleCount": 1,
    }
    if request.negative_prompt:
        parameters["negativePrompt"] = request.negative_prompt
    if request.seed is not None:
        parameters["seed"] = request.seed
    return {"instances": [instance], "parameters": parameters}


async def inline_image(path: Path) -> dict[str, str]:
    return await anyio.to_thread.run_sync(_read_inline_image, path)


def _read_inline_image(path: Path) -> dict[str, str]:
    data = path.read_bytes()
    return {
        "bytesBase64Encoded": base64.b64encode(data).decode("ascii"),
        "mimeType": _mime_type(data, path),
    }


def _mime_type(data: bytes, path: Path) -> str:
    """From the magic bytes: stored inputs may carry no (or a wrong) extension."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    for magic, mime in _MAGIC:
        if data.startswith(magic):
            return mime
    guessed, _ = mimetypes.guess_type(path.name)
    return guessed or "application/octet-stream"
