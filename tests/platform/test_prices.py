"""Prices and budgets (issue 14 item 4): a completed task records its cost (priced by the
target that made it) and adds it to the day's usage in the same transaction; failed and
cancelled tasks cost nothing; a key's daily and monthly budgets reserve each unfinished task's
expected cost and refuse, with 429 `budget_exceeded` in both dialects, the create that would
pass them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.conftest import wait_for
from tests.platform.conftest import TINY_MODEL_TOML, assert_error, create_tiny, finish, make_key
from tests.support import LiveServer
from vgen.config import Settings
from vgen.store.store import Store
from vgen.store.tables import tasks

# The model's own rate is 1.0; the local target costs differently, and it renders `tiny`.
PRICES_TOML = """
[prices]
currency = "EUR"

[prices.models.tiny]
per_second = 1.0

[prices.models.tiny.targets.local]
per_second = 0.25
"""
LOCAL_RATE = 0.25


@pytest.fixture
def priced_settings(tiny_settings: Settings, tmp_path: Path) -> Settings:
    config = tmp_path / "priced.toml"
    config.write_text(TINY_MODEL_TOML + PRICES_TOML)
    return tiny_settings.model_copy(update={"config": config})


def task_row(server: LiveServer, task_id: str) -> dict[str, Any]:
    """The task's row, read from the server's database (cost and reservation are not on the
    wire)."""

    async def read() -> dict[str, Any]:
        store = Store.open(server.settings.resolved_database_url())
        try:
            row = await store.database.fetch_one(sa.select(tasks).where(tasks.c.id == task_id))
        finally:
            await store.close()
        assert row is not None
        return dict(row)

    return asyncio.run(read())


def test_completed_task_records_its_target_price_and_usage_shows_the_cost(
    priced_settings: Settings, make_server: Callable[..., LiveServer]
) -> None:
    server = make_server(priced_settings)
    key = make_key(server, name="priced")
    with server.client(key["key"]) as client:
        task_id = create_tiny(client, seconds=2).json()["id"]
        assert task_row(server, task_id)["reserved_cost"] == pytest.approx(2 * LOCAL_RATE)
        done = finish(client, task_id)
        assert done["status"] == "completed", done
        row = task_row(server, task_id)
        assert row["video_seconds"] > 0
        assert row["cost"] == pytest.approx(row["video_seconds"] * LOCAL_RATE, abs=1e-6)
        usage = client.get("/v1/usage").json()
    assert usage["currency"] == "EUR"
    (day,) = usage["data"]
    assert day["model"] == "tiny" and day["completed"] == 1
    assert day["cost"] == pytest.approx(row["cost"], abs=1e-6)
    assert usage["total"]["cost"] == pytest.approx(row["cost"], abs=1e-6)
    assert usage["total"]["video_seconds"] == pytest.approx(row["video_seconds"], abs=1e-3)


def test_unpriced_model_completes_with_no_cost(
    tiny_settings: Settings, make_server: Callable[..., LiveServer]
) -> None:
    server = make_server(tiny_settings)
    key = make_key(server, name="unpriced", daily_budget=0.01)
    with server.client(key["key"]) as client:
        task_id = create_tiny(client, seconds=1).json()["id"]
        assert finish(client, task_id)["status"] == "completed"
        usage = client.get("/v1/usage").json()
    assert task_row(server, task_id)["cost"] is None, "not priced is not the same as free"
    assert usage["total"]["cost"] == 0 and usage["currency"] == "USD"


def test_failed_and_cancelled_tasks_cost_nothing_and_free_their_reservation(
    priced_settings: Settings, make_server: Callable[..., LiveServer]
) -> None:
    # Every task misses its deadline before the worker can start it; the sweeper fails it.
    server = make_server(
        priced_settings.model_copy(
            update={"task_deadline_seconds": 0.01, "sweep_interval_seconds": 0.1}
        )
    )
    key = make_key(server, name="budget frees", daily_budget=2 * LOCAL_RATE)
    with server.client(key["key"]) as client:
        failed_id = create_tiny(client, seconds=2).json()["id"]
        failed = finish(client, failed_id)
        assert failed["status"] == "failed" and "deadline" in failed["error"]
        # The failed task's reservation is free again: a task of the whole budget is taken.
        wait_for(lambda: create_tiny(client, seconds=2).status_code == 200, timeout_s=10)
        usage = client.get("/v1/usage").json()["total"]
    assert task_row(server, failed_id)["cost"] is None
    assert usage["failed"] >= 1 and usage["cost"] == 0


def test_budget_reserves_expected_cost_and_refuses_with_budget_exceeded(
    priced_settings: Settings, make_server: Callable[..., LiveServer]
) -> None:
    server = make_server(priced_settings.model_copy(update={"run_worker": False}))
    # 0.75 = three video-seconds on the local target.
    key = make_key(server, name="daily budget", daily_budget=3 * LOCAL_RATE)
    with server.client(key["key"]) as client:
        first = create_tiny(client, seconds=2).json()["id"]
        refused = create_tiny(client, seconds=2)
        assert_error(refused, 429, "budget_exceeded")
        assert refused.json()["error"]["type"] == "insufficient_quota"
        assert 1 <= int(refused.headers["Retry-After"]) <= 86_400
        assert "daily budget" in refused.json()["error"]["message"]
        assert len(client.get("/v1/veo/videos").json()["data"]) == 1, "a refusal stores nothing"
        assert create_tiny(client, seconds=1).status_code == 200  # 0.5 + 0.25: the budget
        openai = client.post("/v1/videos", json={"model": "tiny", "prompt": "x", "seconds": "1"})
        assert_error(openai, 429, "budget_exceeded")
        assert client.post(f"/v1/veo/videos/{first}/cancel").status_code == 200
        assert task_row(server, first)["cost"] is None, "a cancelled task costs nothing"
        assert create_tiny(client, seconds=2).status_code == 200, "cancel gave it back"
        assert client.get("/v1/usage").json()["total"]["cost"] == 0


def test_monthly_budget_counts_completed_cost(
    priced_settings: Settings, make_server: Callable[..., LiveServer]
) -> None:
    server = make_server(priced_settings)
    key = make_key(server, name="monthly", monthly_budget=1.5 * 2 * LOCAL_RATE)
    with server.client(key["key"]) as client:
        assert finish(client, create_tiny(client, seconds=2).json()["id"])["status"] == "completed"
        refused = create_tiny(client, seconds=2)
        assert_error(refused, 429, "budget_exceeded")
        assert "monthly budget" in refused.json()["error"]["message"]
        assert int(refused.headers["Retry-After"]) >= 1
    with server.client(make_key(server, name="other key")["key"]) as client:
        assert create_tiny(client, seconds=2).status_code == 200, "budgets are per key"
