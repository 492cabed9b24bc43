"""The client commands against a live vgen server: generate with progress, status, list,
download, failures with the server's message, and a batch that survives being killed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import wait_for
from tests.images import scene_image
from tests.support import LiveServer, start_live_server
from tests.video import decode_mp4
from vgen.config import Settings


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveServer]:
    server = start_live_server(
        Settings(
            data_dir=tmp_path / "data",
            database_url=f"sqlite:///{tmp_path / 'v.db'}",
            worker_idle_poll_seconds=0.1,
        )
    )
    yield server
    server.stop()


def vgen(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vgen", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def conn(server: LiveServer) -> list[str]:
    return ["--server", server.url, "--api-key", server.admin_key]


def test_generate_status_list_download(live: LiveServer, tmp_path: Path) -> None:
    first = tmp_path / "first.png"
    first.write_bytes(scene_image())
    out = tmp_path / "gen.mp4"
    result = vgen("generate", "a quiet harbour", "--first", str(first), "-o", str(out), *conn(live))
    assert result.returncode == 0, result.stderr
    assert decode_mp4(out.read_bytes()).frames == 192
    assert "saved" in result.stderr

    with live.client() as client:
        task_id = client.get("/v1/veo/videos").json()["data"][0]["id"]
    # Server and key from the environment this time.
    env = {"VGEN_BASE_URL": live.url, "VGEN_API_KEY": live.admin_key}
    status = vgen("status", task_id, env=env)
    assert status.returncode == 0 and "status: completed" in status.stdout
    raw = vgen("status", task_id, "--json", env=env)
    assert json.loads(raw.stdout)["id"] == task_id
    listed = vgen("list", env=env)
    assert listed.returncode == 0 and task_id in listed.stdout
    again = tmp_path / "again.mp4"
    assert vgen("download", task_id, "-o", str(again), env=env).returncode == 0
    assert again.read_bytes() == out.read_bytes()


def test_failures_exit_nonzero_with_the_servers_message(live: LiveServer, tmp_path: Path) -> None:
    bad = vgen("generate", "x", "--resolution", "480p", "-o", str(tmp_path / "x.mp4"), *conn(live))
    assert bad.returncode == 1
    assert "Invalid resolution" in bad.stderr and "resolution" in bad.stderr
    missing = vgen("status", "vgen_" + "0" * 24, *conn(live))
    assert missing.returncode == 1 and "No task" in missing.stderr
    unauthorised = vgen("list", "--server", live.url, "--api-key", "nope")
    assert unauthorised.returncode == 1 and "API key" in unauthorised.stderr
    assert not (tmp_path / "x.mp4").exists()


def test_default_connection_uses_the_data_dir_key(live: LiveServer, tmp_path: Path) -> None:
    env = {"VGEN_BASE_URL": live.url, "VGEN_DATA_DIR": str(live.settings.data_dir)}
    env.pop("VGEN_API_KEY", None)
    result = vgen("list", env=env)
    assert result.returncode == 0, result.stderr


def test_batch_resumes_after_kill_without_duplicate_tasks(live: LiveServer, tmp_path: Path) -> None:
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text(
        "\n".join(json.dumps({"prompt": f"scene {i}", "output": f"v{i}.mp4"}) for i in range(3))
        + "\n"
    )
    out = tmp_path / "out"
    command = [
        sys.executable,
        "-m",
        "vgen",
        "batch",
        str(jobs),
        "--out",
        str(out),
        "--concurrency",
        "1",
        *conn(live),
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = out / ".vgen-batch-state.json"

    def first_created() -> bool:
        return state.exists() and any(
            s.get("task_id") for s in json.loads(state.read_text()).values()
        )

    try:
        wait_for(first_created, timeout_s=60, message="the first batch task")
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)

    resumed = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    for i in range(3):
        assert decode_mp4((out / f"v{i}.mp4").read_bytes()).frames == 192
    with httpx.Client(
        base_url=live.url, headers={"Authorization": f"Bearer {live.admin_key}"}
    ) as client:
        tasks = client.get("/v1/veo/videos").json()["data"]
    assert len(tasks) == 3
    # A third run has nothing left to do and creates nothing.
    assert subprocess.run(command, capture_output=True, timeout=300).returncode == 0
    with httpx.Client(
        base_url=live.url, headers={"Authorization": f"Bearer {live.admin_key}"}
    ) as client:
        assert len(client.get("/v1/veo/videos").json()["data"]) == 3


def test_batch_retries_failed_creates(live: LiveServer, tmp_path: Path) -> None:
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text(
        json.dumps({"prompt": "ok", "output": "ok.mp4"})
        + "\n"
        + json.dumps({"prompt": "bad", "output": "bad.mp4", "resolution": "480p"})
        + "\n"
    )
    out = tmp_path / "out"
    command = ["batch", str(jobs), "--out", str(out), *conn(live)]
    first = vgen(*command)
    assert first.returncode == 1 and (out / "ok.mp4").exists()
    states = json.loads((out / ".vgen-batch-state.json").read_text())
    assert sorted(s["status"] for s in states.values()) == ["completed", "create_failed"]
    # Fix the job file: the failed one is retried, the finished one is skipped.
    jobs.write_text(
        json.dumps({"prompt": "ok", "output": "ok.mp4"})
        + "\n"
        + json.dumps({"prompt": "bad", "output": "bad.mp4", "resolution": "720p"})
        + "\n"
    )
    second = vgen(*command)
    assert second.returncode == 0, second.stderr
    with live.client() as client:
        assert len(client.get("/v1/veo/videos").json()["data"]) == 2


def test_cancel_command(tmp_path: Path) -> None:
    # No worker: the task stays queued until the command cancels it.
    server = start_live_server(
        Settings(
            data_dir=tmp_path / "data",
            database_url=f"sqlite:///{tmp_path / 'c.db'}",
            run_worker=False,
        )
    )
    try:
        with server.client() as client:
            task_id = client.post(
                "/v1/veo/videos", json={"model": "veo_3_1_fast", "prompt": "x"}
            ).json()["id"]
        result = vgen("cancel", task_id, *conn(server))
        assert result.returncode == 0, result.stderr
        assert f"{task_id}: cancelled" in result.stdout
        with server.client() as client:
            assert client.get(f"/v1/result/{task_id}").json()["error"] == "cancelled"
        again = vgen("cancel", task_id, *conn(server))
        assert again.returncode == 1 and "already ended" in again.stderr
        unknown = vgen("cancel", "vgen_" + "0" * 24, *conn(server))
        assert unknown.returncode == 1 and "No task" in unknown.stderr
    finally:
        server.stop()
