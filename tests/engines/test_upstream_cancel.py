"""Cancelling a task whose job an upstream accepted: vgen stops polling it at once and asks the
upstream to stop it (best effort: a few tries on transient errors, then it gives up)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import wait_for
from tests.fakes.openai_videos import OpenAIVideosFake
from tests.fakes.reseller import FakeJob, ResellerFake
from tests.support import HandClock, LiveServer, ThreadedUvicorn, serving
from vgen.config import Settings
from vgen.domain.ids import new_task_id
from vgen.domain.requests import VideoRequest
from vgen.engines.openai_videos import OpenAIVideosEngine
from vgen.store.store import Store
from vgen.store.tasks import NewTask
from vgen.worker.upstream_cancels import MAX_ATTEMPTS, UpstreamCanceller


@pytest.fixture
def slow_reseller(upstream_mp4: bytes) -> Iterator[ResellerFake]:
    with serving(ResellerFake(video=upstream_mp4, polls_until_done=10_000)) as fake:
        yield fake


def test_cancel_stops_polling_and_asks_the_upstream_to_stop(
    settings: Settings, make_server: Callable[..., LiveServer], slow_reseller: ResellerFake
) -> None:
    server = make_server(
        settings.model_copy(
            update={
                "relay_base_url": slow_reseller.base_url,
                "relay_first_poll_seconds": 0.1,
                "relay_poll_interval_seconds": 0.1,
                "worker_idle_poll_seconds": 0.05,
            }
        )
    )
    with server.client() as client:
        task_id = client.post(
            "/v1/veo/videos", json={"model": "veo_3_1_fast", "prompt": "never mind"}
        ).json()["id"]
        # A sibling task on the same upstream, left running: its polls show time passing.
        client.post("/v1/veo/videos", json={"model": "veo_3_1_fast", "prompt": "keep going"})
        job = polled_job(slow_reseller, "never mind")
        sibling = polled_job(slow_reseller, "keep going")
        assert client.post(f"/v1/veo/videos/{task_id}/cancel").status_code == 200
        wait_for(lambda: slow_reseller.cancels, timeout_s=30, message="the upstream cancel")
        assert slow_reseller.cancels == [job.id]
        polls_after_cancel, sibling_polls = job.polls, sibling.polls
        wait_for(
            lambda: sibling.polls >= sibling_polls + 10,
            timeout_s=30,
            message="ten more poll intervals of the sibling job",
        )
        assert job.polls <= polls_after_cancel + 1, "vgen kept polling a cancelled job"
        shown = client.get(f"/v1/result/{task_id}").json()
        assert (shown["status"], shown["error"]) == ("failed", "cancelled")
    assert [c["prompt"] for c in slow_reseller.creates].count("never mind") == 1


def polled_job(fake: ResellerFake, prompt: str) -> FakeJob:
    """The upstream job of `prompt`, once vgen has polled it twice."""
    found = wait_for(
        lambda: next((j for j in fake.jobs.values() if j.prompt == prompt and j.polls >= 2), None),
        timeout_s=30,
        message=f"the upstream job of {prompt!r} being polled",
    )
    assert isinstance(found, FakeJob)
    return found


def test_upstream_cancel_gives_up_after_a_few_transient_failures(
    tmp_path: Path, database_url: str, upstream_mp4: bytes
) -> None:
    fake = OpenAIVideosFake(video=upstream_mp4, unavailable=1_000)  # every request: 502
    upstream = ThreadedUvicorn(fake.app(), lifespan="off")

    async def scenario() -> str | None:
        store = Store.open(database_url)
        clock = HandClock()
        async with httpx.AsyncClient() as client:
            engine = OpenAIVideosEngine(base_url=f"{upstream.url}/v1", api_key="k", client=client)
            task_id = new_task_id()
            await store.tasks.create(
                NewTask(
                    id=task_id,
                    tenant_id="t",
                    engine="wan",
                    request=VideoRequest(model="veo_3_1_fast", prompt="p"),
                    created_at=clock.now,
                    deadline_at=clock.now + 3600,
                )
            )
            claimed = await store.queue.claim_next("w", now=clock.now, lease_s=30)
            assert claimed is not None
            await store.queue.record_upstream_id(task_id, "w", upstream_id="video_1", now=clock.now)
            assert await store.queue.cancel(task_id, "t", now=clock.now)
            canceller = UpstreamCanceller(store=store, engines={"wan": engine}, clock=clock)
            tries = 0
            for _ in range(MAX_ATTEMPTS * 3):
                tries += await canceller.cancel_due()
                assert await canceller.cancel_due() == 0, "retried before its back-off ended"
                clock.now += 3600
            outcome = await store.upstream_cancels.outcome(task_id)
            assert tries == MAX_ATTEMPTS
        await store.close()
        return outcome

    try:
        assert asyncio.run(scenario()) == "gave_up"
    finally:
        upstream.stop()
    deletes = [r for r in fake.requests if r.method == "DELETE"]
    assert len(deletes) == MAX_ATTEMPTS
