"""The container image as an operator runs it (`docker run -p … vgen`): healthy by its own
HEALTHCHECK, prints the admin key, renders a text-only task with the local engine, serves the MP4
through the published port, runs as a non-root user, and stops cleanly on SIGTERM."""

from __future__ import annotations

import re
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.conftest import wait_for
from tests.deploy.conftest import docker
from tests.support import free_port
from tests.video import decode_mp4

pytestmark = [pytest.mark.docker, pytest.mark.timeout(1800)]

ADMIN_KEY = re.compile(r"^\s+(vgen-sk-[A-Za-z0-9_-]+)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Container:
    name: str
    url: str

    def state(self, field: str) -> str:
        return docker("inspect", "--format", f"{{{{.State.{field}}}}}", self.name).strip()

    def exec(self, *command: str) -> str:
        return docker("exec", self.name, *command)

    def logs(self) -> str:
        """What the container printed, stdout and stderr interleaved."""
        done = subprocess.run(
            ["docker", "logs", self.name],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=60,
            check=False,
        )
        return done.stdout


@pytest.fixture
def container(vgen_image: str) -> Iterator[Container]:
    """`vgen serve` (the image's default command) on a loopback port, until the test ends."""
    port = free_port()
    name = f"vgen-test-{secrets.token_hex(4)}"
    url = f"http://127.0.0.1:{port}"
    docker(
        "run",
        "--detach",
        "--name",
        name,
        "--publish",
        f"127.0.0.1:{port}:8000",
        "--env",
        f"VGEN_PUBLIC_URL={url}",
        vgen_image,
    )
    try:
        yield Container(name, url)
    finally:
        docker("rm", "--force", "--volumes", name, check=False)


def is_healthy(container: Container) -> bool:
    if container.state("Running") != "true":
        pytest.fail(f"the container exited:\n{container.logs()}")
    return container.state("Health.Status") == "healthy"


def test_image_serves_a_local_render_as_a_non_root_user(container: Container) -> None:
    wait_for(lambda: is_healthy(container), timeout_s=180, message="the image's HEALTHCHECK")
    assert httpx.get(f"{container.url}/healthz", timeout=10).json() == {"status": "ok"}

    printed = ADMIN_KEY.findall(container.logs())
    assert len(printed) == 1, container.logs()
    assert container.exec("cat", "/data/admin.key").strip() == printed[0]

    headers = {"Authorization": f"Bearer {printed[0]}"}
    with httpx.Client(base_url=container.url, headers=headers, timeout=30) as client:
        created = client.post(
            "/v1/veo/videos",
            json={
                "model": "veo_3_1_fast",
                "prompt": "a lighthouse at dusk",
                "aspect_ratio": "16:9",
            },
        )
        assert created.status_code == 200, created.text
        task_id = created.json()["id"]

        def finished() -> dict[str, object] | None:
            body: dict[str, object] = client.get(f"/v1/result/{task_id}").json()
            return body if body["status"] in ("completed", "failed") else None

        done = wait_for(finished, timeout_s=900, message=f"task {task_id} to finish")
    assert isinstance(done, dict)
    assert done["status"] == "completed", done
    assert done["engine"] == "local"
    video_url = done["video_url"]
    assert isinstance(video_url, str) and video_url.startswith(f"{container.url}/v1/files/")
    video = httpx.get(video_url, timeout=60)
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    decoded = decode_mp4(video.content)
    assert (decoded.codec, decoded.width, decoded.height, decoded.frames) == (
        "h264",
        1280,
        720,
        192,
    )

    # PID 1 is `vgen serve` itself (exec form), under the image's own unprivileged user, and
    # what it wrote in the data volume belongs to that user.
    assert "vgen\x00serve" in container.exec("cat", "/proc/1/cmdline")
    uids = re.search(r"^Uid:\s+(\d+)\s+(\d+)", container.exec("cat", "/proc/1/status"), re.M)
    assert uids is not None and uids.groups() == ("10001", "10001")
    assert container.exec("stat", "--format", "%U", "/data/vgen.db").strip() == "vgen"

    # `docker stop` sends SIGTERM to PID 1: the server shuts down by itself and exits 0.
    docker("stop", "--time", "30", container.name, timeout_s=90)
    assert container.state("ExitCode") == "0", container.logs()
