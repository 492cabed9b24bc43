from __future__ import annotations

import io
import struct
import warnings
import zlib
from collections.abc import Callable

import pytest
from PIL import Image

from vgen.domain.errors import InvalidRequest, PayloadTooLarge, UnsupportedMedia
from vgen.media.image_check import CheckedImage, ImageLimits, check_image

LIMITS = ImageLimits()
PARAM = "input_reference[1]"
MakeImage = Callable[..., bytes]


def _png_claiming(width: int, height: int) -> bytes:
    """A small real PNG whose IHDR is rewritten (with a valid CRC) to claim another size."""
    buffer = io.BytesIO()
    Image.new("1", (1, 1)).save(buffer, format="PNG")
    data = bytearray(buffer.getvalue())
    ihdr_body = b"IHDR" + struct.pack(">II", width, height) + bytes(data[24:29])
    data[12:29] = ihdr_body
    data[29:33] = struct.pack(">I", zlib.crc32(ihdr_body))
    return bytes(data)


def _reject(
    data: bytes, error: type[InvalidRequest], code: str, limits: ImageLimits = LIMITS
) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as info:
        check_image(data, limits=limits, param=PARAM)
    assert type(info.value) is error
    assert info.value.code == code
    assert info.value.param == PARAM
    return info.value


@pytest.mark.parametrize(
    ("image_format", "mime_type", "extension"),
    [
        ("JPEG", "image/jpeg", "jpg"),
        ("PNG", "image/png", "png"),
        ("WEBP", "image/webp", "webp"),
        ("GIF", "image/gif", "gif"),
        ("BMP", "image/bmp", "bmp"),
    ],
)
def test_each_accepted_format_is_identified_by_content(
    make_image: MakeImage, image_format: str, mime_type: str, extension: str
) -> None:
    data = make_image(image_format, 640, 360)

    checked = check_image(data, limits=LIMITS, param=PARAM)

    assert checked == CheckedImage(data, mime_type, extension, 640, 360)


def test_tiff_is_unsupported_media(make_image: MakeImage) -> None:
    _reject(make_image("TIFF"), UnsupportedMedia, "unsupported_image_type")


@pytest.mark.parametrize(
    "data",
    [
        b'<svg xmlns="http://www.w3.org/2000/svg" width="400" height="400"></svg>',
        b"just some text",
        b"",
    ],
)
def test_svg_and_text_are_unsupported_media(data: bytes) -> None:
    _reject(data, UnsupportedMedia, "unsupported_image_type")


def test_truncated_png_is_invalid(make_image: MakeImage) -> None:
    noise = Image.effect_noise((400, 400), 64).convert("RGB")
    buffer = io.BytesIO()
    noise.save(buffer, format="PNG")
    data = buffer.getvalue()

    _reject(data[: len(data) // 2], InvalidRequest, "invalid_image")


def test_truncated_jpeg_is_invalid() -> None:
    noise = Image.effect_noise((400, 400), 64).convert("RGB")
    buffer = io.BytesIO()
    noise.save(buffer, format="JPEG")
    data = buffer.getvalue()

    _reject(data[: len(data) // 2], InvalidRequest, "invalid_image")


def test_png_signature_with_garbage_header_is_invalid_not_unsupported() -> None:
    _reject(b"\x89PNG\r\n\x1a\n" + b"\0" * 64, InvalidRequest, "invalid_image")


def test_too_small_image_names_its_size_and_the_allowed_range(make_image: MakeImage) -> None:
    error = _reject(make_image("PNG", 200, 200), InvalidRequest, "invalid_image")

    assert "200x200" in error.message
    assert "300-6000" in error.message


def test_one_side_too_long_is_invalid(make_image: MakeImage) -> None:
    error = _reject(make_image("PNG", 6001, 300), InvalidRequest, "invalid_image")

    assert "6001x300" in error.message


@pytest.mark.parametrize(
    "size",
    [
        (100_000, 100_000),  # beyond Pillow's hard limit: it raises DecompressionBombError
        (10_000, 10_000),  # beyond Pillow's soft limit: it only warns
        (6000, 6001),
    ],
)
def test_decompression_bomb_is_rejected_from_its_header(size: tuple[int, int]) -> None:
    data = _png_claiming(*size)
    generous = ImageLimits(max_side_px=200_000)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        error = _reject(data, InvalidRequest, "invalid_image", limits=generous)

    assert caught == []
    assert "pixels" in error.message


def test_over_size_bytes_are_payload_too_large(make_image: MakeImage) -> None:
    data = make_image("PNG")

    _reject(data, PayloadTooLarge, "image_too_large", limits=ImageLimits(max_bytes=len(data) - 1))


def test_image_exactly_at_the_byte_limit_is_accepted(make_image: MakeImage) -> None:
    data = make_image("PNG")

    checked = check_image(data, limits=ImageLimits(max_bytes=len(data)), param=PARAM)

    assert checked.mime_type == "image/png"
