"""API.md §0/§1.1: every validation rule answers 400 with the error envelope naming `param`,
and nothing is stored for a rejected request."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.images import data_url, scene_image
from tests.support import LiveServer

IMG = data_url(scene_image())
TINY = data_url(scene_image(100, 100))

VALID: dict[str, Any] = {"model": "veo_3_1_fast", "prompt": "a cat surfing"}


def with_(**changes: Any) -> dict[str, Any]:
    body = {**VALID, **changes}
    return {k: v for k, v in body.items() if v is not None}


def without(name: str) -> dict[str, Any]:
    return {k: v for k, v in VALID.items() if k != name}


def assert_error(response: httpx.Response, status: int, param: str | None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"message", "type", "code", "param"}
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["type"], str)
    assert error["param"] == param
    return error  # type: ignore[no-any-return]


def task_count(server: LiveServer) -> int:
    with server.client() as client:
        return len(client.get("/v1/veo/videos", params={"limit": 100}).json()["data"])


INVALID_BODIES = [
    pytest.param(without("model"), "model", id="missing-model"),
    pytest.param(with_(model="sora-2"), "model", id="unknown-model"),
    pytest.param(with_(model=7), "model", id="model-not-string"),
    pytest.param(without("prompt"), "prompt", id="missing-prompt"),
    pytest.param(with_(prompt="   "), "prompt", id="blank-prompt"),
    pytest.param(with_(prompt="x" * 8001), "prompt", id="prompt-too-long"),
    pytest.param(with_(prompt=["a"]), "prompt", id="prompt-not-string"),
    pytest.param(with_(resolution="480p"), "resolution", id="bad-resolution"),
    pytest.param(with_(resolution=720), "resolution", id="resolution-not-string"),
    pytest.param(with_(aspect_ratio="16:9-1080p"), "aspect_ratio", id="combined-aspect"),
    pytest.param(with_(aspect_ratio="1:1"), "aspect_ratio", id="square-aspect"),
    pytest.param(
        with_(model="veo_3_1_fast_stable", resolution="4K", first_image=IMG),
        "resolution",
        id="fast-stable-4k",
    ),
    pytest.param(
        with_(model="veo_3_1_pro_stable", resolution="4k"), "resolution", id="pro-stable-4k"
    ),
    pytest.param(with_(model="veo_3_1_fast_stable"), "first_image", id="fast-stable-text-only"),
    pytest.param(
        with_(model="veo_3_1_fast_stable", input_reference=[IMG]),
        "first_image",
        id="fast-stable-references",
    ),
    pytest.param(
        with_(input_reference=[IMG], image_urls=[IMG]), "image_urls", id="both-reference-aliases"
    ),
    pytest.param(
        with_(input_reference=[IMG], first_image=IMG), "input_reference", id="references-and-first"
    ),
    pytest.param(
        with_(image_urls=[IMG], first_image=IMG, last_image=IMG),
        "image_urls",
        id="image-urls-and-first-last",
    ),
    pytest.param(with_(last_image=IMG), "last_image", id="last-without-first"),
    pytest.param(with_(input_reference=[]), "input_reference", id="zero-references"),
    pytest.param(with_(input_reference=[IMG] * 4), "input_reference", id="four-references"),
    pytest.param(with_(input_reference=[3]), "input_reference", id="reference-not-string"),
    pytest.param(with_(duration=5), "duration", id="duration-5"),
    pytest.param(with_(seconds="12"), "duration", id="seconds-12"),
    pytest.param(with_(duration="eight"), "duration", id="duration-not-number"),
    pytest.param(with_(duration=8, seconds=4), "seconds", id="duration-seconds-disagree"),
    pytest.param(with_(seed="abc"), "seed", id="seed-not-int"),
    pytest.param(with_(negative_prompt=5), "negative_prompt", id="negative-prompt-not-string"),
    pytest.param(with_(callback_url="ftp://x"), "callback_url", id="callback-not-http"),
    pytest.param(with_(first_image="ftp://example/x.png"), "first_image", id="ref-bad-scheme"),
    pytest.param(
        with_(first_image="asset://file_000000000000000000000000"),
        "first_image",
        id="unknown-asset",
    ),
    pytest.param(
        with_(first_image="data:text/plain;base64,aGVsbG8="), "first_image", id="data-url-not-image"
    ),
    pytest.param(with_(first_image=TINY), "first_image", id="image-too-small"),
]


@pytest.mark.parametrize(("body", "param"), INVALID_BODIES)
def test_invalid_create_is_400_naming_param_and_stores_nothing(
    shared_server: LiveServer, body: dict[str, Any], param: str
) -> None:
    before = task_count(shared_server)
    with shared_server.client() as client:
        response = client.post("/v1/veo/videos", json=body)
    error = assert_error(response, 400, param)
    assert error["type"] == "invalid_request_error"
    assert task_count(shared_server) == before


@pytest.mark.parametrize(
    "raw", [b"", b"{not json", b"[1, 2]", b'"text"', b"\xff\xfe", b"null"], ids=repr
)
def test_malformed_json_is_400_not_422_or_500(shared_server: LiveServer, raw: bytes) -> None:
    with shared_server.client() as client:
        response = client.post(
            "/v1/veo/videos", content=raw, headers={"Content-Type": "application/json"}
        )
    assert_error(response, 400, None)


def test_both_modes_message_names_both_params(shared_server: LiveServer) -> None:
    with shared_server.client() as client:
        response = client.post("/v1/veo/videos", json=with_(input_reference=[IMG], first_image=IMG))
    message = assert_error(response, 400, "input_reference")["message"]
    assert "input_reference" in message and "first_image" in message


def test_unsupported_image_type_is_415(shared_server: LiveServer) -> None:
    tiff = data_url(scene_image(fmt="TIFF"), "image/tiff")
    with shared_server.client() as client:
        response = client.post("/v1/veo/videos", json=with_(first_image=tiff))
    assert_error(response, 415, "first_image")


def test_oversized_image_is_413(shared_server: LiveServer) -> None:
    huge = "data:image/png;base64," + "A" * (28 * 1024 * 1024)
    with shared_server.client() as client:
        response = client.post("/v1/veo/videos", json=with_(first_image=huge))
    assert_error(response, 413, "first_image")


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}, {"Authorization": ""}],
    ids=["missing", "unknown", "wrong-scheme", "empty"],
)
def test_wrong_or_missing_key_is_401(shared_server: LiveServer, headers: dict[str, str]) -> None:
    with httpx.Client(base_url=shared_server.url) as client:
        for method, path in [
            ("POST", "/v1/veo/videos"),
            ("GET", "/v1/result/vgen_x"),
            ("GET", "/v1/veo/videos"),
            ("POST", "/v1/files"),
        ]:
            response = client.request(method, path, headers=headers, json=VALID)
            assert_error(response, 401, None)


@pytest.mark.parametrize(
    "path",
    ["/v1/result/{id}", "/v1/veo/videos/{id}", "/result/{id}", "/kyyReactApiServer/v1/result/{id}"],
)
def test_unknown_id_is_404_on_every_alias(shared_server: LiveServer, path: str) -> None:
    with shared_server.client() as client:
        for task_id in ["vgen_" + "0" * 24, "nonsense", "../../etc/passwd"]:
            assert_error(client.get(path.format(id=task_id)), 404, None)


@pytest.mark.parametrize("limit", ["0", "101", "-1", "abc"])
def test_bad_list_limit_is_400(shared_server: LiveServer, limit: str) -> None:
    with shared_server.client() as client:
        assert_error(client.get("/v1/veo/videos", params={"limit": limit}), 400, "limit")


def test_unknown_route_is_404_envelope(shared_server: LiveServer) -> None:
    with shared_server.client() as client:
        assert_error(client.get("/v1/nothing-here"), 404, None)
