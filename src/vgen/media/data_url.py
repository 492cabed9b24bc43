"""Data URL: the bytes inside a client's `data:image/...;base64,` image reference.

Invariant: the payload is size-checked on its encoded length before anything is decoded, and only
base64 image data URLs are accepted; what the bytes really are is `image_check`'s concern.
"""

from __future__ import annotations

import base64
import binascii

from vgen.domain.errors import InvalidRequest, PayloadTooLarge

_CODE = "invalid_data_url"


def _invalid(message: str, *, param: str) -> InvalidRequest:
    return InvalidRequest(message, param=param, code=_CODE)


def _too_large(max_bytes: int, *, param: str) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"image in data URL is over the limit of {max_bytes} bytes",
        param=param,
        code="image_too_large",
    )


def _check_header(header: str, *, param: str) -> None:
    """`header` is what sits between `data:` and the comma, e.g. `image/png;base64`."""
    media_type, *parameters = header.split(";")
    major, _, subtype = media_type.strip().lower().partition("/")
    if major != "image" or not subtype:
        raise _invalid("data URL must carry an image/* media type", param=param)
    if not parameters or parameters[-1].strip().lower() != "base64":
        raise _invalid("data URL must be base64-encoded (';base64,')", param=param)


def decode_data_url(url: str, *, max_bytes: int, param: str) -> bytes:
    """Decode a `data:image/<type>;base64,<payload>` URL to its bytes.

    Raises:
        InvalidRequest: `invalid_data_url`, not a base64 image data URL or not valid base64.
        PayloadTooLarge: `image_too_large`, the decoded bytes would exceed `max_bytes`.
    """
    scheme, colon, rest = url.partition(":")
    if not colon or scheme.strip().lower() != "data":
        raise _invalid("not a data URL", param=param)
    header, comma, payload = rest.partition(",")
    if not comma:
        raise _invalid("data URL has no ',' before its payload", param=param)
    _check_header(header, param=param)
    # Every 3 bytes encode as 4 characters: refuse on length alone, before allocating a decode.
    if len(payload) > 4 * -(-max_bytes // 3):
        raise _too_large(max_bytes, param=param)
    # Some encoders drop the trailing '=' padding; restore it rather than reject the image.
    padded = payload.strip() + "=" * (-len(payload.strip()) % 4)
    try:
        data = base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _invalid("data URL payload is not valid base64", param=param) from exc
    if not data:
        raise _invalid("data URL payload is empty", param=param)
    if len(data) > max_bytes:
        raise _too_large(max_bytes, param=param)
    return data
