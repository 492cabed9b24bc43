"""The SDK against a live vgen server, once with `Client` and once with `AsyncClient`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import vgen.client
from tests.images import data_url, scene_image
from tests.support import LiveServer
from tests.video import decode_mp4
from vgen.client import (
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    Task,
    TaskFailedError,
)


def test_generate_creates_waits_and_downloads(
    sdk_server: LiveServer, make_sdk: Callable[..., Any], tmp_path: Path
) -> None:
    client = make_sdk(sdk_server.url, sdk_server.admin_key)
    seen: list[Task] = []
    output = tmp_path / "out" / "video.mp4"
    done = client.generate("a red kite", output=output, on_progress=seen.append)
    assert done.status == "completed" and done.progress == 100 and done.actual_duration == 8
    assert decode_mp4(output.read_bytes()).frames == 192
    assert [p.name for p in output.parent.iterdir()] == ["video.mp4"]  # no .part left
    progresses = [t.progress for t in seen]
    assert progresses == sorted(progresses) and seen[-1].status == "completed"
    # The server asks for a poll every 2 s (Retry-After); the SDK waits exactly that.
    assert client.sleeps and set(client.sleeps) == {2.0}


def test_local_files_are_uploaded_and_urls_pass_through(
    sdk_server: LiveServer, make_sdk: Callable[..., Any], tmp_path: Path
) -> None:
    first = tmp_path / "first.png"
    first.write_bytes(scene_image())
    client = make_sdk(sdk_server.url, sdk_server.admin_key)
    task = client.create(
        "from a file", first_image=str(first), last_image=data_url(scene_image(shift=40))
    )
    assert task.status == "queued"
    with sdk_server.client() as http:
        stored = http.get(f"/v1/result/{task.id}").json()
    assert stored["id"] == task.id
    done = client.wait(task.id, timeout=120)
    assert done.status == "completed"


def test_typed_errors_carry_status_code_and_param(
    sdk_server: LiveServer, make_sdk: Callable[..., Any]
) -> None:
    client = make_sdk(sdk_server.url, sdk_server.admin_key)
    with pytest.raises(BadRequestError) as bad:
        client.create("x", resolution="480p")
    assert bad.value.status_code == 400 and bad.value.param == "resolution"
    assert "480p" in bad.value.message
    with pytest.raises(NotFoundError) as missing:
        client.get("vgen_" + "0" * 24)
    assert missing.value.status_code == 404
    with pytest.raises(AuthenticationError):
        make_sdk(sdk_server.url, "wrong-key").get("vgen_" + "0" * 24)


def test_list_pages_newest_first(sdk_server: LiveServer, make_sdk: Callable[..., Any]) -> None:
    client = make_sdk(sdk_server.url, sdk_server.admin_key)
    ids = [client.create(f"p{i}").id for i in range(3)]
    first = client.list(limit=2)
    assert [t.id for t in first.data] == ids[::-1][:2] and first.has_more
    rest = client.list(limit=2, after=first.last_id)
    assert [t.id for t in rest.data] == ids[:1] and not rest.has_more


def test_wait_raises_typed_error_on_failure(
    sdk_server: LiveServer, make_sdk: Callable[..., Any], tmp_path: Path
) -> None:
    # A 4K render cannot finish inside a 1 s deadline: the task fails, wait raises.
    settings = sdk_server.settings
    assert settings.task_deadline_seconds > 1
    from tests.support import start_live_server

    short = start_live_server(
        settings.model_copy(
            update={
                "task_deadline_seconds": 1.0,
                "data_dir": tmp_path / "short",
                "database_url": f"sqlite:///{tmp_path / 'short.db'}",
            }
        )
    )
    try:
        client = make_sdk(short.url, short.admin_key)
        task = client.create("too slow", resolution="4K")
        with pytest.raises(TaskFailedError) as failed:
            client.wait(task.id, timeout=60)
        assert failed.value.task.status == "failed"
        assert "deadline" in str(failed.value.task.error)
    finally:
        short.stop()


def test_public_surface_is_exactly_all() -> None:
    public = {name for name in dir(vgen.client) if not name.startswith("_")}
    assert public == set(vgen.client.__all__)
    assert vgen.client.__all__ == sorted(vgen.client.__all__)
    for name in vgen.client.__all__:
        assert getattr(vgen.client, name).__doc__, name
