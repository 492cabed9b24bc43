"""Cancel (queued at once, processing as soon as the engine stops, finished → 409), usage per
model and day, and signed webhooks for task events, end to end through a live server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.conftest import wait_for
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.platform.conftest import assert_error, create_tiny, finish, make_key
from tests.support import LiveServer, ThreadedUvicorn
from vgen.config import Settings
from vgen.store.store import Store


@pytest.fixture
def receiver() -> Iterator[tuple[WebhookReceiver, str]]:
    hook = WebhookReceiver()
    server = ThreadedUvicorn(hook.app(), lifespan="off")
    yield hook, server.url
    server.stop()


def events_of(server: LiveServer, task_id: str) -> list[str]:
    async def read() -> list[str]:
        store = Store.open(server.settings.resolved_database_url())
        try:
            return [e.event_type for e in await store.outbox.list_for_task(task_id)]
        finally:
            await store.close()

    return asyncio.run(read())


def test_cancel_a_queued_task_at_once(
    tiny_settings: Settings, make_server: Callable[..., LiveServer]
) -> None:
    server = make_server(tiny_settings.model_copy(update={"run_worker": False}))
    with server.client() as client:
        task_id = create_tiny(client).json()["id"]
        cancelled = client.post(f"/v1/veo/videos/{task_id}/cancel")
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["status"] == "failed" and cancelled.json()["error"] == "cancelled"
        shown = client.get(f"/v1/result/{task_id}").json()
        assert (shown["status"], shown["error"], shown["video_url"]) == (
            "failed",
            "cancelled",
            None,
        )
        assert "Retry-After" not in client.get(f"/v1/result/{task_id}").headers
        assert_error(client.post(f"/v1/veo/videos/{task_id}/cancel"), 409, "task_finished")
        assert_error(client.post(f"/v1/veo/videos/vgen_{'1' * 24}/cancel"), 404)
        assert_error(client.post("/v1/veo/videos/not-an-id/cancel"), 404)
    assert events_of(server, task_id) == ["video.cancelled"]


def test_cancel_a_processing_render_stops_it(
    server: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    with server.client() as client:
        task_id = client.post(
            "/v1/veo/videos",
            json={"model": "veo_3_1_fast", "prompt": "long render", "resolution": "1080p"},
        ).json()["id"]
        wait_for(
            lambda: client.get(f"/v1/result/{task_id}").json()["status"] == "processing",
            timeout_s=30,
        )
        assert client.post(f"/v1/veo/videos/{task_id}/cancel").status_code == 200
        # The worker's next write misses and it drops the render: nothing is archived after.
        wait_for(
            lambda: any(
                r.getMessage().startswith("lease lost") and getattr(r, "task_id", None) == task_id
                for r in caplog.records
            ),
            timeout_s=30,
            message="the worker to drop the cancelled render",
        )
        shown = client.get(f"/v1/result/{task_id}").json()
        assert (shown["status"], shown["error"]) == ("failed", "cancelled")
    archive = server.settings.data_dir / "archive" / "videos" / task_id
    assert not archive.exists() or not any(archive.iterdir()), "a cancelled render archived"


def test_finished_task_cannot_be_cancelled(platform_server: LiveServer) -> None:
    with platform_server.client() as client:
        task_id = create_tiny(client).json()["id"]
        assert finish(client, task_id)["status"] == "completed"
        assert_error(client.post(f"/v1/veo/videos/{task_id}/cancel"), 409)
        assert client.get(f"/v1/result/{task_id}").json()["status"] == "completed"


def test_usage_per_model_and_day_for_the_callers_tenant_only(
    platform_server: LiveServer,
) -> None:
    mine, theirs = make_key(platform_server, name="mine"), make_key(platform_server, name="theirs")
    with platform_server.client(mine["key"]) as client:
        for seconds in (1, 2):
            assert (
                finish(client, create_tiny(client, seconds=seconds).json()["id"])["status"]
                == "completed"
            )
        queued = create_tiny(client).json()["id"]
        client.post(f"/v1/veo/videos/{queued}/cancel")
        report = client.get("/v1/usage").json()
    today = time.strftime("%Y-%m-%d", time.gmtime())
    assert report["object"] == "usage" and report["to"] == today
    (row,) = report["data"]
    assert (row["day"], row["model"]) == (today, "tiny")
    assert row["video_seconds"] == pytest.approx(3.0, abs=0.15)
    assert (row["completed"], row["cancelled"], row["failed"], row["tasks"]) in {
        (2, 1, 0, 3),
        (2, 0, 0, 2),  # the queued task may have completed before the cancel
    }
    assert report["total"]["video_seconds"] == pytest.approx(row["video_seconds"])
    with platform_server.client(theirs["key"]) as client:
        assert client.get("/v1/usage").json()["data"] == []
        assert (
            client.get("/v1/usage", params={"from": "2020-01-01", "to": "2020-01-31"}).json()[
                "data"
            ]
            == []
        )
        for params, param in (
            ({"from": "yesterday"}, "from"),
            ({"to": "2026-13-01"}, "to"),
            ({"from": "2026-11-10", "to": "2026-11-01"}, "from"),
            ({"from": "2020-01-01", "to": "2026-01-01"}, "from"),
        ):
            response = client.get("/v1/usage", params=params)
            assert_error(response, 400)
            assert response.json()["error"]["param"] == param
        unix = client.get("/v1/usage", params={"from": str(int(time.time()) - 86400)})
        assert unix.status_code == 200


def test_webhooks_are_signed_and_delivered_for_each_event(
    platform_server: LiveServer, receiver: tuple[WebhookReceiver, str]
) -> None:
    hook, url = receiver
    key = make_key(platform_server, name="hooked", webhook_url=f"{url}/key-default")
    hook.secret = key["webhook_secret"]
    with platform_server.client(key["key"]) as client:
        done_id = create_tiny(client).json()["id"]
        assert finish(client, done_id)["status"] == "completed"
        callback_id = create_tiny(client, callback_url=f"{url}/per-task").json()["id"]
        finish(client, callback_id)
    wait_for(lambda: len(hook.verified) >= 2, timeout_s=30, message="two webhooks")
    by_task = {d.payload["data"]["id"]: d for d in hook.deliveries if d.payload}
    first = by_task[done_id]
    assert first.path == "/key-default" and first.payload["type"] == "video.completed"
    assert first.payload["data"]["status"] == "completed"
    assert first.payload["data"]["video_url"].startswith(platform_server.url)
    assert isinstance(first.payload["timestamp"], int)
    assert first.headers["webhook-id"] and first.headers["webhook-signature"].startswith("v1,")
    assert by_task[callback_id].path == "/per-task", "a task's callback_url beats the key's"
    with httpx.Client() as plain:  # the URL in the webhook works as it is
        video = plain.get(first.payload["data"]["video_url"])
    assert video.status_code == 200 and video.content[4:8] == b"ftyp"
