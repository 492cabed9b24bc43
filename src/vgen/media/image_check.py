"""Image check: decide whether bytes from a client are an image vgen will accept.

Invariant: a `CheckedImage` exists only for bytes within the size limit that Pillow fully decodes
as jpeg/png/webp/gif/bmp with every side inside the allowed range (API.md §5).
"""

from __future__ import annotations

import io
import threading
import warnings
from dataclasses import dataclass

from PIL import Image

from vgen.domain.errors import InvalidRequest, PayloadTooLarge, UnsupportedMedia


@dataclass(frozen=True)
class ImageLimits:
    max_bytes: int = 20 * 1024 * 1024
    min_side_px: int = 300
    max_side_px: int = 6000
    fetch_timeout_s: float = 15.0
    max_redirects: int = 3
    # Checked from the header before any pixel is decoded: the decompression-bomb guard.
    max_pixels: int = 6000 * 6000


@dataclass(frozen=True)
class CheckedImage:
    data: bytes
    mime_type: str
    extension: str
    width: int
    height: int


# Pillow format name -> (mime type, file extension). MPO is how Pillow names the multi-picture
# JPEGs many cameras write; on the wire they are plain JPEG.
_ACCEPTED: dict[str, tuple[str, str]] = {
    "JPEG": ("image/jpeg", "jpg"),
    "MPO": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
    "GIF": ("image/gif", "gif"),
    "BMP": ("image/bmp", "bmp"),
}
# Only these plugins ever parse client bytes: fewer parsers, less attack surface.
_OPEN_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP")
_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"BM")

_INVALID = "invalid_image"

# `warnings.catch_warnings` swaps process-wide state and is not thread-safe before Python 3.14;
# callers run checks in worker threads, so decodes are serialised to keep the filters intact.
_decode_lock = threading.Lock()


def _looks_like_accepted_format(data: bytes) -> bool:
    is_webp = data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    return is_webp or data.startswith(_MAGIC)


def _invalid(message: str, *, param: str) -> InvalidRequest:
    return InvalidRequest(message, param=param, code=_INVALID)


def _unsupported(*, param: str) -> UnsupportedMedia:
    return UnsupportedMedia(
        "image must be jpeg, png, webp, gif or bmp", param=param, code="unsupported_image_type"
    )


def _check_dimensions(width: int, height: int, *, limits: ImageLimits, param: str) -> None:
    if width * height > limits.max_pixels:
        raise _invalid(
            f"image is {width}x{height} px, more than {limits.max_pixels} pixels in all",
            param=param,
        )
    low, high = limits.min_side_px, limits.max_side_px
    if not (low <= width <= high and low <= height <= high):
        raise _invalid(
            f"image is {width}x{height} px; each side must be {low}-{high} px", param=param
        )


def _open(data: bytes, *, param: str) -> Image.Image:
    try:
        return Image.open(io.BytesIO(data), formats=_OPEN_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _invalid("image has too many pixels to decode safely", param=param) from exc
    except Exception as exc:  # Pillow raises many types on hostile input; all mean "not ours"
        if _looks_like_accepted_format(data):
            raise _invalid("image header could not be read", param=param) from exc
        raise _unsupported(param=param) from exc


def _decode(data: bytes, *, limits: ImageLimits, param: str) -> CheckedImage:
    with _open(data, param=param) as image:
        width, height = image.size
        format_name = image.format or ""
        if format_name not in _ACCEPTED:
            raise _unsupported(param=param)
        _check_dimensions(width, height, limits=limits, param=param)
        try:
            image.verify()  # PNG: checks every chunk CRC, which load() alone would skip
        except Exception as exc:  # as in _open: any Pillow failure is a broken image
            raise _invalid("image is corrupt", param=param) from exc
    # verify() leaves the image unusable, so decoding the pixels needs a fresh open.
    with _open(data, param=param) as image:
        try:
            image.load()
        except Exception as exc:  # truncated data, bad codes, bomb errors from later frames
            raise _invalid("image could not be decoded completely", param=param) from exc
    mime_type, extension = _ACCEPTED[format_name]
    return CheckedImage(data, mime_type, extension, width, height)


def check_image(data: bytes, *, limits: ImageLimits, param: str) -> CheckedImage:
    """Check client image bytes by content alone (never a declared type). CPU-bound: run it in a
    thread from async code.

    Raises:
        PayloadTooLarge: `image_too_large`, over `limits.max_bytes`.
        UnsupportedMedia: `unsupported_image_type`, not jpeg/png/webp/gif/bmp.
        InvalidRequest: `invalid_image`, undecodable, a decompression bomb, or a side out of range.
    """
    if len(data) > limits.max_bytes:
        raise PayloadTooLarge(
            f"image is {len(data)} bytes; the limit is {limits.max_bytes}",
            param=param,
            code="image_too_large",
        )
    with _decode_lock, warnings.catch_warnings():
        # Pillow warns (rather than raises) on a large pixel count; treat it as the bomb it may
        # be. Other Pillow warnings concern images it still decodes, so they stay silent.
        warnings.simplefilter("ignore")
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        return _decode(data, limits=limits, param=param)
