"""Platform fixtures: a server whose catalog has a tiny model (1–2 s videos, rendered in well
under a second by the local engine), and helpers to make keys through the admin API."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.test_veo_lifecycle import poll_until_done
from tests.support import LiveServer
from vgen.config import Settings

TINY_MODEL_TOML = """
[[models]]
name = "tiny"
description = "a 1-2 second test model"
resolutions = ["720p"]
durations = [1, 2]
modes = ["text"]
"""


@pytest.fixture
def tiny_settings(settings: Settings, tmp_path: Path) -> Settings:
    config = tmp_path / "vgen.toml"
    config.write_text(TINY_MODEL_TOML)
    return settings.model_copy(update={"config": config, "worker_idle_poll_seconds": 0.05})


@pytest.fixture
def platform_server(tiny_settings: Settings, make_server: Callable[..., LiveServer]) -> LiveServer:
    return make_server(tiny_settings)


def make_key(server: LiveServer, **fields: Any) -> dict[str, Any]:
    with server.client() as admin:
        response = admin.post("/v1/admin/keys", json={"name": "test", **fields})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def create_tiny(client: httpx.Client, *, seconds: int = 1, **extra: Any) -> httpx.Response:
    return client.post(
        "/v1/veo/videos",
        json={"model": "tiny", "prompt": "platform test", "duration": seconds, **extra},
    )


def finish(client: httpx.Client, task_id: str) -> dict[str, Any]:
    return poll_until_done(client, task_id, timeout_s=60)[-1]


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "code", "param"} and error["message"]
    if code is not None:
        assert error["code"] == code, error
