"""`vgen keys create|list|revoke` (on the database, and through the admin API), `vgen usage`,
and `vgen serve`'s JSON log lines carrying the task id."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.test_veo_lifecycle import poll_until_done
from tests.conftest import wait_for
from tests.platform.conftest import assert_error, create_tiny, finish
from tests.support import LiveServer, free_port


def vgen(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("VGEN_")}
    return subprocess.run(
        [sys.executable, "-m", "vgen", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**clean, **(env or {})},
    )


def db_env(server: LiveServer) -> dict[str, str]:
    return {
        "VGEN_DATA_DIR": str(server.settings.data_dir),
        "VGEN_DATABASE_URL": server.settings.resolved_database_url(),
    }


def test_keys_commands_on_the_database(platform_server: LiveServer) -> None:
    made = vgen(
        "keys", "create", "--name", "cli key", "--rate", "120/min", "--max-inflight", "2",
        "--daily-seconds", "30", "--webhook-url", "https://hooks.example.test/x", "--json",
        env=db_env(platform_server),
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    created: dict[str, Any] = json.loads(made.stdout)
    assert created["rate_per_minute"] == 120 and created["max_inflight"] == 2
    assert created["daily_seconds"] == 30 and created["key"].startswith("vgen-sk-")
    assert created["weight"] == 1 and created["daily_budget"] is None

    weighted = vgen(
        "keys", "create", "--name", "weighted", "--weight", "3", "--daily-budget", "5",
        "--monthly-budget", "100", "--json", env=db_env(platform_server),
    )  # fmt: skip
    assert weighted.returncode == 0, weighted.stderr
    shown = json.loads(weighted.stdout)
    assert (shown["weight"], shown["daily_budget"], shown["monthly_budget"]) == (3, 5, 100)
    zero = vgen("keys", "create", "--name", "no", "--weight", "0", env=db_env(platform_server))
    assert zero.returncode == 1 and "weight" in zero.stdout + zero.stderr

    text = vgen("keys", "create", "--name", "plain", env=db_env(platform_server))
    assert text.returncode == 0 and "vgen-sk-" in text.stdout and "whsec_" in text.stdout

    listed = vgen("keys", "list", "--json", env=db_env(platform_server))
    assert listed.returncode == 0, listed.stderr
    names = {k["name"]: k for k in json.loads(listed.stdout)["data"]}
    assert {"admin", "cli key", "plain", "weighted"} <= set(names)
    assert names["weighted"]["weight"] == 3 and names["plain"]["weight"] == 1
    table = vgen("keys", "list", env={**db_env(platform_server), "COLUMNS": "200"})
    assert table.returncode == 0 and "weight" in table.stdout and "budget 5/day" in table.stdout
    assert created["key"] not in listed.stdout

    with platform_server.client(created["key"]) as client:
        assert client.get("/v1/veo/videos").status_code == 200  # the running server knows it
        revoked = vgen("keys", "revoke", created["id"], env=db_env(platform_server))
        assert revoked.returncode == 0, revoked.stderr
        assert_error(client.get("/v1/veo/videos"), 401)  # refused at once
    by_secret = json.loads(
        vgen("keys", "create", "--name", "by secret", "--json", env=db_env(platform_server)).stdout
    )
    assert vgen("keys", "revoke", by_secret["key"], env=db_env(platform_server)).returncode == 0
    with platform_server.client(by_secret["key"]) as client:
        assert_error(client.get("/v1/veo/videos"), 401)
    table = vgen("keys", "list", env=db_env(platform_server))
    assert "revoked" in table.stdout

    bad = vgen("keys", "create", "--name", "x", "--rate", "lots", env=db_env(platform_server))
    assert bad.returncode != 0
    unknown = vgen("keys", "revoke", "key_nope", env=db_env(platform_server))
    assert unknown.returncode == 1 and "key_nope" in unknown.stderr


def test_keys_commands_through_the_admin_api(platform_server: LiveServer) -> None:
    remote = ["--server", platform_server.url, "--api-key", platform_server.admin_key]
    made = vgen(
        "keys", "create", "--name", "remote", "--weight", "2", "--monthly-budget", "9", "--json",
        *remote,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    created = json.loads(made.stdout)
    assert created["weight"] == 2 and created["monthly_budget"] == 9
    refused = vgen("keys", "create", "--name", "no", "--weight", "-1", *remote)
    assert refused.returncode == 1 and "weight" in refused.stdout + refused.stderr
    listed = json.loads(vgen("keys", "list", "--json", *remote).stdout)["data"]
    assert created["id"] in {k["id"] for k in listed}
    assert vgen("keys", "revoke", created["id"], *remote).returncode == 0
    with platform_server.client(created["key"]) as client:
        assert_error(client.get("/v1/veo/videos"), 401)
    refused = vgen("keys", "list", "--server", platform_server.url, "--api-key", created["key"])
    assert refused.returncode == 1


def test_usage_command(platform_server: LiveServer) -> None:
    with platform_server.client() as client:
        assert finish(client, create_tiny(client, seconds=2).json()["id"])["status"] == "completed"
    remote = ["--server", platform_server.url, "--api-key", platform_server.admin_key]
    report = vgen("usage", "--json", *remote)
    assert report.returncode == 0, report.stderr
    (row,) = json.loads(report.stdout)["data"]
    assert row["model"] == "tiny" and row["completed"] == 1 and row["cost"] == 0
    table = vgen("usage", *remote)
    assert table.returncode == 0 and "tiny" in table.stdout and "total" in table.stdout
    assert "cost" in table.stdout and "cost in USD" in table.stdout
    bad = vgen("usage", "--from", "soon", *remote)
    assert bad.returncode == 1 and "from" in bad.stderr


@pytest.mark.slow
def test_serve_logs_json_lines_with_the_task_id(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "serve.log"
    env = {
        "VGEN_DATA_DIR": str(tmp_path / "data"),
        "VGEN_PORT": str(port),
        "VGEN_WORKER_IDLE_POLL_SECONDS": "0.1",
    }
    clean = {k: v for k, v in os.environ.items() if not k.startswith("VGEN_")}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "vgen", "serve"],
            env={**clean, **env},
            stdout=subprocess.DEVNULL,
            stderr=out,
        )
    url = f"http://127.0.0.1:{port}"
    try:

        def up() -> bool:
            try:
                return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(up, timeout_s=60, message="vgen serve")
        key = (tmp_path / "data" / "admin.key").read_text().strip()
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as client:
            task_id = client.post(
                "/v1/veo/videos", json={"model": "veo_3_1_fast", "prompt": "logged"}
            ).json()["id"]
            assert poll_until_done(client, task_id)[-1]["status"] == "completed"
    finally:
        process.terminate()
        process.wait(timeout=30)
    # (Python's multiprocessing may print a plain warning of its own at exit.)
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    assert len(lines) >= 5
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    about_task = [line for line in lines if task_id in line["message"] or line.get("task_id")]
    assert about_task, "no log line about the task"
    assert all(line.get("task_id") == task_id for line in about_task)
    messages = {line["message"] for line in about_task}
    assert {"task created", "task claimed", "task completed"} <= messages
