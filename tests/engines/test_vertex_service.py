"""Vertex through vgen (ENGINES.md §1b): with only `VGEN_VERTEX_PROJECT` and a service-account
key a user gets a Veo video through the Veo task API; a `vgen serve` killed while the operation
runs resumes polling it after the restart and never submits it again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.test_veo_lifecycle import poll_until_done
from tests.conftest import wait_for
from tests.engines.vertex_keys import write_key_file
from tests.fakes.vertex import VertexFake
from tests.support import HandClock, LiveServer, free_port, is_parked, serving
from tests.video import decode_mp4
from vgen.config import Settings, load_routing


@pytest.fixture
def vertex(upstream_mp4: bytes) -> Iterator[VertexFake]:
    with serving(VertexFake(video=upstream_mp4, polls_until_done=1)) as fake:
        yield fake


def test_the_project_setting_and_a_key_file_give_a_veo_video(
    settings: Settings,
    make_server: Callable[..., LiveServer],
    vertex: VertexFake,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    upstream_mp4: bytes,
) -> None:
    monkeypatch.setenv(
        "GOOGLE_APPLICATION_CREDENTIALS", str(write_key_file(tmp_path / "key.json", vertex))
    )
    clock = HandClock()
    vertex_settings = settings.model_copy(
        update={
            "vertex_project": "p1",
            "vertex_base_url": vertex.base_url,
            "vertex_storage_base_url": vertex.base_url,
            "worker_idle_poll_seconds": 0.05,
        }
    )
    server = make_server(vertex_settings, clock=clock)
    with server.client() as api:
        created = api.post("/v1/veo/videos", json={"model": "veo_3_1_pro", "prompt": "a fjord"})
        assert created.status_code == 200, created.text
        wait_for(lambda: vertex.submits, timeout_s=30, message="the submit to reach Vertex")
        task_id = str(created.json()["id"])
        wait_for(lambda: is_parked(server.settings, task_id), timeout_s=30, message="the park")
        clock.now += 61  # the model's typical minimum time: the first poll is due
        done = poll_until_done(api, task_id, timeout_s=60)[-1]
    assert done["status"] == "completed" and done["engine"] == "vertex", done
    (submit,) = vertex.submits
    assert submit.path.endswith(
        "/locations/us-central1/publishers/google/models/veo-3.1-generate-001:predictLongRunning"
    )
    assert submit.headers["authorization"] == "Bearer ya29.fake-1"
    video = httpx.get(done["video_url"], timeout=30)
    assert video.content == upstream_mp4 and decode_mp4(video.content).frames == 48


def test_vertex_comes_first_and_the_other_shortcuts_stay_as_fail_over(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        vertex_project="p1",
        vertex_location="global",
        gemini_api_key="k",
        relay_base_url="http://relay.test",
    )
    routing = load_routing(settings)
    assert routing.routes["veo_3_1_fast"] == ["vertex", "gemini", "relay"]
    target = routing.targets["vertex"]
    assert (target.type, target.project, target.location) == ("vertex", "p1", "global")
    assert target.storage_base_url == "https://storage.googleapis.com"


def serve(data_dir: Path, port: int, database_url: str, config: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "VGEN_DATABASE_URL": database_url,
        "VGEN_LEASE_SECONDS": "1",
        "VGEN_WORKER_IDLE_POLL_SECONDS": "0.1",
    }
    command = [sys.executable, "-m", "vgen", "serve", "--port", str(port)]
    return subprocess.Popen(
        [*command, "--data-dir", str(data_dir), "--config", str(config)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.slow
def test_a_killed_server_polls_the_running_operation_and_never_resubmits(
    tmp_path: Path, database_url: str, vertex: VertexFake
) -> None:
    vertex.polls_until_done, vertex.output = 10, "gcs"
    key = write_key_file(tmp_path / "key.json", vertex)
    config = tmp_path / "vgen.toml"
    config.write_text(
        f"""
[targets.vertex]
type = "vertex"
project = "p1"
base_url = "{vertex.base_url}"
storage_base_url = "{vertex.base_url}"
storage_uri = "gs://bucket-1/out/"
credentials_file = "{key}"
first_poll_seconds = 0.2
poll_interval_seconds = 0.2

[routes]
veo_3_1_fast = ["vertex"]
"""
    )
    data_dir, port = tmp_path / "data", free_port()
    url = f"http://127.0.0.1:{port}"
    process = serve(data_dir, port, database_url, config)
    try:
        wait_for(lambda: healthy(url), timeout_s=60, message="server start")
        headers = {"Authorization": f"Bearer {(data_dir / 'admin.key').read_text().strip()}"}
        with httpx.Client(base_url=url, headers=headers, timeout=10) as client:
            body = {"model": "veo_3_1_fast", "prompt": "killed mid-flight"}
            task_id = client.post("/v1/veo/videos", json=body).json()["id"]
            # A poll means the operation name is persisted: the job runs upstream.
            wait_for(lambda: vertex.requests_to(":fetchPredictOperation"), message="the first poll")
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
            polls_before = len(vertex.requests_to(":fetchPredictOperation"))
            process = serve(data_dir, port, database_url, config)
            wait_for(lambda: healthy(url), timeout_s=60, message="server restart")
            done = poll_until_done(client, task_id, timeout_s=60)[-1]
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert done["status"] == "completed" and done["engine"] == "vertex", done
    assert len(vertex.submits) == 1
    assert len(vertex.requests_to(":fetchPredictOperation")) > polls_before
