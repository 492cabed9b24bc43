"""`vgen serve` on an empty data dir: creates and prints the admin key once (file mode 0600),
and every setting can come from a `VGEN_` environment variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from tests.api.test_veo_lifecycle import poll_until_done
from tests.conftest import wait_for
from tests.support import free_port


def serve(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "vgen", "serve", *args],
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_serve_prints_admin_key_once_and_honours_env(tmp_path: Path) -> None:
    data_dir, port = tmp_path / "env-data", free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        "VGEN_DATA_DIR": str(data_dir),
        "VGEN_PORT": str(port),
        "VGEN_PUBLIC_URL": "https://videos.example.test",
        "VGEN_WORKER_IDLE_POLL_SECONDS": "0.2",
    }
    first_log = tmp_path / "first.log"
    process = serve([], env, first_log)
    try:
        wait_for(lambda: healthy(url), timeout_s=60, message="vgen serve start")
        key_file = data_dir / "admin.key"
        key = key_file.read_text().strip()
        assert key_file.stat().st_mode & 0o777 == 0o600
        assert key in first_log.read_text()
        assert (data_dir / "vgen.db").exists()
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as client:
            task_id = client.post(
                "/v1/veo/videos", json={"model": "veo_3_1_fast", "prompt": "env"}
            ).json()["id"]
            done = poll_until_done(client, task_id)[-1]
        assert done["status"] == "completed"
        assert done["video_url"].startswith(f"https://videos.example.test/v1/files/{task_id}/")
    finally:
        process.terminate()
        process.wait(timeout=60)

    second_log = tmp_path / "second.log"
    restarted = serve(["--data-dir", str(data_dir), "--port", str(port)], {}, second_log)
    try:
        wait_for(lambda: healthy(url), timeout_s=60, message="vgen serve restart")
        assert key_file.read_text().strip() == key
        assert key not in second_log.read_text()
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as client:
            assert client.get(f"/v1/result/{task_id}").json()["status"] == "completed"
    finally:
        restarted.terminate()
        restarted.wait(timeout=60)
