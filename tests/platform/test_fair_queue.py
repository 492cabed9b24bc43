"""Fair, transparent queues over HTTP (API.md §6): `priority` in both dialects' create bodies,
`queue_position` / `eta_seconds` while queued, and fair share between tenants on one render
slot, seen by the client."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.conftest import wait_for
from tests.platform.conftest import assert_error, create_tiny, make_key
from tests.support import LiveServer
from vgen.client import Client
from vgen.config import Settings
from vgen.store.store import Store


@pytest.fixture
def queue_only(tiny_settings: Settings, make_server: Callable[..., LiveServer]) -> LiveServer:
    """An API with no worker, one local render slot: everything it is given stays queued."""
    return make_server(tiny_settings.model_copy(update={"run_worker": False, "local_processes": 1}))


def queued_position(client: httpx.Client, task_id: str) -> int:
    body = client.get(f"/v1/result/{task_id}").json()
    assert body["status"] == "queued", body
    position = body["queue_position"]
    assert isinstance(position, int) and position >= 1, body
    return position


def test_priority_is_checked_in_both_dialects(queue_only: LiveServer) -> None:
    with queue_only.client() as client:
        for value in ("urgent", 3, ["high"]):
            assert_error(create_tiny(client, priority=value), 400)
            assert create_tiny(client, priority=value).json()["error"]["param"] == "priority"
            fields = {"model": "tiny", "prompt": "p", "seconds": "1", "priority": value}
            refused = client.post("/v1/videos", json=fields)
            assert_error(refused, 400)
            assert refused.json()["error"]["param"] == "priority"
        assert client.get("/v1/veo/videos").json()["data"] == []  # nothing was created
        for value in ("low", "normal", "high"):
            assert create_tiny(client, priority=value).status_code == 200
        made = client.post(
            "/v1/videos", json={"model": "tiny", "prompt": "p", "seconds": "1", "priority": "high"}
        )
        assert made.status_code == 200, made.text
        assert made.json()["status"] == "queued" and made.json()["queue_position"] >= 1


def test_a_late_tenant_is_served_within_one_slot_of_a_big_batch(
    queue_only: LiveServer, make_server: Callable[..., LiveServer]
) -> None:
    a, b = make_key(queue_only, name="a"), make_key(queue_only, name="b")
    with queue_only.client(a["key"]) as client_a, queue_only.client(b["key"]) as client_b:
        a_tasks = [create_tiny(client_a).json()["id"] for _ in range(30)]
        b_tasks = [create_tiny(client_b).json()["id"] for _ in range(3)]

        positions = {t: queued_position(client_a, t) for t in a_tasks}
        positions |= {t: queued_position(client_b, t) for t in b_tasks}
        # One numbering across both tenants: 1..33, each once.
        assert sorted(positions.values()) == list(range(1, 34))
        # B's three are served before A's sixth, A's own keep their order.
        assert max(positions[t] for t in b_tasks) < positions[a_tasks[5]]
        assert [positions[t] for t in a_tasks] == sorted(positions[t] for t in a_tasks)

        # The OpenAI dialect shows the same numbers.
        video = client_b.get(f"/v1/videos/{b_tasks[0]}").json()
        assert video["queue_position"] == positions[b_tasks[0]]
        assert "eta_seconds" in video

        # A worker starts (on the same database): positions count down as tasks ahead start,
        # and a task that is no longer queued shows neither field.
        last = a_tasks[-1]
        start = positions[last]
        make_server(queue_only.settings.model_copy(update={"run_worker": True}))
        seen: list[int] = []

        def watch() -> bool:
            body = client_a.get(f"/v1/result/{last}").json()
            if body["status"] != "queued":
                assert body["queue_position"] is None and body["eta_seconds"] is None, body
                return body["status"] == "completed"
            # null is allowed: the task was started between the status read and the count.
            if body["queue_position"] is not None:
                seen.append(body["queue_position"])
            return False

        wait_for(watch, timeout_s=120, message="the last task of the batch completes")
        assert seen == sorted(seen, reverse=True) and all(p <= start for p in seen), seen
        statuses = {client_a.get(f"/v1/result/{t}").json()["status"] for t in a_tasks}
        statuses |= {client_b.get(f"/v1/result/{t}").json()["status"] for t in b_tasks}
        assert statuses == {"completed"}  # the last of A's batch was the last one served


def test_high_priority_goes_first_among_its_tenants_tasks(queue_only: LiveServer) -> None:
    a, b = make_key(queue_only, name="a"), make_key(queue_only, name="b")
    with queue_only.client(a["key"]) as client_a, queue_only.client(b["key"]) as client_b:
        normal = [create_tiny(client_a).json()["id"] for _ in range(5)]
        b_task = create_tiny(client_b).json()["id"]
        b_before = queued_position(client_b, b_task)
        high = create_tiny(client_a, priority="high").json()["id"]
        low = create_tiny(client_a, priority="low").json()["id"]

        order = sorted([*normal, high, low], key=lambda t: queued_position(client_a, t))
        assert order == [high, *normal, low]
        # A's priorities reorder A's own tasks only: B's task keeps its place.
        assert queued_position(client_b, b_task) == b_before


def test_finished_tasks_carry_null_queue_fields(platform_server: LiveServer) -> None:
    with platform_server.client() as client:
        task_id = create_tiny(client).json()["id"]
        wait_for(
            lambda: client.get(f"/v1/result/{task_id}").json()["status"] == "completed",
            timeout_s=120,
        )
        body: dict[str, Any] = client.get(f"/v1/result/{task_id}").json()
        assert (body["queue_position"], body["eta_seconds"]) == (None, None)
        listed = client.get("/v1/veo/videos").json()["data"][0]
        assert (listed["queue_position"], listed["eta_seconds"]) == (None, None)


def record_history(server: LiveServer, seconds: list[float]) -> None:
    """Durations of the tiny model on the local target, as if those tasks had just run."""

    async def record() -> None:
        store = Store.open(server.settings.resolved_database_url())
        try:
            for value in seconds:
                await store.durations.record("local", "tiny", seconds=value, now=time.time())
        finally:
            await store.close()

    asyncio.run(record())


@pytest.mark.parametrize("slots", [1, 2])
def test_eta_follows_the_history_and_the_targets_slots(
    tiny_settings: Settings, make_server: Callable[..., LiveServer], slots: int
) -> None:
    server = make_server(
        tiny_settings.model_copy(update={"run_worker": False, "local_processes": slots})
    )
    with server.client() as client:
        first = create_tiny(client).json()["id"]
        assert client.get(f"/v1/result/{first}").json()["eta_seconds"] is None  # no history yet
        record_history(server, [9.0, 10.0, 11.0, 10.0, 30.0])  # median 10 s
        tasks = [first, *(create_tiny(client).json()["id"] for _ in range(3))]
        etas = [client.get(f"/v1/result/{t}").json()["eta_seconds"] for t in tasks]
        # Nothing runs: the slots are free now; each round of `slots` tasks takes the median.
        assert etas == [10 * (1 + i // slots) for i in range(4)]
        assert client.get(f"/v1/videos/{tasks[-1]}").json()["eta_seconds"] == etas[-1]


def test_sdk_and_cli_send_priority_and_show_the_place_in_the_queue(queue_only: LiveServer) -> None:
    with Client(queue_only.url, queue_only.admin_key) as sdk:
        normal = [sdk.create("p", model="tiny", duration=1) for _ in range(3)]
        high = sdk.create("p", model="tiny", duration=1, priority="high")
        shown = sdk.get(high.id)
        assert shown.status == "queued" and shown.queue_position == 1
        assert [sdk.get(t.id).queue_position for t in normal] == [2, 3, 4]
        assert shown.eta_seconds is None  # no history of the tiny model yet
    env = {**os.environ, "VGEN_BASE_URL": queue_only.url, "VGEN_API_KEY": queue_only.admin_key}
    status = subprocess.run(
        [sys.executable, "-m", "vgen", "status", normal[-1].id],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert status.returncode == 0, status.stderr
    assert "queue_position: 4" in status.stdout
