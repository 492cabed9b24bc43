"""Webhook delivery (API.md §4) against real receivers on loopback that verify every signature
with the `standardwebhooks` package: retries with back-off, giving up after 24 h of clock time,
restarts, target resolution and the outbound address policy (§5)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import anyio
import httpx
import pytest
import sqlalchemy as sa
from prometheus_client import REGISTRY

from tests.fakes.webhook_receiver import WebhookReceiver
from tests.support import HandClock, ThreadedUvicorn, free_port
from vgen.domain.ids import new_key_id, new_task_id, new_webhook_secret
from vgen.domain.requests import VideoRequest
from vgen.domain.states import TaskState
from vgen.domain.tasks import Task
from vgen.domain.webhooks import DeliveryState, EventType, WebhookEvent
from vgen.storage.signing import UrlSigner
from vgen.store.outbox import event_insert
from vgen.store.store import Store
from vgen.store.tables import api_keys, tasks, webhook_events
from vgen.store.tasks import NewTask
from vgen.wire.veo_task_body import task_body
from vgen.worker.webhooks import (
    RETRY_WINDOW_S,
    WebhookDeliverer,
    retry_delay_s,
    webhook_http_client,
)

pytestmark = pytest.mark.anyio

_STATE_OF = {
    EventType.COMPLETED: TaskState.COMPLETED,
    EventType.FAILED: TaskState.FAILED,
    EventType.CANCELLED: TaskState.CANCELLED,
}


@dataclass
class Rig:
    url: str
    store: Store
    clock: HandClock
    client: httpx.AsyncClient

    def deliverer(self, *, allow_private: bool = True, **options: Any) -> WebhookDeliverer:
        signer = UrlSigner(b"k" * 32, public_url="http://vgen.test")

        def render(task: Task, now: float) -> dict[str, Any]:
            # What the API wires: the §1.2 body with a freshly minted video URL.
            expires_at = int(now + 3600)
            url = signer.mint_url(f"{task.id}/video.mp4", expires_at=expires_at)
            return task_body(task, video_url=url, expires_at=expires_at)

        return WebhookDeliverer(
            store=self.store,
            client=self.client,
            render=render,
            clock=self.clock,
            allow_private=allow_private,
            jitter=lambda: 0.5,
            **options,
        )

    async def restart_store(self) -> None:
        await self.store.close()
        self.store = Store.open(self.url)

    async def add_key(self, *, webhook_url: str | None = None, secret: str | None = "new") -> str:
        key_id = new_key_id()
        await self.store.database.execute(
            sa.insert(api_keys).values(
                id=key_id,
                tenant_id="t",
                name="webhooks",
                secret_hash=key_id,
                is_admin=False,
                created_at=self.clock(),
                webhook_url=webhook_url,
                webhook_secret=new_webhook_secret() if secret == "new" else secret,
            )
        )
        return key_id

    async def key_secret(self, key_id: str) -> str:
        row = await self.store.database.fetch_one(
            sa.select(api_keys.c.webhook_secret).where(api_keys.c.id == key_id)
        )
        assert row is not None
        return str(row["webhook_secret"])

    async def add_event(
        self,
        key_id: str | None,
        *,
        callback_url: str | None = None,
        event_type: EventType = EventType.COMPLETED,
    ) -> tuple[str, str]:
        """A task that ended as `event_type` says, created by `key_id`, and its event."""
        task_id, now = new_task_id(), self.clock()
        request = VideoRequest(model="veo_3_1_fast", prompt="a hook", callback_url=callback_url)
        await self.store.tasks.create(
            NewTask(task_id, "t", "local", request, created_at=now, deadline_at=now + 600)
        )
        completed = event_type is EventType.COMPLETED
        await self.store.database.execute(
            sa.update(tasks)
            .where(tasks.c.id == task_id)
            .values(
                api_key_id=key_id,
                state=_STATE_OF[event_type].value,
                completed_at=now,
                progress=100 if completed else 0,
                artifact_key=f"{task_id}/video.mp4" if completed else None,
                archive_expires_at=now + 86400 if completed else None,
                video_seconds=8.0 if completed else None,
                error="render failed" if event_type is EventType.FAILED else None,
            )
        )
        insert, params = event_insert(
            task_id=task_id, tenant_id="t", event_type=event_type, now=now
        )
        async with self.store.database.transaction() as tx:
            row = await tx.fetch_one(insert.returning(webhook_events.c.id), params)
        assert row is not None
        return task_id, str(row["id"])

    async def event(self, event_id: str) -> WebhookEvent:
        event = await self.store.outbox.get(event_id)
        assert event is not None
        return event


@pytest.fixture
async def rig(database_url: str) -> AsyncIterator[Rig]:
    async with webhook_http_client() as client:
        rig = Rig(database_url, Store.open(database_url), HandClock(), client)
        yield rig
        await rig.store.close()


@pytest.fixture
def serve() -> Iterator[Callable[[WebhookReceiver], str]]:
    """Serve a receiver on loopback; returns its hook URL."""
    servers: list[ThreadedUvicorn] = []

    def start(receiver: WebhookReceiver) -> str:
        servers.append(ThreadedUvicorn(receiver.app(), lifespan="off"))
        return servers[-1].url + "/hooks/vgen"

    yield start
    for server in servers:
        server.stop()


def deliveries(outcome: str) -> float:
    value = REGISTRY.get_sample_value("vgen_webhook_deliveries_total", {"outcome": outcome})
    return value or 0.0


@pytest.mark.parametrize("event_type", list(EventType))
async def test_delivery_is_signed_per_standard_webhooks_and_carries_the_task_object(
    rig: Rig, serve: Callable[[WebhookReceiver], str], event_type: EventType
) -> None:
    receiver = WebhookReceiver()
    key_id = await rig.add_key(webhook_url=serve(receiver))
    receiver.secret = await rig.key_secret(key_id)
    task_id, event_id = await rig.add_event(key_id, event_type=event_type)
    before = deliveries("delivered")

    assert await rig.deliverer().deliver_due() == 1

    [delivery] = receiver.deliveries
    assert delivery.refusal is None
    assert delivery.path == "/hooks/vgen"
    assert delivery.headers["webhook-id"] == event_id
    assert delivery.headers["webhook-timestamp"] == str(int(rig.clock.now))
    assert delivery.headers["content-type"] == "application/json"
    payload = delivery.payload
    assert payload["type"] == event_type.value
    assert isinstance(payload["timestamp"], int)
    assert payload["data"]["id"] == payload["data"]["task_id"] == task_id
    if event_type is EventType.COMPLETED:
        assert payload["data"]["status"] == "completed"
        assert payload["data"]["video_url"].startswith(f"http://vgen.test/v1/files/{task_id}/")
    else:
        assert payload["data"]["status"] == "failed"
        assert payload["data"]["video_url"] is None
        expected = "cancelled" if event_type is EventType.CANCELLED else "render failed"
        assert payload["data"]["error"] == expected
    event = await rig.event(event_id)
    assert event.state is DeliveryState.DELIVERED
    assert (event.attempts, event.delivered_at, event.lease_owner) == (1, rig.clock.now, None)
    assert deliveries("delivered") == before + 1


async def test_receiver_that_fails_first_gets_the_event_exactly_once_after_backoff(
    rig: Rig, serve: Callable[[WebhookReceiver], str]
) -> None:
    receiver = WebhookReceiver(fail_first=2)
    key_id = await rig.add_key(webhook_url=serve(receiver))
    receiver.secret = await rig.key_secret(key_id)
    _, event_id = await rig.add_event(key_id)
    deliverer = rig.deliverer()
    retries_before = deliveries("retry")

    waits = []
    for _ in range(2):
        assert await deliverer.deliver_due() == 1
        event = await rig.event(event_id)
        assert event.state is DeliveryState.PENDING
        assert event.last_error == "the webhook URL answered HTTP 500"
        assert await deliverer.deliver_due() == 0  # not due again yet
        waits.append(event.next_attempt_at - rig.clock.now)
        rig.clock.now = event.next_attempt_at
    assert waits == [5.0, 10.0]  # jitter pinned to the middle of its spread
    assert await deliverer.deliver_due() == 1

    event = await rig.event(event_id)
    assert event.state is DeliveryState.DELIVERED
    assert (event.attempts, event.last_error) == (3, None)
    assert deliveries("retry") == retries_before + 2
    rig.clock.now += 2 * RETRY_WINDOW_S
    assert await deliverer.deliver_due() == 0
    # Every attempt was signed afresh (its own timestamp) under the same webhook-id.
    assert len(receiver.verified) == 3 and set(receiver.ids) == {event_id}


async def test_receiver_that_always_fails_is_given_up_24_hours_after_the_event(
    rig: Rig, serve: Callable[[WebhookReceiver], str]
) -> None:
    receiver = WebhookReceiver(status=503)
    key_id = await rig.add_key(webhook_url=serve(receiver))
    _, event_id = await rig.add_event(key_id)
    created = (await rig.event(event_id)).created_at
    deliverer = rig.deliverer()
    gave_up_before = deliveries("gave_up")

    waits: list[float] = []
    for _ in range(100):
        await deliverer.deliver_due()
        event = await rig.event(event_id)
        if event.state is not DeliveryState.PENDING:
            break
        waits.append(event.next_attempt_at - rig.clock.now)
        rig.clock.now = event.next_attempt_at

    assert event.state is DeliveryState.FAILED
    assert event.last_error == "the webhook URL answered HTTP 503"
    assert rig.clock.now == created + RETRY_WINDOW_S  # the last attempt is at the window's end
    assert waits[:4] == [5.0, 10.0, 20.0, 40.0]
    assert max(waits) == 3600.0
    assert event.attempts == len(receiver.deliveries) == len(waits) + 1
    assert deliveries("gave_up") == gave_up_before + 1
    rig.clock.now += 3600
    assert await deliverer.deliver_due() == 0


async def test_new_deliverer_after_a_restart_resends_what_a_dead_one_left_mid_request(
    rig: Rig, serve: Callable[[WebhookReceiver], str]
) -> None:
    receiver = WebhookReceiver(delay_first=1, delay_s=1.0)
    key_id = await rig.add_key(webhook_url=serve(receiver))
    receiver.secret = await rig.key_secret(key_id)
    _, event_id = await rig.add_event(key_id)
    dead = rig.deliverer(owner_id="dead", attempt_timeout_s=30)

    with anyio.move_on_after(0.3):  # killed while the receiver holds the request
        await dead.deliver_due()
    left = await rig.event(event_id)
    assert (left.state, left.lease_owner, left.attempts) == (DeliveryState.PENDING, "dead", 1)

    await rig.restart_store()
    successor = rig.deliverer(owner_id="successor")
    assert await successor.deliver_due() == 0  # the dead one's lease still holds
    rig.clock.now = left.next_attempt_at
    assert await successor.deliver_due() == 1

    event = await rig.event(event_id)
    assert (event.state, event.attempts, event.lease_owner) == (DeliveryState.DELIVERED, 2, None)
    # At least once: the receiver saw the event twice and can dedupe on webhook-id.
    assert receiver.ids == [event_id, event_id]


async def test_task_callback_url_beats_the_keys_webhook_url(
    rig: Rig, serve: Callable[[WebhookReceiver], str]
) -> None:
    key_receiver, task_receiver = WebhookReceiver(), WebhookReceiver()
    key_url, task_url = serve(key_receiver), serve(task_receiver)
    key_id = await rig.add_key(webhook_url=key_url)
    key_receiver.secret = task_receiver.secret = await rig.key_secret(key_id)
    with_callback, first = await rig.add_event(key_id, callback_url=task_url)
    without_callback, second = await rig.add_event(key_id)

    assert await rig.deliverer().deliver_due() == 2

    assert [p["data"]["id"] for p in task_receiver.verified] == [with_callback]
    assert [p["data"]["id"] for p in key_receiver.verified] == [without_callback]
    assert (await rig.event(first)).url == task_url
    assert (await rig.event(second)).url == key_url


@pytest.mark.parametrize("with_callback", [False, True])
async def test_event_of_a_task_deleted_before_delivery_still_goes_out(
    rig: Rig, serve: Callable[[WebhookReceiver], str], with_callback: bool
) -> None:
    key_receiver, task_receiver = WebhookReceiver(), WebhookReceiver()
    key_url, task_url = serve(key_receiver), serve(task_receiver)
    key_id = await rig.add_key(webhook_url=key_url)
    key_receiver.secret = task_receiver.secret = await rig.key_secret(key_id)
    task_id, now = new_task_id(), rig.clock()
    request = VideoRequest(
        model="veo_3_1_fast", prompt="gone", callback_url=task_url if with_callback else None
    )
    await rig.store.tasks.create(
        NewTask(task_id, "t", "local", request, now, now + 600, api_key_id=key_id)
    )
    # Ended through the queue, which writes the event; then deleted (OpenAI DELETE) at once.
    assert await rig.store.queue.claim_next("w", now=now, lease_s=30) is not None
    assert await rig.store.queue.fail(task_id, "w", error="boom", now=now)
    assert await rig.store.tasks.delete("t", task_id) is not None

    assert await rig.deliverer().deliver_due() == 1

    receiver = task_receiver if with_callback else key_receiver
    (payload,) = receiver.verified
    assert payload["type"] == "video.failed"
    assert payload["data"] == {"id": task_id, "status": "failed"}


@pytest.mark.parametrize(
    ("webhook_url", "secret", "reason"),
    [
        (None, "new", "no webhook target"),
        ("http://127.0.0.1:9/hook", None, "no webhook secret"),
        ("http://127.0.0.1:9/hook", "whsec_not*base64", "secret is unusable"),
    ],
)
async def test_event_that_cannot_be_sent_is_skipped(
    rig: Rig, webhook_url: str | None, secret: str | None, reason: str
) -> None:
    key_id = await rig.add_key(webhook_url=webhook_url, secret=secret)
    _, event_id = await rig.add_event(key_id)

    assert await rig.deliverer().deliver_due() == 1

    event = await rig.event(event_id)
    assert event.state is DeliveryState.SKIPPED
    assert event.last_error is not None and reason in event.last_error
    rig.clock.now += 60
    assert await rig.deliverer().deliver_due() == 0


async def test_event_of_a_task_created_without_a_key_is_skipped(
    rig: Rig, serve: Callable[[WebhookReceiver], str]
) -> None:
    receiver = WebhookReceiver()
    _, event_id = await rig.add_event(None, callback_url=serve(receiver))

    await rig.deliverer().deliver_due()

    event = await rig.event(event_id)
    assert event.state is DeliveryState.SKIPPED and receiver.deliveries == []


async def test_event_of_a_deleted_task_is_skipped(rig: Rig) -> None:
    key_id = await rig.add_key(webhook_url="http://127.0.0.1:9/hook")
    task_id, event_id = await rig.add_event(key_id)
    await rig.store.tasks.delete("t", task_id)

    await rig.deliverer().deliver_due()

    event = await rig.event(event_id)
    assert event.state is DeliveryState.SKIPPED
    assert event.last_error is not None and "deleted" in event.last_error


async def test_loopback_target_is_refused_unless_private_urls_are_allowed(
    rig: Rig, serve: Callable[[WebhookReceiver], str]
) -> None:
    receiver = WebhookReceiver()
    key_id = await rig.add_key(webhook_url=serve(receiver))
    _, event_id = await rig.add_event(key_id)

    assert await rig.deliverer(allow_private=False).deliver_due() == 1

    event = await rig.event(event_id)
    assert event.state is DeliveryState.PENDING and event.attempts == 1
    assert event.last_error is not None
    assert event.last_error.startswith("target refused: the host '127.0.0.1' resolves to an")
    assert "loopback" in event.last_error
    assert receiver.deliveries == []
    rig.clock.now = event.next_attempt_at
    await rig.deliverer(allow_private=True).deliver_due()
    assert (await rig.event(event_id)).state is DeliveryState.DELIVERED


@pytest.mark.parametrize(
    ("url", "error"),
    [
        (
            "http://169.254.169.254/hook",
            "target refused: the host '169.254.169.254' resolves to an",
        ),
        ("http://user:secret@127.0.0.1/hook", "the webhook URL may not contain credentials"),
        ("ftp://127.0.0.1/hook", "the webhook URL must use http or https"),
    ],
    ids=["link-local", "credentials", "scheme"],
)
async def test_refused_target_is_a_webhook_failure_not_an_image_error(
    rig: Rig, url: str, error: str
) -> None:
    key_id = await rig.add_key(webhook_url=url)
    _, event_id = await rig.add_event(key_id)

    assert await rig.deliverer(allow_private=True).deliver_due() == 1

    event = await rig.event(event_id)
    assert (event.state, event.attempts) == (DeliveryState.PENDING, 1)
    assert event.last_error is not None and event.last_error.startswith(error)
    assert "image" not in event.last_error


@pytest.mark.parametrize(
    ("knobs", "options", "error"),
    [
        ({"status": 307}, {}, "answered HTTP 307 (redirects are not followed)"),
        ({"delay_first": 1, "delay_s": 1.0}, {"attempt_timeout_s": 0.2}, "no answer within 0.2 s"),
    ],
    ids=["redirect", "timeout"],
)
async def test_attempt_that_gets_no_2xx_is_retried(
    rig: Rig,
    serve: Callable[[WebhookReceiver], str],
    knobs: dict[str, Any],
    options: dict[str, Any],
    error: str,
) -> None:
    receiver = WebhookReceiver(**knobs)
    key_id = await rig.add_key(webhook_url=serve(receiver))
    _, event_id = await rig.add_event(key_id)

    await rig.deliverer(**options).deliver_due()

    event = await rig.event(event_id)
    assert (event.state, event.attempts) == (DeliveryState.PENDING, 1)
    assert event.last_error is not None and event.last_error.endswith(error)
    assert len(receiver.deliveries) == 1  # a redirect is not followed


async def test_unreachable_target_is_retried(rig: Rig) -> None:
    key_id = await rig.add_key(webhook_url=f"http://127.0.0.1:{free_port()}/hook")
    _, event_id = await rig.add_event(key_id)

    await rig.deliverer().deliver_due()

    event = await rig.event(event_id)
    assert event.state is DeliveryState.PENDING
    assert event.last_error == "could not connect to the webhook URL"


async def test_cookies_a_receiver_sets_are_never_sent_back(
    rig: Rig, serve: Callable[[WebhookReceiver], str]
) -> None:
    receiver = WebhookReceiver(cookie="session=tenant-a; Path=/")
    key_id = await rig.add_key(webhook_url=serve(receiver))
    await rig.add_event(key_id)
    await rig.add_event(key_id)

    await rig.deliverer(concurrency=1).deliver_due()
    await rig.deliverer(concurrency=1).deliver_due()

    assert len(receiver.deliveries) == 2
    assert [d.headers.get("cookie") for d in receiver.deliveries] == [None, None]


async def test_running_deliverer_sends_an_event_when_woken(
    rig: Rig, serve: Callable[[WebhookReceiver], str]
) -> None:
    receiver = WebhookReceiver()
    key_id = await rig.add_key(webhook_url=serve(receiver))
    receiver.secret = await rig.key_secret(key_id)
    deliverer = rig.deliverer(idle_poll_s=60)

    async with anyio.create_task_group() as group:
        group.start_soon(deliverer.run)
        _, event_id = await rig.add_event(key_id)
        deliverer.wake()
        await wait_until(lambda: len(receiver.verified) == 1, message="the woken delivery")
        # The receiver has it; the deliverer records that just after: wait for the record.
        with anyio.move_on_after(10):
            while (await rig.event(event_id)).state is not DeliveryState.DELIVERED:
                await anyio.sleep(0.02)
        group.cancel_scope.cancel()
    assert (await rig.event(event_id)).state is DeliveryState.DELIVERED


async def wait_until(check: Callable[[], bool], *, message: str, timeout_s: float = 10) -> None:
    with anyio.move_on_after(timeout_s):
        while not check():
            await anyio.sleep(0.02)
        return
    pytest.fail(f"timed out after {timeout_s}s waiting for {message}")


def test_retry_delays_double_from_5_seconds_up_to_an_hour_with_jitter() -> None:
    assert [retry_delay_s(n, jitter=0.5) for n in range(1, 6)] == [5, 10, 20, 40, 80]
    assert retry_delay_s(11, jitter=0.5) == retry_delay_s(500, jitter=0.5) == 3600
    assert retry_delay_s(1, jitter=0.0) == 4.0 and retry_delay_s(1, jitter=0.999) < 6.0
