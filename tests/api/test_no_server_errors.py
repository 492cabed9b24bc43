"""API.md §0: no input a client can send produces a 500 — every odd value of every field,
odd ids, odd query strings and odd headers get a 2xx or a 4xx with the error envelope."""

from __future__ import annotations

import itertools
from typing import Any

import httpx
import pytest

from tests.support import LiveServer

ODD_VALUES: list[Any] = [
    None,
    True,
    0,
    -1,
    1.5,
    1e308,
    2**70,
    "",
    " ",
    "\x00",
    "a\x00b",
    "x" * 20_000,
    [],
    [None],
    [[]],
    {},
    {"a": 1},
    "asset://",
    "data:",
    "data:image/png;base64,!!!",
    "http://",
    "https://[::1",
    "http://user:pw@127.0.0.1/x.png",
    "💥",
    "4K",
    "9:16",
]
FIELDS = [
    "model",
    "prompt",
    "resolution",
    "aspect_ratio",
    "input_reference",
    "image_urls",
    "first_image",
    "last_image",
    "duration",
    "seconds",
    "negative_prompt",
    "seed",
    "callback_url",
]
BASE = {"model": "veo_3_1_fast", "prompt": "robustness"}


def assert_not_5xx(response: httpx.Response) -> None:
    assert response.status_code < 500, (response.request.url, response.text)
    if response.status_code >= 400:
        error = response.json()["error"]
        assert set(error) == {"message", "type", "code", "param"}


@pytest.mark.parametrize("field", FIELDS)
def test_odd_field_values_never_500(shared_server: LiveServer, field: str) -> None:
    with shared_server.client() as client:
        for value in ODD_VALUES:
            assert_not_5xx(client.post("/v1/veo/videos", json={**BASE, field: value}))


def test_odd_ids_queries_and_headers_never_500(shared_server: LiveServer) -> None:
    odd = ["%00", "vgen_%00", "x" * 5000, "vgen_" + "Z" * 24, "%F0%9F%92%A5", "..%2F..%2Fetc"]
    with shared_server.client() as client:
        for path, value in itertools.product(
            ["/v1/result/", "/v1/veo/videos/", "/result/", "/v1/files/"], odd
        ):
            assert_not_5xx(client.get(path + value))
        for key, value in itertools.product(["limit", "after"], odd + ["", "-5", "1e9"]):
            assert_not_5xx(client.get("/v1/veo/videos", params={key: value}))
        for header in ["x" * 300, "a b", "ünïcode".encode()]:
            assert_not_5xx(
                client.post("/v1/veo/videos", json=BASE, headers={"Idempotency-Key": header})
            )
        assert_not_5xx(
            client.get("/v1/files/vgen_x/video.mp4", params={"exp": "9" * 400, "sig": "\x00"})
        )
        assert_not_5xx(
            client.post(
                "/v1/files",
                content=b"--x\r\nbroken",
                headers={"Content-Type": "multipart/form-data; boundary=x"},
            )
        )
        assert_not_5xx(
            client.post(
                "/v1/veo/videos",
                content=b"[" * 100_000,
                headers={"Content-Type": "application/json"},
            )
        )
        assert_not_5xx(client.put("/v1/veo/videos", json=BASE))


def test_private_image_urls_are_refused_by_default(
    shared_server: LiveServer, tmp_path: Any, make_server: Any
) -> None:
    from vgen.config import Settings

    settings = shared_server.settings.model_copy(
        update={
            "allow_private_urls": False,
            "data_dir": tmp_path / "d",
            "database_url": f"sqlite:///{tmp_path / 'p.db'}",
        }
    )
    assert isinstance(settings, Settings)
    server = make_server(settings)
    with server.client() as client:
        for url in [
            "http://127.0.0.1:9/x.png",
            "http://169.254.169.254/latest/meta-data",
            "http://localhost/x.png",
            "http://10.0.0.1/x.png",
        ]:
            response = client.post("/v1/veo/videos", json={**BASE, "first_image": url})
            assert response.status_code == 400, response.text
            error = response.json()["error"]
            assert error["param"] == "first_image" and error["code"] == "image_url_forbidden"
