"""Per-key limits: request rate (429 + Retry-After, shared through Redis between processes),
unfinished tasks at once, and the daily video-seconds quota (`quota_exceeded`), which counts
completed seconds and gives back what failed or cancelled tasks had reserved."""

from __future__ import annotations

import secrets
import socket
from collections.abc import Callable

import pytest

from tests.conftest import wait_for
from tests.platform.conftest import assert_error, create_tiny, finish, make_key
from tests.support import LiveServer
from vgen.config import Settings

REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_reachable() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
    except OSError:
        return False
    return True


def test_rate_limit_answers_429_with_retry_after(platform_server: LiveServer) -> None:
    limited = make_key(platform_server, name="limited", rate_per_minute=3)
    other = make_key(platform_server, name="other")
    with platform_server.client(limited["key"]) as client:
        for _ in range(3):
            assert client.get("/v1/veo/videos").status_code == 200
        refused = client.get("/v1/veo/videos")
        assert_error(refused, 429, "rate_limit_exceeded")
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        # the status fast path counts too
        assert_error(client.get(f"/v1/result/vgen_{'0' * 24}"), 429)
    with platform_server.client(other["key"]) as client:
        assert client.get("/v1/veo/videos").status_code == 200, "limits are per key"


@pytest.mark.skipif(not redis_reachable(), reason="Redis is not running on 127.0.0.1:6379")
def test_processes_share_rate_counters_through_redis(
    tiny_settings: Settings, make_server: Callable[..., LiveServer]
) -> None:
    shared = tiny_settings.model_copy(update={"redis_url": REDIS_URL, "run_worker": False})
    first = make_server(shared)
    second = make_server(shared.model_copy(update={"data_dir": shared.data_dir}))
    key = make_key(first, name=f"shared-{secrets.token_hex(3)}", rate_per_minute=4)
    with first.client(key["key"]) as one, second.client(key["key"]) as two:
        for client in (one, two, one, two):
            assert client.get("/v1/veo/videos").status_code == 200
        assert_error(two.get("/v1/veo/videos"), 429, "rate_limit_exceeded")
        assert_error(one.get("/v1/veo/videos"), 429, "rate_limit_exceeded")


def test_max_inflight_refuses_more_unfinished_tasks(
    tiny_settings: Settings, make_server: Callable[..., LiveServer]
) -> None:
    server = make_server(tiny_settings.model_copy(update={"run_worker": False}))
    key = make_key(server, name="two at a time", max_inflight=2)
    with server.client(key["key"]) as client:
        first = create_tiny(client).json()["id"]
        assert create_tiny(client).status_code == 200
        assert_error(create_tiny(client), 429, "too_many_inflight_tasks")
        assert int(create_tiny(client).headers["Retry-After"]) >= 1
        assert len(client.get("/v1/veo/videos").json()["data"]) == 2, "a refusal stores nothing"
        assert client.post(f"/v1/veo/videos/{first}/cancel").status_code == 200
        assert create_tiny(client).status_code == 200, "a cancelled task frees its place"


def test_daily_quota_reserves_unfinished_seconds_and_cancel_gives_them_back(
    tiny_settings: Settings, make_server: Callable[..., LiveServer]
) -> None:
    server = make_server(tiny_settings.model_copy(update={"run_worker": False}))
    key = make_key(server, name="quota", daily_seconds=3)
    with server.client(key["key"]) as client:
        two = create_tiny(client, seconds=2).json()["id"]
        refused = create_tiny(client, seconds=2)
        assert_error(refused, 429, "quota_exceeded")
        assert int(refused.headers["Retry-After"]) >= 1
        assert create_tiny(client, seconds=1).status_code == 200  # 2 + 1 = 3: exactly the quota
        assert_error(create_tiny(client, seconds=1), 429, "quota_exceeded")
        assert client.post(f"/v1/veo/videos/{two}/cancel").status_code == 200
        assert create_tiny(client, seconds=2).status_code == 200


def test_daily_quota_counts_completed_seconds(platform_server: LiveServer) -> None:
    key = make_key(platform_server, name="quota done", daily_seconds=2.5)
    with platform_server.client(key["key"]) as client:
        done = finish(client, create_tiny(client, seconds=2).json()["id"])
        assert done["status"] == "completed", done
        assert_error(create_tiny(client, seconds=1), 429, "quota_exceeded")
        usage = client.get("/v1/usage").json()["total"]
        assert usage["video_seconds"] == pytest.approx(2.0, abs=0.1)


def test_daily_quota_gives_back_the_seconds_of_failed_tasks(
    tiny_settings: Settings, make_server: Callable[..., LiveServer]
) -> None:
    # Every task misses its deadline before a worker can start it, and the sweeper fails it.
    server = make_server(
        tiny_settings.model_copy(
            update={"task_deadline_seconds": 0.01, "sweep_interval_seconds": 0.1}
        )
    )
    key = make_key(server, name="quota failed", daily_seconds=2)
    with server.client(key["key"]) as client:
        task_id = create_tiny(client, seconds=2).json()["id"]
        failed = finish(client, task_id)
        assert failed["status"] == "failed" and "deadline" in failed["error"]
        wait_for(lambda: create_tiny(client, seconds=2).status_code == 200, timeout_s=10)
