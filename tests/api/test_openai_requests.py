"""API.md §0 and §2 on a server that renders nothing: create validation through the SDK's
`BadRequestError` (with `param`), the error body, list paging, status mapping, deletion of an
unstarted video, tenancy, idempotency, and tasks read across the two dialects."""

from __future__ import annotations

import asyncio
import time
from typing import Any, cast

import httpx
import openai
import pytest
import sqlalchemy as sa
from openai.types import VideoSize

from tests.api.sdk import SORA_DEPRECATION, openai_client
from tests.api.test_no_server_errors import ODD_VALUES, assert_not_5xx
from tests.api.test_tenancy_and_idempotency import make_key
from tests.images import scene_image
from tests.support import LiveServer
from vgen.store.store import Store
from vgen.store.tables import tasks

pytestmark = pytest.mark.filterwarnings(SORA_DEPRECATION)

ERROR_FIELDS = {"message", "type", "code", "param"}


def _size(value: str) -> VideoSize:
    # vgen's sizes go beyond the SDK's Literal (which lists Sora's); the wire takes any string.
    return cast(VideoSize, value)


@pytest.mark.parametrize(
    ("kwargs", "param", "code"),
    [
        pytest.param({"size": _size("1024x1792")}, "size", "invalid_value", id="sora-size"),
        pytest.param({"seconds": "4"}, "seconds", "invalid_value", id="veo-only-8s"),
        pytest.param(
            {"model": "veo_3_1_pro_stable", "size": _size("3840x2160")},
            "size",
            "invalid_value",
            id="no-4k-on-stable",
        ),
        pytest.param({"model": "sora-2"}, "model", "model_not_found", id="unknown-model"),
        pytest.param({"prompt": "   "}, "prompt", "invalid_value", id="blank-prompt"),
        pytest.param(
            {"model": "veo_3_1_fast_stable"}, "input_reference", "invalid_value", id="needs-frame"
        ),
        pytest.param(
            {"extra_body": {"seconds": "eight"}}, "seconds", "invalid_value", id="odd-seconds"
        ),
        pytest.param(
            {"input_reference": ("tiny.png", scene_image(100, 100), "image/png")},
            "input_reference",
            "invalid_image",
            id="image-too-small",
        ),
        pytest.param(
            {"extra_body": {"input_reference": {"file_id": "file_" + "0" * 24}}},
            "input_reference",
            "file_not_found",
            id="unknown-file-id",
        ),
        pytest.param(
            {"size": _size("1280x720"), "extra_body": {"resolution": "1080p"}},
            "size",
            "invalid_value",
            id="size-and-resolution",
        ),
    ],
)
def test_bad_create_is_a_400_naming_the_param_and_stores_nothing(
    shared_server: LiveServer, kwargs: dict[str, Any], param: str, code: str
) -> None:
    key = make_key(shared_server, "strict")
    with openai_client(shared_server, key, max_retries=0) as client:
        with pytest.raises(openai.BadRequestError) as caught:
            client.videos.create(**{"prompt": "a fox", **kwargs})
        assert (caught.value.param, caught.value.code) == (param, code)
        assert caught.value.type == "invalid_request_error"
        assert list(client.videos.list()) == []


def test_unsupported_and_oversized_uploads(shared_server: LiveServer) -> None:
    with openai_client(shared_server, max_retries=0) as client:
        with pytest.raises(openai.APIStatusError) as caught:
            client.videos.create(prompt="x", input_reference=("a.txt", b"hello", "text/plain"))
        assert caught.value.status_code == 415 and caught.value.param == "input_reference"
    huge = b"\x89PNG\r\n\x1a\n" + b"\0" * shared_server.settings.max_image_bytes
    with shared_server.client() as http:
        response = http.post(
            "/v1/videos", data={"prompt": "x"}, files={"input_reference": ("a.png", huge)}
        )
    assert response.status_code == 413, response.text
    assert response.json()["error"]["param"] == "input_reference"


def test_error_bodies_have_the_contract_shape(shared_server: LiveServer) -> None:
    with shared_server.client() as http:
        queued = http.post("/v1/videos", json={"prompt": "not yet"}).json()["id"]
        responses = {
            400: http.post("/v1/videos", json={"prompt": "x", "size": "big"}),
            401: httpx.get(f"{shared_server.url}/v1/videos"),
            404: http.get("/v1/videos/vgen_" + "0" * 24),
            409: http.get(f"/v1/videos/{queued}/content"),
        }
        odd = [
            http.post("/v1/videos", content=b"[1]", headers={"Content-Type": "application/json"}),
            http.post("/v1/videos", content=b"{", headers={"Content-Type": "application/json"}),
            http.post(
                "/v1/videos",
                content=b"--x\r\nbroken",
                headers={"Content-Type": "multipart/form-data; boundary=x"},
            ),
            http.get("/v1/videos", params={"limit": "abc"}),
            http.get("/v1/videos", params={"order": "sideways"}),
            http.get("/v1/videos", params={"after": "nope"}),
            http.get(f"/v1/videos/{queued}/content", params={"variant": "gif"}),
        ]
    for status, response in responses.items():
        assert response.status_code == status, response.text
        assert set(response.json()["error"]) == ERROR_FIELDS
    assert responses[409].json()["error"]["code"] == "video_not_ready"
    assert responses[409].headers["x-should-retry"] == "false"
    for response in odd:
        assert response.status_code == 400, response.text
        assert set(response.json()["error"]) == ERROR_FIELDS
    assert [r.json()["error"]["param"] for r in odd[3:]] == ["limit", "order", "after", "variant"]


def test_content_is_only_served_for_completed_videos(shared_server: LiveServer) -> None:
    with openai_client(shared_server, max_retries=0) as client:
        video = client.videos.create(prompt="pending")
        with pytest.raises(openai.ConflictError) as caught:
            client.videos.download_content(video.id)
        assert caught.value.code == "video_not_ready"
        with pytest.raises(openai.BadRequestError) as bad:
            client.videos.download_content(video.id, variant="spritesheet")
        assert bad.value.param == "variant"


def test_list_pages_with_after_in_either_order(shared_server: LiveServer) -> None:
    key = make_key(shared_server, "lister")
    with openai_client(shared_server, key) as client:
        ids = [client.videos.create(prompt=f"clip {i}").id for i in range(5)]
        first = client.videos.list(limit=2)
        assert [v.id for v in first.data] == ids[::-1][:2] and first.has_more is True
        assert first.last_id == ids[3]
        # The SDK's auto-pagination walks every page (via `after` and `has_more`).
        assert [v.id for v in client.videos.list(limit=2)] == ids[::-1]
        assert [v.id for v in client.videos.list(limit=2, order="asc")] == ids
        tail = client.videos.list(limit=2, order="asc", after=ids[2])
        assert [v.id for v in tail.data] == ids[3:] and tail.has_more is False


def test_created_video_is_queued_and_replays_its_idempotency_key(
    shared_server: LiveServer,
) -> None:
    key = make_key(shared_server, "idem-openai")
    with openai_client(shared_server, key, max_retries=0) as client:
        headers = {"Idempotency-Key": "render-7"}
        first = client.videos.create(prompt="once", extra_headers=headers)
        again = client.videos.create(prompt="once", extra_headers=headers)
        assert first.id == again.id
        with pytest.raises(openai.ConflictError) as caught:
            client.videos.create(prompt="twice", extra_headers=headers)
        assert caught.value.code == "idempotency_conflict"
        assert [v.id for v in client.videos.list()] == [first.id]


def test_veo_task_reads_as_an_openai_video(shared_server: LiveServer) -> None:
    with shared_server.client() as http:
        created = http.post(
            "/v1/veo/videos",
            json={
                "model": "veo_3_1_pro",
                "prompt": "tall waves",
                "resolution": "1080p",
                "aspect_ratio": "9:16",
            },
        ).json()
    with openai_client(shared_server) as client:
        video = client.videos.retrieve(created["id"])
    assert (video.id, video.model, video.prompt, video.size, video.seconds) == (
        created["id"],
        "veo_3_1_pro",
        "tall waves",
        "1080x1920",
        "8",
    )
    assert (video.status, video.progress, video.error, video.completed_at) == (
        "queued",
        0,
        None,
        None,
    )
    assert video.created_at == created["created"]


def test_openai_video_reads_as_a_veo_task(shared_server: LiveServer) -> None:
    with openai_client(shared_server) as client:
        video = client.videos.create(
            model="veo_3_1_pro", prompt="snow", size=_size("3840x2160"), seconds="8"
        )
    with shared_server.client() as http:
        veo = http.get(f"/v1/result/{video.id}")
        listed = http.get("/v1/veo/videos").json()["data"]
    assert veo.status_code == 200 and veo.headers["retry-after"].isdigit()
    body = veo.json()
    assert (body["id"], body["task_id"], body["model"], body["status"]) == (
        video.id,
        video.id,
        "veo_3_1_pro",
        "queued",
    )
    assert body["created"] == video.created_at and body["video_url"] is None
    assert video.id in [t["id"] for t in listed]


def test_vgen_extensions_in_a_json_create(shared_server: LiveServer) -> None:
    with shared_server.client() as http:
        response = http.post(
            "/v1/videos",
            json={
                "prompt": "dusk",
                "resolution": "1080p",
                "aspect_ratio": "9:16",
                "seed": 7,
                "negative_prompt": "rain",
                "unknown_field": {"ignored": True},
            },
        )
    assert response.status_code == 200, response.text
    assert response.json()["size"] == "1080x1920"


def _set_state(server: LiveServer, video_id: str, **values: object) -> None:
    """Put a task into a state no request can (only a worker or the sweeper moves states)."""

    async def update() -> None:
        store = Store.open(server.settings.resolved_database_url())
        try:
            await store.database.execute(
                sa.update(tasks).where(tasks.c.id == video_id).values(**values)
            )
        finally:
            await store.close()

    asyncio.run(update())


def test_vgen_states_map_onto_the_four_openai_statuses(shared_server: LiveServer) -> None:
    with openai_client(shared_server) as client:
        ids = [client.videos.create(prompt=f"state {i}").id for i in range(3)]
        now = time.time()
        _set_state(shared_server, ids[0], state="processing", progress=40)
        _set_state(shared_server, ids[1], state="cancelled", completed_at=now)
        _set_state(
            shared_server, ids[2], state="failed", error="upstream said no", completed_at=now
        )
        running = client.videos.with_raw_response.retrieve(ids[0])
        assert running.parse().status == "in_progress" and running.parse().progress == 40
        assert int(running.headers["openai-poll-after-ms"]) > 0
        cancelled = client.videos.with_raw_response.retrieve(ids[1])
        assert "openai-poll-after-ms" not in cancelled.headers
        video = cancelled.parse()
        assert video.status == "failed" and video.error is not None
        assert video.error.code == "cancelled" and video.completed_at == int(now)
        failed = client.videos.retrieve(ids[2])
        assert failed.status == "failed" and failed.error is not None
        assert (failed.error.code, failed.error.message) == (
            "video_generation_failed",
            "upstream said no",
        )
        # A finished video can be polled to its end by the SDK's helper, too.
        assert client.videos.poll(ids[1]).status == "failed"


def test_other_tenants_videos_are_404_and_unlisted(shared_server: LiveServer) -> None:
    alice, bob = make_key(shared_server, "alice-o"), make_key(shared_server, "bob-o")
    with (
        openai_client(shared_server, alice) as a,
        openai_client(shared_server, bob, max_retries=0) as b,
    ):
        video = a.videos.create(prompt="mine")
        for call in (b.videos.retrieve, b.videos.download_content, b.videos.delete):
            with pytest.raises(openai.NotFoundError):
                call(video.id)
        assert list(b.videos.list()) == []
        assert a.videos.delete(video.id).deleted is True
        with pytest.raises(openai.NotFoundError):
            a.videos.retrieve(video.id)


OPENAI_FIELDS = [
    "model", "prompt", "seconds", "size", "input_reference", "image_url", "resolution",
    "aspect_ratio", "seed", "negative_prompt", "callback_url",
]  # fmt: skip


@pytest.mark.parametrize("field", OPENAI_FIELDS)
def test_odd_field_values_never_500(shared_server: LiveServer, field: str) -> None:
    odd = [*ODD_VALUES, {"image_url": 5}, {"file_id": None}, {"image_url": "x", "file_id": "y"}]
    with shared_server.client() as client:
        for value in odd:
            assert_not_5xx(client.post("/v1/videos", json={"prompt": "odd", field: value}))
            if isinstance(value, str):
                assert_not_5xx(client.post("/v1/videos", data={"prompt": "odd", field: value}))
        for nested in ("input_reference[image_url]", "input_reference[file_id]", "a[b][c]"):
            assert_not_5xx(client.post("/v1/videos", data={"prompt": "odd", nested: "data:"}))
        for name, data in [("input_reference", b""), ("input_reference", b"GIF89a"), ("x", b"")]:
            response = client.post("/v1/videos", data={"prompt": "odd"}, files={name: ("f", data)})
            assert response.status_code in (400, 415), response.text
