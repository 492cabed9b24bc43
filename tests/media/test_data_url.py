from __future__ import annotations

import base64

import pytest

from vgen.domain.errors import InvalidRequest, PayloadTooLarge
from vgen.media.data_url import decode_data_url

PARAM = "first_image"
PAYLOAD = bytes(range(256)) * 4
ENCODED = base64.b64encode(PAYLOAD).decode()


def _reject(url: str, error: type[InvalidRequest], code: str, max_bytes: int = 10_000) -> None:
    with pytest.raises(InvalidRequest) as info:
        decode_data_url(url, max_bytes=max_bytes, param=PARAM)
    assert type(info.value) is error
    assert info.value.code == code
    assert info.value.param == PARAM


@pytest.mark.parametrize(
    "url",
    [
        f"data:image/png;base64,{ENCODED}",
        f"DATA:Image/JPEG;BASE64,{ENCODED}",
        f"data:image/webp;name=photo.webp;base64,{ENCODED}",
        f"data:image/png;base64,{ENCODED.rstrip('=')}",  # padding dropped by some encoders
    ],
)
def test_base64_image_data_url_decodes_to_its_bytes(url: str) -> None:
    assert decode_data_url(url, max_bytes=10_000, param=PARAM) == PAYLOAD


def test_declared_image_type_is_not_trusted_here() -> None:
    # Whether the bytes really are an image is image_check's job, not the URL's label.
    url = "data:image/gif;base64," + base64.b64encode(b"not a gif").decode()

    assert decode_data_url(url, max_bytes=100, param=PARAM) == b"not a gif"


@pytest.mark.parametrize(
    "url",
    [
        f"data:text/plain;base64,{ENCODED}",
        f"data:application/octet-stream;base64,{ENCODED}",
        f"data:;base64,{ENCODED}",
        f"data:image/;base64,{ENCODED}",
        "data:image/png,rawbytesnotbase64",
        "data:image/svg+xml;utf8,<svg/>",
        "data:image/png;base64",
        f"https://example.com/x.png;base64,{ENCODED}",
        "image/png;base64,AAAA",
    ],
)
def test_non_image_or_non_base64_data_url_is_invalid(url: str) -> None:
    _reject(url, InvalidRequest, "invalid_data_url")


@pytest.mark.parametrize(
    "payload",
    ["!!!!", "AAAA AAAA", "A", "AAAAA", "ÀÀÀÀ", ""],
)
def test_bad_base64_payload_is_invalid(payload: str) -> None:
    _reject(f"data:image/png;base64,{payload}", InvalidRequest, "invalid_data_url")


def test_encoded_length_over_limit_is_refused_before_decoding() -> None:
    # Not valid base64 at all: the size check must fire first, without decoding.
    url = "data:image/png;base64," + "!" * 2000

    _reject(url, PayloadTooLarge, "image_too_large", max_bytes=1000)


def test_decoded_size_just_over_limit_is_payload_too_large() -> None:
    url = "data:image/png;base64," + base64.b64encode(b"x" * 1001).decode()

    _reject(url, PayloadTooLarge, "image_too_large", max_bytes=1000)


def test_decoded_size_at_limit_is_accepted() -> None:
    url = "data:image/png;base64," + base64.b64encode(b"x" * 1000).decode()

    assert decode_data_url(url, max_bytes=1000, param=PARAM) == b"x" * 1000
