"""The SDK against a fake reseller (ENGINES.md §2 quirks) and its failure modes: 429 with
Retry-After, 5xx, a connection cut mid-download, an expired video URL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.reseller import ResellerFake
from tests.support import serving
from vgen.client import DownloadError, RateLimitError, Task, TaskFailedError

VIDEO = bytes(range(256)) * 4096  # 1 MiB of recognisable bytes


@pytest.fixture
def reseller() -> Iterator[ResellerFake]:
    with serving(ResellerFake(video=VIDEO)) as fake:
        yield fake


def test_reseller_quirks_are_understood(
    reseller: ResellerFake, make_sdk: Callable[..., Any], tmp_path: Path
) -> None:
    client = make_sdk(reseller.base_url, "reseller-key")
    created = client.create("a boat", resolution="1080p")
    assert created.id == "r0001" and created.status == "queued"
    assert reseller.creates == [
        {"model": "veo_3_1_fast", "prompt": "a boat", "resolution": "1080p"}
    ]
    assert reseller.idempotency_keys[0]  # always sent, so retries are safe
    seen: list[Task] = []
    done = client.wait(created.id, on_progress=seen.append)
    assert [(t.status, t.progress) for t in seen] == [("processing", 40), ("completed", 100)]
    assert done.video_url == f"{reseller.base_url}/files/r0001.mp4"
    target = client.download(done, tmp_path / "boat.mp4")
    assert target.read_bytes() == VIDEO
    # The video URL is the reseller's, not the API's: the API key is never sent there.
    assert all("authorization" not in h for h in reseller.video_requests)
    page = client.list()
    assert [t.id for t in page.data] == ["r0001"] and page.data[0].status == "queued"


def test_failed_task_raises_with_upstream_message(
    reseller: ResellerFake, make_sdk: Callable[..., Any]
) -> None:
    client = make_sdk(reseller.base_url, "k")
    task = client.create("please fail")
    with pytest.raises(TaskFailedError) as failed:
        client.wait(task.id)
    assert failed.value.task.error == "Content policy violation: prompt rejected"


def test_429_is_retried_after_the_servers_retry_after(
    reseller: ResellerFake, make_sdk: Callable[..., Any]
) -> None:
    client = make_sdk(reseller.base_url, "k")
    reseller.rate_limited, reseller.retry_after_s = 2, "3"
    task = client.create("patience")
    assert task.id == "r0001" and len(reseller.creates) == 1
    assert client.sleeps == [3.0, 3.0]


def test_429_beyond_max_retries_raises_rate_limit_error(
    reseller: ResellerFake, make_sdk: Callable[..., Any]
) -> None:
    client = make_sdk(reseller.base_url, "k", max_retries=1)
    reseller.rate_limited, reseller.retry_after_s = 5, "7"
    with pytest.raises(RateLimitError) as limited:
        client.get("r0001")
    assert limited.value.retry_after == 7.0 and limited.value.status_code == 429
    assert client.sleeps == [7.0]


def test_wait_backs_off_through_429_and_5xx(
    reseller: ResellerFake, make_sdk: Callable[..., Any]
) -> None:
    client = make_sdk(reseller.base_url, "k")
    task = client.create("bumpy")
    reseller.rate_limited, reseller.retry_after_s = 1, "4"
    reseller.unavailable = 0
    first = client.wait(task.id)
    assert first.status == "completed"
    assert 4.0 in client.sleeps
    task = client.create("bumpier")
    reseller.unavailable = 3
    before = len(client.sleeps)
    assert client.wait(task.id).status == "completed"
    backoffs = client.sleeps[before : before + 3]
    assert len(backoffs) == 3 and backoffs[0] <= backoffs[2]


def test_download_resumes_with_range_after_a_cut(
    reseller: ResellerFake, make_sdk: Callable[..., Any], tmp_path: Path
) -> None:
    client = make_sdk(reseller.base_url, "k")
    reseller.cut_after_bytes, reseller.cuts_left = 300_000, 2
    task = Task(id="r9", status="completed", video_url=f"{reseller.base_url}/files/r9.mp4")
    target = client.download(task, tmp_path / "resumed.mp4")
    assert target.read_bytes() == VIDEO
    ranges = [h.get("range") for h in reseller.video_requests]
    assert ranges == [None, "bytes=300000-", "bytes=600000-"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["resumed.mp4"]


def test_failed_download_leaves_nothing_at_the_target(
    reseller: ResellerFake, make_sdk: Callable[..., Any], tmp_path: Path
) -> None:
    client = make_sdk(reseller.base_url, "k", max_retries=2)
    reseller.cut_after_bytes, reseller.cuts_left = 1000, 100
    task = Task(id="r9", status="completed", video_url=f"{reseller.base_url}/files/r9.mp4")
    with pytest.raises(DownloadError):
        client.download(task, tmp_path / "broken.mp4")
    assert list(tmp_path.iterdir()) == []


def test_expired_video_url_is_refreshed_once(
    reseller: ResellerFake, make_sdk: Callable[..., Any], tmp_path: Path
) -> None:
    client = make_sdk(reseller.base_url, "k")
    task = client.wait(client.create("refresh me").id)
    reseller.expired_urls.add("r0001.mp4")
    client.download(task, tmp_path / "fresh.mp4")
    assert (tmp_path / "fresh.mp4").read_bytes() == VIDEO
    assert len(reseller.video_requests) == 2


def test_wait_gives_up_at_its_timeout_with_the_last_state(
    reseller: ResellerFake, make_sdk: Callable[..., Any]
) -> None:
    from vgen.client import WaitTimeoutError

    client = make_sdk(reseller.base_url, "k")
    task = client.create("slow")
    reseller.jobs[task.id].polls_until_done = 1000
    with pytest.raises(WaitTimeoutError) as timed_out:
        client.wait(task.id, timeout=0.5)
    assert timed_out.value.task.id == task.id and timed_out.value.task.status == "processing"
