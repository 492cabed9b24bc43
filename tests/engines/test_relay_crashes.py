"""ENGINES.md: a job an upstream accepted is never submitted again — with `vgen serve` killed
(-9) at random moments and restarted, a fake reseller that counts jobs sees one per task."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import wait_for
from tests.fakes.reseller import ResellerFake
from tests.support import free_port, serving


@pytest.fixture
def reseller(upstream_mp4: bytes) -> Iterator[ResellerFake]:
    with serving(ResellerFake(video=upstream_mp4, polls_until_done=4)) as fake:
        yield fake


def serve(data_dir: Path, port: int, database_url: str, relay: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "VGEN_DATABASE_URL": database_url,
        "VGEN_RELAY_BASE_URL": relay,
        "VGEN_RELAY_FIRST_POLL_SECONDS": "0.3",
        "VGEN_RELAY_POLL_INTERVAL_SECONDS": "0.3",
        "VGEN_LEASE_SECONDS": "1",
        "VGEN_WORKER_IDLE_POLL_SECONDS": "0.1",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "vgen", "serve", "--port", str(port), "--data-dir", str(data_dir)],
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
def test_random_kills_never_submit_a_job_twice(
    tmp_path: Path, database_url: str, reseller: ResellerFake
) -> None:
    rng = random.Random(20261124)
    data_dir, port = tmp_path / "data", free_port()
    url = f"http://127.0.0.1:{port}"
    process = serve(data_dir, port, database_url, reseller.base_url)
    task_ids: list[str] = []
    try:
        wait_for(lambda: healthy(url), timeout_s=60, message="server start")
        key = (data_dir / "admin.key").read_text().strip()
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=url, headers=headers, timeout=10) as client:
            for i in range(4):
                body = {"model": "veo_3_1_fast", "prompt": f"job {i}"}
                task_ids.append(client.post("/v1/veo/videos", json=body).json()["id"])
        for _ in range(4):
            wait_for(lambda: healthy(url), timeout_s=60, message="server restart")
            time.sleep(rng.uniform(0.1, 1.2))  # chaos: kill at a random moment, not a state
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
            process = serve(data_dir, port, database_url, reseller.base_url)
        wait_for(lambda: healthy(url), timeout_s=60, message="final start")
        with httpx.Client(base_url=url, headers=headers, timeout=10) as client:

            def all_done() -> bool:
                states = [client.get(f"/v1/result/{t}").json()["status"] for t in task_ids]
                return all(s == "completed" for s in states)

            wait_for(all_done, timeout_s=120, message="every task to complete")
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert sorted(b["prompt"] for b in reseller.creates) == [f"job {i}" for i in range(4)]
    assert sorted(reseller.idempotency_keys) == sorted(task_ids)
