"""Kill -9 the server while a task is processing, start it again: the task still completes,
once (ARCHITECTURE.md §2: a lapsed lease is claimed again)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import wait_for
from tests.support import free_port
from tests.video import decode_mp4
from vgen.store.store import Store


def start_serve(data_dir: Path, port: int, database_url: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "VGEN_LEASE_SECONDS": "2",
        "VGEN_WORKER_IDLE_POLL_SECONDS": "0.2",
        "VGEN_DATABASE_URL": database_url,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "vgen", "serve", "--port", str(port), "--data-dir", str(data_dir)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_healthy(url: str) -> None:
    def up() -> bool:
        try:
            return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(up, timeout_s=60, message="server start")


def start_task(client: httpx.Client) -> str:
    """Create a task and wait until it is rendering (progress > 0)."""
    task_id: str = client.post(
        "/v1/veo/videos",
        json={"model": "veo_3_1_fast", "prompt": "crash test", "resolution": "1080p"},
    ).json()["id"]
    wait_for(
        lambda: client.get(f"/v1/result/{task_id}").json()["progress"] > 0,
        timeout_s=60,
        message="render progress",
    )
    assert client.get(f"/v1/result/{task_id}").json()["status"] == "processing"
    return task_id


@pytest.mark.slow
def test_task_survives_kill_9_and_completes_once(tmp_path: Path, database_url: str) -> None:
    data_dir, port = tmp_path / "data", free_port()
    url = f"http://127.0.0.1:{port}"
    process = start_serve(data_dir, port, database_url)
    try:
        wait_healthy(url)
        key = (data_dir / "admin.key").read_text().strip()
        assert oct((data_dir / "admin.key").stat().st_mode & 0o777) == "0o600"
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as client:
            task_id = start_task(client)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)

    restarted = start_serve(data_dir, port, database_url)
    try:
        wait_healthy(url)
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as client:
            done = wait_for(
                lambda: (
                    (b := client.get(f"/v1/result/{task_id}").json())["status"] != "processing"
                    and b
                ),
                timeout_s=120,
                message="completion after restart",
            )
        assert isinstance(done, dict) and done["status"] == "completed", done
        assert done["error"] is None
        assert decode_mp4(httpx.get(done["video_url"], timeout=30).content).frames == 192
    finally:
        restarted.terminate()
        restarted.wait(timeout=30)

    async def row() -> tuple[int, str | None]:
        store = Store.open(database_url)
        try:
            task = await store.tasks.get_any(task_id)
            assert task is not None
            return task.attempts, task.artifact_key
        finally:
            await store.close()

    attempts, artifact = asyncio.run(row())
    assert attempts == 2
    archived = list((data_dir / "archive" / "videos" / task_id).iterdir())
    assert [p.name for p in archived] == [Path(str(artifact)).name]
