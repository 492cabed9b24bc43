"""A full local disk, tried as an operator would meet it (the data dir on a small filesystem that
fills up): a finished upstream video that cannot be written is not thrown away. The task stays
`processing`, is retried with back-off (the job is polled again, never submitted again), and
completes once there is room; no message a client sees names a server path."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import wait_for
from tests.engines.test_relay import create
from tests.fakes.reseller import ResellerFake
from tests.support import LiveServer
from tests.video import decode_mp4
from vgen.config import Settings


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs (needs root and mount; skipped where the machine does not allow it)."""
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount_point)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small filesystem here: {mounted.stderr.decode().strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(disk: Path, *, leave_bytes: int) -> Path:
    """Take all of the filesystem's free space but `leave_bytes`."""
    stats = os.statvfs(disk)
    filler = disk / "filler.bin"
    filler.write_bytes(b"\0" * max(0, stats.f_bavail * stats.f_frsize - leave_bytes))
    return filler


def staging_faults(server: LiveServer) -> float:
    metrics = httpx.get(f"{server.url}/metrics", timeout=10).text
    for line in metrics.splitlines():
        if line.startswith('vgen_storage_faults_total{operation="staging"}'):
            return float(line.split()[-1])
    return 0.0


def test_a_full_disk_delays_a_finished_upstream_video_but_never_loses_it(
    settings: Settings,
    small_disk: Path,
    reseller: ResellerFake,
    make_server: Callable[..., LiveServer],
    upstream_mp4: bytes,
) -> None:
    server = make_server(
        settings.model_copy(
            update={
                "data_dir": small_disk,
                "relay_base_url": reseller.base_url,
                "relay_first_poll_seconds": 0.2,
                "relay_poll_interval_seconds": 0.2,
                "worker_idle_poll_seconds": 0.1,
            }
        )
    )
    assert len(upstream_mp4) > 16 * 1024
    faults_before = staging_faults(server)
    filler = fill(small_disk, leave_bytes=8 * 1024)

    task_id = create(server, prompt="a lighthouse in fog")
    wait_for(
        lambda: staging_faults(server) > faults_before,
        timeout_s=60,
        message="a download to fail on the full disk",
    )
    with server.client() as client:
        stuck = client.get(f"/v1/result/{task_id}").json()
        assert stuck["status"] == "processing", stuck
        assert stuck["error"] is None

        filler.unlink()  # the operator makes room
        done = wait_for(
            lambda: (
                (body := client.get(f"/v1/result/{task_id}").json())["status"] == "completed"
                and body
            ),
            timeout_s=120,
            message="the task to complete once there is room",
        )
    assert isinstance(done, dict)
    assert reseller.idempotency_keys == [task_id]  # polled again, never submitted again
    video = httpx.get(done["video_url"], timeout=30)
    assert video.content == upstream_mp4 and decode_mp4(video.content).frames > 0
