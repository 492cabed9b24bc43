"""Model discovery (API.md §3): `GET /v1/models` and `GET /v1/videos/models` answer the same
list (auth required), each catalog model with what it accepts, its price, its typical duration
(the median of the observed job durations of its first target with any) and its targets' health.
The SDK (both clients), the `openai` SDK and `vgen models` read it."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from openai import OpenAI

from tests.platform.conftest import TINY_MODEL_TOML, assert_error
from tests.platform.test_cli_platform import vgen
from tests.platform.test_prices import PRICES_TOML
from tests.support import LiveServer
from vgen.client import AsyncClient, Client
from vgen.config import Settings
from vgen.store.store import Store

CONFIG = (
    TINY_MODEL_TOML
    + """
[targets.spare]
type = "relay"
base_url = "http://127.0.0.1:9"
max_concurrent = 1

[routes]
tiny = ["local", "spare"]
"""
    + PRICES_TOML
)


@pytest.fixture
def models_server(
    settings: Settings, tmp_path: Path, make_server: Callable[..., LiveServer]
) -> LiveServer:
    config = tmp_path / "vgen.toml"
    config.write_text(CONFIG)
    return make_server(settings.model_copy(update={"config": config, "run_worker": False}))


def listed(server: LiveServer, path: str = "/v1/videos/models") -> dict[str, Any]:
    with server.client() as client:
        response = client.get(path)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def by_id(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {model["id"]: model for model in body["data"]}


def record(server: LiveServer, target: str, model: str, seconds: list[float]) -> None:
    async def write() -> None:
        store = Store.open(server.settings.resolved_database_url())
        try:
            for at, value in enumerate(seconds):
                await store.durations.record(target, model, seconds=value, now=1000.0 + at)
        finally:
            await store.close()

    asyncio.run(write())


def test_both_paths_list_every_catalog_model_with_its_fields(models_server: LiveServer) -> None:
    body = listed(models_server)
    assert body == listed(models_server, "/v1/models")
    assert body["object"] == "list"
    models = by_id(body)
    assert {"tiny", "veo_3_1_fast", "veo_3_1_pro", "veo_3_1_fast_stable"} <= set(models)
    tiny = models["tiny"]
    local_price = {"currency": "EUR", "unit": "video_second", "per_second": {"720p": 0.25}}
    assert tiny["object"] == "model" and tiny["owned_by"] == "vgen"
    assert isinstance(tiny["created"], int) and tiny["created"] > 0
    assert tiny["description"] == "a 1-2 second test model"
    assert tiny["resolutions"] == ["720p"] and tiny["aspect_ratios"] == ["16:9", "9:16"]
    assert tiny["durations"] == [1, 2] and tiny["image_modes"] == ["text"]
    assert tiny["price"] == local_price, "the price a create pays: its first target's"
    assert tiny["typical_seconds"] is None, "no history yet"
    assert tiny["available"] is True
    local, spare = tiny["targets"]
    assert local == {
        "name": "local",
        "status": "ok",
        "active": 0,
        "max_concurrent": models_server.settings.local_processes,
        "price": local_price,
        "typical_seconds": None,
    }
    assert spare["name"] == "spare" and spare["status"] == "ok" and spare["max_concurrent"] == 1
    assert spare["price"]["per_second"] == {"720p": 1.0}
    stable = models["veo_3_1_fast_stable"]
    assert stable["resolutions"] == ["720p", "1080p"]
    assert stable["image_modes"] == ["first_frame", "first_last"]
    assert stable["price"] is None and [t["name"] for t in stable["targets"]] == ["local"]
    assert models["veo_3_1_pro"]["resolutions"] == ["720p", "1080p", "4K"]


def test_typical_seconds_is_the_median_of_the_first_target_with_history(
    models_server: LiveServer,
) -> None:
    record(models_server, "spare", "tiny", [100.0, 120.0])
    tiny = by_id(listed(models_server))["tiny"]
    assert tiny["typical_seconds"] == 110.0, "only the fail-over target has history"
    assert [t["typical_seconds"] for t in tiny["targets"]] == [None, 110.0]
    record(models_server, "local", "tiny", [40.0, 10.0, 30.0, 20.0])
    tiny = by_id(listed(models_server))["tiny"]
    assert tiny["typical_seconds"] == 25.0
    assert by_id(listed(models_server))["veo_3_1_fast"]["typical_seconds"] is None


def test_a_target_at_its_limit_shows_busy(models_server: LiveServer) -> None:
    with models_server.client() as client:
        for _ in range(models_server.settings.local_processes):
            created = client.post("/v1/veo/videos", json={"model": "veo_3_1_fast", "prompt": "p"})
            assert created.status_code == 200, created.text

    async def start_all() -> None:  # a worker's claims, without rendering anything
        store = Store.open(models_server.settings.resolved_database_url())
        try:
            while await store.queue.claim_next("test-worker", now=time.time(), lease_s=600):
                pass
        finally:
            await store.close()

    asyncio.run(start_all())
    (local,) = by_id(listed(models_server))["veo_3_1_fast"]["targets"]
    limit = models_server.settings.local_processes
    assert local["status"] == "busy" and local["active"] == local["max_concurrent"] == limit
    tiny = by_id(listed(models_server))["tiny"]
    assert tiny["available"] is True and tiny["targets"][1]["status"] == "ok"


def test_models_need_a_key(models_server: LiveServer) -> None:
    with httpx.Client(base_url=models_server.url) as anonymous:
        for path in ("/v1/models", "/v1/videos/models"):
            assert_error(anonymous.get(path), 401)
    with httpx.Client(
        base_url=models_server.url, headers={"Authorization": "Bearer vgen-sk-nope"}
    ) as wrong:
        assert_error(wrong.get("/v1/models"), 401)


def test_sdks_and_cli_read_the_models(models_server: LiveServer) -> None:
    expected = listed(models_server)["data"]
    with Client(models_server.url, api_key=models_server.admin_key) as client:
        assert client.models() == expected

    async def read_async() -> list[dict[str, Any]]:
        async with AsyncClient(models_server.url, api_key=models_server.admin_key) as client:
            return await client.models()

    assert asyncio.run(read_async()) == expected
    openai = OpenAI(base_url=f"{models_server.url}/v1", api_key=models_server.admin_key)
    assert [m.id for m in openai.models.list()] == [m["id"] for m in expected]

    remote = ["--server", models_server.url, "--api-key", models_server.admin_key]
    shown = vgen("models", "--json", *remote)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["data"] == expected
    table = vgen("models", *remote, env={"COLUMNS": "200"})
    assert table.returncode == 0, table.stderr
    assert "tiny" in table.stdout and "0.25 EUR" in table.stdout
    assert "local (ok), spare (ok)" in table.stdout
