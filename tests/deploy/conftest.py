"""The vgen container image, built once per session from this checkout with the local Docker
daemon. Everything here skips (with the reason) where no daemon answers, so CI without Docker
skips the deploy tests; images and containers the tests make are removed afterwards."""

from __future__ import annotations

import re
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The Dockerfile's default base; used as is when the daemon already has it.
DEFAULT_BASE = "python:3.11-slim-bookworm"
# Locally added CAs (Debian's place for them): a build behind a TLS-intercepting proxy needs them
# for pip, which trusts only its own bundle.
LOCAL_CAS = Path("/usr/local/share/ca-certificates")


def docker(*args: str, timeout_s: float = 120, check: bool = True) -> str:
    """Run the docker CLI; return its stdout, or fail the test with its stderr."""
    done = subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout_s, check=False
    )
    if check and done.returncode != 0:
        pytest.fail(
            f"docker {' '.join(args[:3])} … exited {done.returncode}: {done.stderr[-3000:]}"
        )
    return done.stdout


def _daemon_problem() -> str | None:
    if shutil.which("docker") is None:
        return "no docker CLI"
    try:
        done = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return "docker info timed out"
    if done.returncode != 0:
        return f"no Docker daemon answers: {done.stderr.strip()[:200]}"
    return None


@pytest.fixture(scope="session")
def docker_daemon() -> None:
    problem = _daemon_problem()
    if problem:
        pytest.skip(problem)


def _has_image(name: str) -> bool:
    return (
        subprocess.run(
            ["docker", "image", "inspect", name], capture_output=True, timeout=30, check=False
        ).returncode
        == 0
    )


def _debian_mirror() -> str:
    """The Debian mirror apt uses here (deb822 `URIs:` or one-line `deb URL suite`)."""
    sources = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for source in sources:
        if source.suffix not in (".list", ".sources") or not source.is_file():
            continue
        for match in re.finditer(r"(?:^URIs:|^deb)\s+(\S+)", source.read_text(), re.MULTILINE):
            if match.group(1).rstrip("/").endswith("/debian"):
                return match.group(1)
    return "http://deb.debian.org/debian"


def _debootstrap_base(name: str, rootfs: Path) -> None:
    """A bare Debian bookworm (no Python: the Dockerfile installs Debian's 3.11) as image `name`."""
    done = subprocess.run(
        ["debootstrap", "--variant=minbase", "bookworm", str(rootfs), _debian_mirror()],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"debootstrap failed: {done.stdout[-2000:]}{done.stderr[-2000:]}")
    shutil.rmtree(rootfs / "var/cache/apt/archives", ignore_errors=True)
    with subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE) as tar:
        imported = subprocess.run(
            ["docker", "import", "-", name],
            stdin=tar.stdout,
            capture_output=True,
            timeout=600,
            check=False,
        )
    if imported.returncode != 0 or tar.returncode != 0:
        pytest.fail(f"docker import failed: {imported.stderr.decode()[-2000:]}")


@pytest.fixture(scope="session")
def base_image(docker_daemon: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A base the image builds on without a registry: the Dockerfile's default when the daemon
    has it, else a bare Debian made with debootstrap (removed afterwards)."""
    if _has_image(DEFAULT_BASE):
        yield DEFAULT_BASE
        return
    if shutil.which("debootstrap") is None:
        pytest.skip(f"no {DEFAULT_BASE} image here and no debootstrap to make a Debian base")
    name = f"vgen-test-base:{secrets.token_hex(4)}"
    rootfs = tmp_path_factory.mktemp("rootfs")
    try:
        _debootstrap_base(name, rootfs)
    finally:
        shutil.rmtree(rootfs, ignore_errors=True)
    try:
        yield name
    finally:
        docker("rmi", "--force", name, check=False)


def _dangling_images() -> set[str]:
    return set(docker("images", "--quiet", "--no-trunc", "--filter", "dangling=true").split())


@pytest.fixture(scope="session")
def vgen_image(base_image: str) -> Iterator[str]:
    """The image built from this checkout's Dockerfile (removed afterwards, with the build
    stage's leftovers)."""
    name = f"vgen-test:{secrets.token_hex(4)}"
    extra_cas = "".join(p.read_text() for p in sorted(LOCAL_CAS.rglob("*.crt")))
    dangling_before = _dangling_images()
    try:
        docker(
            "build",
            "--quiet",
            "--force-rm",
            "--build-arg",
            f"BASE_IMAGE={base_image}",
            "--build-arg",
            f"EXTRA_CA_CERTS={extra_cas}",
            "--tag",
            name,
            str(ROOT),
            timeout_s=1200,
        )
        yield name
    finally:
        docker("rmi", "--force", name, check=False)
        leftovers = _dangling_images() - dangling_before
        if leftovers:
            docker("rmi", "--force", *sorted(leftovers), check=False)
