"""The `relay` engine against a fake reseller (ENGINES.md §2), through a live vgen server:
submit once, poll at the configured pace, download, archive; failures and quirks."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.test_veo_lifecycle import poll_until_done
from tests.fakes.reseller import ResellerFake
from tests.images import data_url, scene_image
from tests.support import LiveServer
from tests.video import decode_mp4
from vgen.config import Settings


@pytest.fixture
def relay_settings(settings: Settings, reseller: ResellerFake) -> Settings:
    return settings.model_copy(
        update={
            "relay_base_url": reseller.base_url,
            "relay_api_key": "reseller-secret",
            "relay_first_poll_seconds": 0.2,
            "relay_poll_interval_seconds": 0.2,
            "worker_idle_poll_seconds": 0.1,
        }
    )


def create(server: LiveServer, **body: Any) -> str:
    with server.client() as client:
        response = client.post("/v1/veo/videos", json={"model": "veo_3_1_fast", **body})
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def finish(server: LiveServer, task_id: str) -> dict[str, Any]:
    with server.client() as client:
        return poll_until_done(client, task_id, timeout_s=60)[-1]


def test_relay_submits_once_polls_and_archives(
    relay_settings: Settings,
    make_server: Callable[..., LiveServer],
    reseller: ResellerFake,
    upstream_mp4: bytes,
) -> None:
    server = make_server(relay_settings)
    task_id = create(server, prompt="a harbour", resolution="1080p", aspect_ratio="9:16")
    done = finish(server, task_id)
    assert done["status"] == "completed", done
    assert done["engine"] == "relay" and done["actualDuration"] == 2
    assert reseller.creates == [
        {
            "model": "veo_3_1_fast",
            "prompt": "a harbour",
            "resolution": "1080p",
            "aspect_ratio": "9:16",
        }
    ]
    assert reseller.idempotency_keys == [task_id]
    assert reseller.jobs["r0001"].polls == reseller.polls_until_done
    # Served from vgen's own archive, byte for byte what the upstream made.
    video = httpx.get(done["video_url"], timeout=30)
    assert video.content == upstream_mp4 and decode_mp4(video.content).frames == 48
    # Each attempt (the submit, every poll, the download) cleaned up its staging directory.
    staging = server.settings.data_dir / "archive" / ".staging"
    assert list(staging.iterdir()) == []


def test_images_are_sent_as_signed_vgen_urls(
    relay_settings: Settings, make_server: Callable[..., LiveServer], reseller: ResellerFake
) -> None:
    server = make_server(relay_settings)
    first = scene_image()
    task_id = create(
        server, prompt="from an image", first_image=data_url(first), model="veo_3_1_fast_stable"
    )
    assert finish(server, task_id)["status"] == "completed"
    sent = reseller.creates[0]["first_image"]
    assert sent.startswith(f"{server.url}/v1/files/inputs/file_")
    fetched = httpx.get(sent, timeout=30)
    assert fetched.status_code == 200 and fetched.content == first
    assert httpx.get(sent.replace("sig=", "sig=0"), timeout=30).status_code == 403


def test_restart_while_polling_never_resubmits(
    relay_settings: Settings, make_server: Callable[..., LiveServer], reseller: ResellerFake
) -> None:
    reseller.polls_until_done = 10_000
    first = make_server(relay_settings)
    task_id = create(first, prompt="long job")
    from tests.conftest import wait_for

    wait_for(
        lambda: reseller.jobs.get("r0001") and reseller.jobs["r0001"].polls >= 2,
        timeout_s=30,
        message="polling to start",
    )
    first.stop()
    reseller.jobs["r0001"].polls_until_done = reseller.jobs["r0001"].polls + 3
    second = make_server(relay_settings)
    assert finish(second, task_id)["status"] == "completed"
    assert len(reseller.creates) == 1


@pytest.mark.parametrize(
    ("knobs", "prompt", "message"),
    [
        ({}, "please fail", "Content policy violation: prompt rejected"),
        (
            {"reject_submits_with": "prompt contains banned words"},
            "x",
            "prompt contains banned words",
        ),
        ({"done_without_video": True}, "x", "finished without a video"),
    ],
    ids=["failed-upstream", "submit-rejected", "done-without-video"],
)
def test_upstream_failures_fail_the_task_with_a_message(
    relay_settings: Settings,
    make_server: Callable[..., LiveServer],
    reseller: ResellerFake,
    knobs: dict[str, Any],
    prompt: str,
    message: str,
) -> None:
    for name, value in knobs.items():
        setattr(reseller, name, value)
    server = make_server(relay_settings)
    done = finish(server, create(server, prompt=prompt))
    assert done["status"] == "failed" and message in done["error"]


def test_transient_upstream_errors_are_retried(
    relay_settings: Settings, make_server: Callable[..., LiveServer], reseller: ResellerFake
) -> None:
    server = make_server(relay_settings.model_copy(update={"relay_first_poll_seconds": 0.5}))
    reseller.rate_limited, reseller.retry_after_s = 1, "1"
    reseller.cut_after_bytes, reseller.cuts_left = 5000, 1
    task_id = create(server, prompt="bumpy")
    reseller.unavailable = 2
    done = finish(server, task_id)
    assert done["status"] == "completed", done
    assert len(reseller.creates) == 1
    assert any(h.get("range") for h in reseller.video_requests)  # the cut download resumed
    assert io.BytesIO(httpx.get(done["video_url"], timeout=30).content).getbuffer().nbytes > 0


def test_without_relay_settings_tasks_say_local(
    settings: Settings, make_server: Callable[..., LiveServer], tmp_path: Path
) -> None:
    server = make_server(settings.model_copy(update={"run_worker": False}))
    task_id = create(server, prompt="offline")
    with server.client() as client:
        assert client.get(f"/v1/result/{task_id}").json()["engine"] == "local"
