"""What clients see when a request fails (API.md §0), pinned byte for byte per dialect: the error
bodies of 400/401/404/409/429, of a storage fault (503) and of an unexpected exception (500),
and the 404 of a thumbnail
asked of an archived video that no longer decodes."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Callable

import httpx
import pytest
import sqlalchemy as sa

from tests.images import data_url, scene_image
from tests.support import LiveServer
from vgen.config import Settings
from vgen.store.store import Store
from vgen.store.tables import tasks

UNKNOWN = "vgen_" + "0" * 24
CREATE = {"model": "veo_3_1_fast", "prompt": "sea"}
INTERNAL = (
    b'{"error":{"message":"The server had an error while processing your request.",'
    b'"type":"server_error","code":null,"param":null}}'
)
MISSING_KEY = (
    b'{"error":{"message":"Missing API key: send \'Authorization: Bearer <key>\'.",'
    b'"type":"authentication_error","code":"invalid_api_key","param":null}}'
)
NO_SUCH_TASK = (
    b'{"error":{"message":"No task with id \'vgen_000000000000000000000000\'.",'
    b'"type":"not_found_error","code":"not_found","param":null}}'
)
INFLIGHT = (
    b'{"error":{"message":"This key already has 1 unfinished tasks, its limit; create more '
    b'when some have finished.","type":"rate_limit_error","code":"too_many_inflight_tasks",'
    b'"param":null}}'
)


@pytest.fixture
def idle_server(settings: Settings, make_server: Callable[..., LiveServer]) -> LiveServer:
    """No worker: tasks stay where the test puts them."""
    return make_server(settings.model_copy(update={"run_worker": False}))


def assert_pinned(response: httpx.Response, status: int, body: bytes, **headers: str) -> None:
    assert (response.status_code, response.content) == (status, body), response.text
    assert response.headers["content-type"] == "application/json"
    for name, value in headers.items():
        assert response.headers[name.replace("_", "-")] == value, name


def one_task_key(server: LiveServer) -> str:
    with server.client() as admin:
        created = admin.post("/v1/admin/keys", json={"name": "one", "max_inflight": 1})
    assert created.status_code == 200, created.text
    key: str = created.json()["key"]
    return key


STORAGE_DOWN = (
    b'{"error":{"message":"archive write failed: No such file or directory",'
    b'"type":"service_unavailable_error","code":"storage_unavailable","param":null}}'
)


def break_the_archive(server: LiveServer) -> None:
    """A storage fault: the archive's staging directory vanished, so storing any image fails
    (transient, 503; the message names no server path)."""
    shutil.rmtree(server.settings.data_dir / "archive" / ".staging")


def corrupt_the_stored_request(server: LiveServer, task_id: str) -> None:
    """A real fault no request can cause: the task row's stored request is not JSON any more,
    so reading the task raises an error nothing maps."""

    async def corrupt() -> None:
        store = Store.open(server.settings.resolved_database_url())
        try:
            await store.database.execute(
                sa.update(tasks).where(tasks.c.id == task_id).values(request="{not json")
            )
        finally:
            await store.close()

    asyncio.run(corrupt())


def test_veo_task_dialect_error_bodies(idle_server: LiveServer) -> None:
    with idle_server.client() as client:
        task_id = client.post("/v1/veo/videos", json=CREATE).json()["id"]
        assert_pinned(
            client.post("/v1/veo/videos", json={**CREATE, "aspect_ratio": "5:4"}),
            400,
            b'{"error":{"message":"Invalid aspect_ratio \'5:4\': use 16:9 or 9:16.",'
            b'"type":"invalid_request_error","code":"invalid_value","param":"aspect_ratio"}}',
        )
        assert_pinned(client.get(f"/v1/result/{UNKNOWN}"), 404, NO_SUCH_TASK)
        assert client.post(f"/v1/veo/videos/{task_id}/cancel").status_code == 200
        assert_pinned(
            client.post(f"/v1/veo/videos/{task_id}/cancel"),
            409,
            b'{"error":{"message":"Task \'%s\' has already ended; it cannot be cancelled.",'
            b'"type":"invalid_request_error","code":"task_finished","param":null}}'
            % task_id.encode(),
            x_should_retry="false",
        )
    for path in (f"/v1/result/{task_id}", "/v1/veo/videos"):
        assert_pinned(
            httpx.get(idle_server.url + path), 401, MISSING_KEY, www_authenticate="Bearer"
        )
    with idle_server.client(one_task_key(idle_server)) as limited:
        assert limited.post("/v1/veo/videos", json=CREATE).status_code == 200
        assert_pinned(limited.post("/v1/veo/videos", json=CREATE), 429, INFLIGHT, retry_after="10")
    break_the_archive(idle_server)
    with idle_server.client() as client:
        image = data_url(scene_image())
        response = client.post("/v1/veo/videos", json={**CREATE, "first_image": image})
        assert_pinned(response, 503, STORAGE_DOWN, retry_after="5")
        corrupt_the_stored_request(idle_server, task_id)
        assert_pinned(client.get("/v1/veo/videos"), 500, INTERNAL)


def test_openai_dialect_error_bodies(idle_server: LiveServer) -> None:
    with idle_server.client() as client:
        video_id = client.post("/v1/videos", json={"prompt": "not yet"}).json()["id"]
        assert_pinned(
            client.post("/v1/videos", json={"prompt": "x", "size": "big"}),
            400,
            b'{"error":{"message":"Invalid size \'big\': use one of 1280x720, 720x1280, '
            b'1920x1080, 1080x1920, 3840x2160, 2160x3840.","type":"invalid_request_error",'
            b'"code":"invalid_value","param":"size"}}',
        )
        assert_pinned(client.get(f"/v1/videos/{UNKNOWN}"), 404, NO_SUCH_TASK)
        assert_pinned(
            client.get(f"/v1/videos/{video_id}/content"),
            409,
            b'{"error":{"message":"Video \'%s\' is not completed, so it has no video to '
            b'download.","type":"invalid_request_error","code":"video_not_ready","param":null}}'
            % video_id.encode(),
            x_should_retry="false",
        )
    assert_pinned(
        httpx.get(f"{idle_server.url}/v1/videos"), 401, MISSING_KEY, www_authenticate="Bearer"
    )
    with idle_server.client(one_task_key(idle_server)) as limited:
        assert limited.post("/v1/videos", json={"prompt": "one"}).status_code == 200
        assert_pinned(
            limited.post("/v1/videos", json={"prompt": "two"}), 429, INFLIGHT, retry_after="10"
        )
    break_the_archive(idle_server)
    with idle_server.client() as client:
        reference = {"image_url": data_url(scene_image())}
        response = client.post("/v1/videos", json={"prompt": "sea", "input_reference": reference})
        assert_pinned(response, 503, STORAGE_DOWN, retry_after="5")
        corrupt_the_stored_request(idle_server, video_id)
        assert_pinned(client.get(f"/v1/videos/{video_id}"), 500, INTERNAL)


def complete_by_hand(server: LiveServer, *, artifact: bytes) -> str:
    """Create a task and complete it as a worker would, with `artifact` as its archived video."""
    with server.client() as client:
        task_id: str = client.post("/v1/veo/videos", json=CREATE).json()["id"]
    artifact_key = f"{task_id}/video.mp4"

    async def complete() -> None:
        store = Store.open(server.settings.resolved_database_url())
        try:
            claimed = await store.queue.claim_next("test", now=time.time(), lease_s=60)
            assert claimed is not None and claimed.id == task_id
            assert await store.queue.complete(
                task_id,
                "test",
                artifact_key=artifact_key,
                video_seconds=8.0,
                now=claimed.created_at + 1,
                archive_expires_at=claimed.created_at + 86_400,
            )
        finally:
            await store.close()

    asyncio.run(complete())
    path = server.settings.data_dir / "archive" / artifact_key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(artifact)
    return task_id


def test_thumbnail_of_an_archived_video_that_does_not_decode_is_a_404(
    idle_server: LiveServer,
) -> None:
    task_id = complete_by_hand(idle_server, artifact=b"\x00\x00\x00\x18ftypmp42 damaged")
    with idle_server.client() as client:
        thumbnail = client.get(f"/v1/videos/{task_id}/content", params={"variant": "thumbnail"})
        assert_pinned(
            thumbnail,
            404,
            b'{"error":{"message":"The archived video cannot be decoded, so it cannot be '
            b'served.","type":"not_found_error","code":"video_undecodable","param":null}}',
        )
        assert client.get(f"/v1/videos/{task_id}").json()["status"] == "completed"
