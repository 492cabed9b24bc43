"""The status-poll fast path answers exactly as the documented route: same status, headers and
body bytes, for every state a poller sees, unknown ids and refused keys, at every alias."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY

from tests.support import HandClock
from vgen.api import veo
from vgen.api.app import create_app
from vgen.config import Settings
from vgen.service.bootstrap import ensure_admin_key
from vgen.store.store import Store

pytestmark = pytest.mark.anyio

UNKNOWN = "vgen_" + "0" * 24


@dataclass
class Rig:
    """One app, reached two ways: through its middlewares (polls take the fast path) and
    straight into FastAPI's own handling (polls reach the documented route)."""

    fast: httpx.AsyncClient
    routed: httpx.AsyncClient
    answered_by: list[str]
    ids: dict[str, str]
    key: str
    database_url: str


async def seed(store: Store, client: httpx.AsyncClient, clock: HandClock) -> dict[str, str]:
    """One task in each state, moved by the queue exactly as a worker moves them."""
    created = [
        (await client.post("/v1/veo/videos", json={"model": "veo_3_1_fast", "prompt": "sea"}))
        for _ in range(4)
    ]
    assert all(r.status_code == 200 for r in created), [r.text for r in created]
    claimed = []
    for _ in range(3):
        task = await store.queue.claim_next("test", now=clock(), lease_s=600)
        assert task is not None
        claimed.append(task.id)
    processing, completed, failed = claimed
    assert await store.queue.report_progress(processing, "test", progress=40, now=clock())
    assert await store.queue.complete(
        completed,
        "test",
        artifact_key=f"{completed}/video.mp4",
        video_seconds=8.0,
        now=clock(),
        archive_expires_at=clock() + 86_400,
    )
    assert await store.queue.fail(failed, "test", error="upstream said no", now=clock())
    (queued,) = {r.json()["id"] for r in created} - set(claimed)
    return {
        "queued": queued,
        "processing": processing,
        "completed": completed,
        "failed": failed,
        "unknown": UNKNOWN,
        "malformed": "not-a-task-id",
    }


@pytest.fixture
async def rig(settings: Settings) -> AsyncIterator[Rig]:
    settings = settings.model_copy(update={"run_worker": False})
    admin_key = await _admin_key(settings)
    clock = HandClock()
    app = create_app(settings, clock=clock)
    answered_by: list[str] = []

    async def through_middlewares(scope: Any, receive: Any, send: Any) -> None:
        await app(scope, receive, send)
        answered_by.append(scope["route"].path)

    async def into_fastapi(scope: Any, receive: Any, send: Any) -> None:
        await FastAPI.__call__(app, scope, receive, send)
        answered_by.append(scope["route"].path)

    headers = {"Authorization": f"Bearer {admin_key}"}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=through_middlewares),
            base_url="http://vgen.test",
            headers=headers,
        ) as fast,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=into_fastapi),
            base_url="http://vgen.test",
            headers=headers,
        ) as routed,
    ):
        ids = await seed(app.state.services.store, routed, clock)
        answered_by.clear()
        yield Rig(
            fast=fast,
            routed=routed,
            answered_by=answered_by,
            ids=ids,
            key=headers["Authorization"],
            database_url=settings.resolved_database_url(),
        )


async def _admin_key(settings: Settings) -> str:
    store = Store.open(settings.resolved_database_url())
    try:
        key = await ensure_admin_key(store, settings.data_dir, clock=HandClock())
    finally:
        await store.close()
    return key or (settings.data_dir / "admin.key").read_text().strip()


def answer(response: httpx.Response) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    return response.status_code, response.headers.raw, response.content


async def poll(client: httpx.AsyncClient, url: str, key: str | None) -> httpx.Response:
    request = client.build_request("GET", url)
    del request.headers["Authorization"]
    if key is not None:
        request.headers["Authorization"] = key
    return await client.send(request)


@pytest.mark.parametrize("path", veo.poll_paths())
async def test_fast_path_and_documented_route_answer_byte_identically(rig: Rig, path: str) -> None:
    statuses = {}
    for name, task_id in rig.ids.items():
        url = path.format(task_id=task_id)
        for key in (rig.key, None, "Bearer vgen-sk-unknown"):
            by_fast_path = answer(await poll(rig.fast, url, key))
            by_route = answer(await poll(rig.routed, url, key))
            assert by_fast_path == by_route, (name, key)
            # Each was answered where it should be: the fast path names every poll by the
            # documented template; the router names the alias it matched.
            fast_route, matched_route = rig.answered_by
            assert fast_route == veo.POLL_ROUTE != matched_route and path.endswith(matched_route)
            rig.answered_by.clear()
            statuses[name, key is rig.key] = by_route[0]
    assert statuses == {
        **{(name, False): 401 for name in rig.ids},
        **{(name, True): 200 for name in ("queued", "processing", "completed", "failed")},
        ("unknown", True): 404,
        ("malformed", True): 404,
    }
    completed = await poll(rig.fast, path.format(task_id=rig.ids["completed"]), rig.key)
    assert completed.json()["status"] == "completed"
    assert completed.json()["video_url"].startswith("http")


def _polls_counted(status: int) -> float:
    labels = {"method": "GET", "route": veo.POLL_ROUTE, "status": str(status)}
    return REGISTRY.get_sample_value("vgen_http_requests_total", labels) or 0.0


def _poll_latencies_counted() -> float:
    labels = {"method": "GET", "route": veo.POLL_ROUTE}
    return REGISTRY.get_sample_value("vgen_http_request_duration_seconds_count", labels) or 0.0


async def test_fast_path_counts_each_poll_once_by_its_status(rig: Rig) -> None:
    """The fast path answers before `RequestMetrics` and counts its polls itself: once each,
    under the documented template whatever the alias, by the status the client got."""
    before = {status: _polls_counted(status) for status in (200, 401, 404)}
    latencies_before = _poll_latencies_counted()
    sent = {200: 0, 401: 0, 404: 0}
    for path in veo.poll_paths():
        for name in ("completed", "unknown"):
            url = path.format(task_id=rig.ids[name])
            ok = await poll(rig.fast, url, rig.key)
            sent[ok.status_code] += 1
            refused = await poll(rig.fast, url, "Bearer vgen-sk-unknown")
            sent[refused.status_code] += 1
    assert sent[200] == sent[404] == len(veo.poll_paths()) and sent[401] == 2 * sent[200]
    counted = {status: _polls_counted(status) - before[status] for status in sent}
    assert counted == sent
    assert _poll_latencies_counted() - latencies_before == sum(sent.values())


async def test_fast_path_sees_other_connections_writes_at_once(rig: Rig) -> None:
    """What the poll memoises never outlives what it read: a task moved and a key revoked by
    another connection (another process, `vgen keys revoke`) show on the very next poll."""
    url = f"/v1/result/{rig.ids['processing']}"
    assert (await poll(rig.fast, url, rig.key)).json()["progress"] == 40
    other = Store.open(rig.database_url)
    try:
        moved = await other.queue.report_progress(
            rig.ids["processing"], "test", progress=70, now=HandClock()()
        )
        assert moved
        assert (await poll(rig.fast, url, rig.key)).json()["progress"] == 70
        key_id = await other.keys.id_of_secret(rig.key.removeprefix("Bearer "))
        assert key_id is not None
        assert await other.keys.revoke(key_id, now=HandClock()()) is not None
    finally:
        await other.close()
    refused = await poll(rig.fast, url, rig.key)
    assert refused.status_code == 401
    assert refused.json()["error"]["message"] == "Incorrect API key provided."
