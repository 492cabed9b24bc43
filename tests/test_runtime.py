"""The one runtime: `vgen serve --no-worker` and a separate `vgen worker` process share a database
and an archive, and the worker process is wired without the API package."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.api.test_veo_lifecycle import poll_until_done
from tests.conftest import wait_for
from tests.fakes.reseller import ResellerFake
from tests.support import LiveServer
from tests.video import decode_mp4
from vgen.config import Settings

# Runs `vgen worker --drain` in this interpreter and reports, as it exits, which modules of
# the API package the process ever imported.
_WORKER_PROCESS = """
import atexit, sys
atexit.register(lambda: print("API-MODULES:", sorted(
    m for m in sys.modules if m == "vgen.api" or m.startswith("vgen.api."))))
from vgen.cli import main
sys.argv = ["vgen", "worker", "--drain"]
main()
"""


def _worker_env(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "VGEN_DATA_DIR": str(settings.data_dir),
        "VGEN_DATABASE_URL": settings.resolved_database_url(),
        "VGEN_PUBLIC_URL": str(settings.public_url),
        "VGEN_ALLOW_PRIVATE_URLS": "true",
    }


def test_worker_process_completes_api_tasks_without_importing_the_api(
    settings: Settings, make_server: Callable[..., LiveServer]
) -> None:
    server = make_server(settings.model_copy(update={"run_worker": False}))
    with server.client() as client:
        created = client.post(
            "/v1/veo/videos", json={"model": "veo_3_1_fast", "prompt": "a kite over dunes"}
        )
        assert created.status_code == 200, created.text
        task_id = created.json()["id"]
        assert client.get(f"/v1/result/{task_id}").json()["status"] == "queued"

        worker = subprocess.run(
            [sys.executable, "-c", _WORKER_PROCESS],
            env=_worker_env(server.settings),
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert worker.returncode == 0, worker.stdout + worker.stderr
        assert "API-MODULES: []" in worker.stdout, worker.stdout

        done = poll_until_done(client, task_id)[-1]
        assert done["status"] == "completed", done
        video = httpx.get(done["video_url"], timeout=30)
        assert video.status_code == 200
        assert decode_mp4(video.content).frames > 0


def test_sigterm_hands_a_running_task_back_at_once_and_exits_zero(
    settings: Settings, make_server: Callable[..., LiveServer], tmp_path: Path
) -> None:
    server = make_server(settings.model_copy(update={"run_worker": False}))
    # A lease far longer than the test: only a hand-back can make the task claimable again.
    env = {**_worker_env(server.settings), "VGEN_LEASE_SECONDS": "3600"}
    with server.client() as client:
        created = client.post(
            "/v1/veo/videos",
            json={
                "model": "veo_3_1_fast",
                "prompt": "a slow pan over a harbour",
                "resolution": "4K",
            },
        )
        assert created.status_code == 200, created.text
        task_id = created.json()["id"]

        log = tmp_path / "worker.log"
        with log.open("wb") as out:
            worker = subprocess.Popen(
                [sys.executable, "-m", "vgen", "worker"], env=env, stdout=out, stderr=out
            )
        try:
            wait_for(
                lambda: client.get(f"/v1/result/{task_id}").json()["progress"] > 0,
                timeout_s=120,
                message="the render to start",
            )
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(timeout=60) == 0, log.read_text()
            # A worker is event-loop bound: it runs on uvloop (installed with vgen), as
            # `vgen serve` does through uvicorn.
            started = [
                line
                for line in map(json.loads, log.read_text().splitlines())
                if line.get("message") == "worker started"
            ]
            assert [line["event_loop"] for line in started] == ["uvloop"], log.read_text()
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait()

        handed_back = client.get(f"/v1/result/{task_id}").json()
        assert handed_back["status"] == "processing", handed_back

        drained = subprocess.run(
            [sys.executable, "-m", "vgen", "worker", "--drain"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert drained.returncode == 0, drained.stdout + drained.stderr
        assert client.get(f"/v1/result/{task_id}").json()["status"] == "completed"


def test_sigterm_during_a_submit_lets_it_finish_so_the_job_is_never_made_twice(
    settings: Settings,
    make_server: Callable[..., LiveServer],
    reseller: ResellerFake,
    tmp_path: Path,
) -> None:
    # The API routes the task to the relay (the route is decided, and stored, at create).
    server = make_server(
        settings.model_copy(update={"run_worker": False, "relay_base_url": reseller.base_url})
    )
    reseller.submit_delay_s = 2.0  # SIGTERM lands while the upstream's answer is on its way
    env = {
        **_worker_env(server.settings),
        "VGEN_RELAY_BASE_URL": reseller.base_url,
        "VGEN_RELAY_FIRST_POLL_SECONDS": "0.2",
        "VGEN_RELAY_POLL_INTERVAL_SECONDS": "0.2",
    }
    with server.client() as client:
        created = client.post("/v1/veo/videos", json={"model": "veo_3_1_fast", "prompt": "dunes"})
        assert created.status_code == 200, created.text
        task_id = created.json()["id"]
        log = tmp_path / "worker.log"
        with log.open("wb") as out:
            worker = subprocess.Popen(
                [sys.executable, "-m", "vgen", "worker"], env=env, stdout=out, stderr=out
            )
        try:
            wait_for(lambda: reseller.submitted_keys, timeout_s=60, message="the submit")
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(timeout=60) == 0, log.read_text()
            # A worker is event-loop bound: it runs on uvloop (installed with vgen), as
            # `vgen serve` does through uvicorn.
            started = [
                line
                for line in map(json.loads, log.read_text().splitlines())
                if line.get("message") == "worker started"
            ]
            assert [line["event_loop"] for line in started] == ["uvloop"], log.read_text()
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
        assert client.get(f"/v1/result/{task_id}").json()["status"] == "processing"
        with (tmp_path / "next.log").open("wb") as out:
            successor = subprocess.Popen(
                [sys.executable, "-m", "vgen", "worker"], env=env, stdout=out, stderr=out
            )
        try:
            done = poll_until_done(client, task_id)[-1]
        finally:
            successor.terminate()
            successor.wait(timeout=60)
    # The next worker only polled: the job the first one submitted was recorded before it left.
    assert reseller.submitted_keys == [task_id]
    assert done["status"] == "completed", done
