"""compose.yaml wires the scale-out shape of API.md §7: every vgen process gets the same
deployment settings, API replicas run without a worker, workers run alone, and each waits for what
it needs to be healthy. Where a compose CLI is installed, it must accept the file too."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SHARED_SETTINGS = {
    "VGEN_DATABASE_URL",
    "VGEN_STORAGE_URL",
    "VGEN_S3_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "VGEN_SIGNING_SECRET",
    "VGEN_REDIS_URL",
    "VGEN_PUBLIC_URL",
}
ENV_FILE = "VGEN_SIGNING_SECRET=s\nPOSTGRES_PASSWORD=p\nMINIO_ROOT_PASSWORD=m\n"


def services() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return dict(loaded["services"])


def vgen_services() -> dict[str, Any]:
    return {name: s for name, s in services().items() if s.get("image") == "vgen:local"}


def test_api_replicas_serve_without_a_worker_and_workers_run_alone() -> None:
    commands = {name: s["command"] for name, s in vgen_services().items()}
    assert commands == {
        "api-1": ["vgen", "serve", "--no-worker"],
        "api-2": ["vgen", "serve", "--no-worker"],
        "worker": ["vgen", "worker"],
    }
    assert vgen_services()["worker"]["deploy"]["replicas"] == 2
    assert vgen_services()["worker"]["healthcheck"] == {"disable": True}


def test_every_vgen_process_shares_one_database_bucket_and_signing_secret() -> None:
    environments = [s["environment"] for s in vgen_services().values()]
    assert all(env.keys() >= SHARED_SETTINGS for env in environments)
    assert all(env == environments[0] for env in environments)
    assert environments[0]["VGEN_STORAGE_URL"] == "s3://vgen-videos"
    assert environments[0]["VGEN_DATABASE_URL"].startswith("postgresql://")


def test_vgen_starts_after_its_backends_are_healthy_and_the_bucket_exists() -> None:
    for name, service in vgen_services().items():
        conditions = {dep: c["condition"] for dep, c in service["depends_on"].items()}
        assert conditions["postgres"] == "service_healthy", name
        assert conditions["redis"] == "service_healthy", name
        assert conditions["create-bucket"] == "service_completed_successfully", name
    every = services()
    assert all("healthcheck" in every[name] for name in ("postgres", "redis", "minio"))
    assert every["create-bucket"]["entrypoint"][-1] == "archive/vgen-videos"
    assert (ROOT / "deploy/nginx.conf").is_file()


def _compose_cli() -> list[str] | None:
    if (
        shutil.which("docker")
        and subprocess.run(
            ["docker", "compose", "version"], capture_output=True, timeout=30, check=False
        ).returncode
        == 0
    ):
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def test_the_compose_cli_accepts_the_file(tmp_path: Path) -> None:
    cli = _compose_cli()
    if cli is None:
        pytest.skip("no `docker compose` or `docker-compose` here")
    (tmp_path / ".env").write_text(ENV_FILE)
    done = subprocess.run(
        [*cli, "--env-file", str(tmp_path / ".env"), "-f", str(ROOT / "compose.yaml"), "config"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    resolved = yaml.safe_load(done.stdout)
    assert resolved["services"]["api-2"]["environment"]["VGEN_SIGNING_SECRET"] == "s"
