"""Routing from vgen.toml: ordered targets with fail-over only when a submit fails, per-target
concurrency limits (extra jobs wait `queued`), operator-added catalog models, `vgen engines`."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.test_veo_lifecycle import poll_until_done
from tests.conftest import wait_for
from tests.fakes.reseller import ResellerFake
from tests.support import LiveServer, ThreadedUvicorn
from vgen.config import Settings, load_routing


@pytest.fixture
def two_resellers(upstream_mp4: bytes) -> Iterator[tuple[ResellerFake, ResellerFake]]:
    fakes, servers = [], []
    for _ in range(2):
        fake = ResellerFake(video=upstream_mp4)
        server = ThreadedUvicorn(fake.app(), lifespan="off")
        fake.base_url = server.url
        fakes.append(fake)
        servers.append(server)
    yield fakes[0], fakes[1]
    for server in servers:
        server.stop()


def write_config(path: Path, primary: str, backup: str, *, primary_limit: int = 10) -> Path:
    path.write_text(
        f"""
[targets.primary]
type = "relay"
base_url = "{primary}"
api_key_env = "VGEN_TEST_PRIMARY_KEY"
max_concurrent = {primary_limit}
poll_interval_seconds = 0.2
first_poll_seconds = 0.2

[targets.backup]
type = "relay"
base_url = "{backup}"
api_key = "backup-key"
poll_interval_seconds = 0.2
first_poll_seconds = 0.2
models = {{ veo_3_1_fast = "upstream-fast" }}

[routes]
veo_3_1_fast = ["primary", "backup"]
wan_small = ["backup"]

[[models]]
name = "wan_small"
description = "an operator-added model"
resolutions = ["720p"]
durations = [8]
modes = ["text"]
"""
    )
    return path


@pytest.fixture
def routed_settings(
    settings: Settings,
    tmp_path: Path,
    two_resellers: tuple[ResellerFake, ResellerFake],
    monkeypatch: pytest.MonkeyPatch,
) -> Settings:
    monkeypatch.setenv("VGEN_TEST_PRIMARY_KEY", "primary-key")
    primary, backup = two_resellers
    config = write_config(tmp_path / "vgen.toml", primary.base_url, backup.base_url)
    return settings.model_copy(update={"config": config, "worker_idle_poll_seconds": 0.1})


def create(server: LiveServer, **body: Any) -> str:
    with server.client() as client:
        response = client.post("/v1/veo/videos", json={"model": "veo_3_1_fast", **body})
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def test_first_target_serves_when_it_accepts(
    routed_settings: Settings,
    make_server: Callable[..., LiveServer],
    two_resellers: tuple[ResellerFake, ResellerFake],
) -> None:
    primary, backup = two_resellers
    server = make_server(routed_settings)
    task_id = create(server, prompt="primary")
    with server.client() as client:
        done = poll_until_done(client, task_id, timeout_s=60)[-1]
    assert done["status"] == "completed" and done["engine"] == "primary"
    assert len(primary.creates) == 1 and backup.creates == []


def test_failed_submit_fails_over_to_the_next_target(
    routed_settings: Settings,
    make_server: Callable[..., LiveServer],
    two_resellers: tuple[ResellerFake, ResellerFake],
) -> None:
    primary, backup = two_resellers
    primary.unavailable = 1000  # every request to the primary answers 503
    server = make_server(routed_settings)
    task_id = create(server, prompt="switch targets")
    with server.client() as client:
        done = poll_until_done(client, task_id, timeout_s=60)[-1]
    assert done["status"] == "completed" and done["engine"] == "backup", done["error"]
    assert primary.creates == [] and len(backup.creates) == 1
    assert backup.creates[0]["model"] == "upstream-fast"  # the target's model map


def test_accepted_job_is_never_failed_over(
    routed_settings: Settings,
    make_server: Callable[..., LiveServer],
    two_resellers: tuple[ResellerFake, ResellerFake],
) -> None:
    primary, backup = two_resellers
    primary.polls_until_done = 6
    server = make_server(routed_settings)
    task_id = create(server, prompt="stay")
    wait_for(lambda: primary.creates, timeout_s=30, message="the primary submit")
    primary.unavailable = 3  # polls fail for a while: retried on the same target
    with server.client() as client:
        done = poll_until_done(client, task_id, timeout_s=60)[-1]
    assert done["status"] == "completed" and done["engine"] == "primary"
    assert len(primary.creates) == 1 and backup.creates == []


def test_jobs_beyond_a_targets_limit_wait_queued(
    settings: Settings,
    tmp_path: Path,
    make_server: Callable[..., LiveServer],
    two_resellers: tuple[ResellerFake, ResellerFake],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VGEN_TEST_PRIMARY_KEY", "primary-key")
    primary, backup = two_resellers
    primary.polls_until_done = 15
    config = write_config(
        tmp_path / "limited.toml", primary.base_url, backup.base_url, primary_limit=1
    )
    server = make_server(
        settings.model_copy(update={"config": config, "worker_idle_poll_seconds": 0.1})
    )
    first, second = create(server, prompt="one"), create(server, prompt="two")
    wait_for(lambda: len(primary.creates) == 1, timeout_s=30, message="the first submit")
    # Several worker passes (each poll of the first job is one): the second must not start.
    wait_for(
        lambda: sum(job.polls for job in primary.jobs.values()) >= 4,
        timeout_s=30,
        message="four polls of the first job",
    )
    with server.client() as client:
        assert client.get(f"/v1/result/{second}").json()["status"] == "queued"
        assert len(primary.creates) == 1
        assert poll_until_done(client, first, timeout_s=60)[-1]["status"] == "completed"
        assert poll_until_done(client, second, timeout_s=60)[-1]["status"] == "completed"
    assert len(primary.creates) == 2 and backup.creates == []


def test_operator_models_join_the_catalog(
    routed_settings: Settings,
    make_server: Callable[..., LiveServer],
    two_resellers: tuple[ResellerFake, ResellerFake],
) -> None:
    server = make_server(routed_settings)
    with server.client() as client:
        ok = client.post("/v1/veo/videos", json={"model": "wan_small", "prompt": "x"})
        assert ok.status_code == 200, ok.text
        too_big = client.post(
            "/v1/veo/videos", json={"model": "wan_small", "prompt": "x", "resolution": "1080p"}
        )
        assert too_big.status_code == 400 and too_big.json()["error"]["param"] == "resolution"
        done = poll_until_done(client, ok.json()["id"], timeout_s=60)[-1]
    assert done["engine"] == "backup" and done["status"] == "completed"


def test_shortcuts_route_veo_models_without_a_file(tmp_path: Path) -> None:
    relay = load_routing(Settings(data_dir=tmp_path, relay_base_url="http://relay.test"))
    assert relay.routes["veo_3_1_fast"] == ["relay"]
    both = load_routing(
        Settings(data_dir=tmp_path, relay_base_url="http://relay.test", gemini_api_key="g")
    )
    assert both.routes["veo_3_1_pro"] == ["gemini", "relay"]
    assert load_routing(Settings(data_dir=tmp_path)).routes == {}


def test_unknown_target_in_a_route_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[routes]\nveo_3_1_fast = ["nowhere"]\n')
    with pytest.raises(ValueError, match="nowhere"):
        load_routing(Settings(data_dir=tmp_path, config=config))


def test_vgen_engines_lists_targets_and_checks_credentials(
    routed_settings: Settings, two_resellers: tuple[ResellerFake, ResellerFake]
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "vgen", "engines", "--config", str(routed_settings.config)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"VGEN_TEST_PRIMARY_KEY": "primary-key", "PATH": "/usr/bin:/bin", "COLUMNS": "200"},
    )
    assert result.returncode == 0, result.stderr
    lines = {
        line.split("│")[1].strip(): line
        for line in result.stdout.splitlines()
        if line.count("│") > 3
    }
    assert {"local", "primary", "backup"} <= set(lines)
    assert "veo_3_1_fast" in lines["primary"] and "wan_small" in lines["backup"]
    assert all("ok" in lines[name] for name in ("local", "primary", "backup"))
