"""`GET /metrics` through a live server whose Veo models go to a fake reseller: upstream calls
per task, engine operations, tasks by state and engine, HTTP requests by route template."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.api.test_veo_lifecycle import poll_until_done
from tests.fakes.reseller import ResellerFake
from tests.support import LiveServer, serving
from vgen.config import Settings

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def reseller(upstream_mp4: bytes) -> Iterator[ResellerFake]:
    with serving(ResellerFake(video=upstream_mp4, polls_until_done=2)) as fake:
        yield fake


def scrape(client: httpx.Client) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_metrics_report_upstream_calls_per_task_and_engine_operations(
    settings: Settings, make_server: Callable[..., LiveServer], reseller: ResellerFake
) -> None:
    server = make_server(
        settings.model_copy(
            update={
                "relay_base_url": reseller.base_url,
                "relay_first_poll_seconds": 0.1,
                "relay_poll_interval_seconds": 0.1,
                "worker_idle_poll_seconds": 0.1,
            }
        )
    )
    with server.client() as client:
        before = scrape(client)
        created = client.post("/v1/veo/videos", json={"model": "veo_3_1_fast", "prompt": "m"})
        done = poll_until_done(client, created.json()["id"], timeout_s=60)[-1]
        assert done["status"] == "completed", done
        after = scrape(client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    # submit + 2 polls + download, all seen by the fake and all counted for the task
    assert reseller.requests_seen == 4
    assert delta("vgen_task_upstream_calls_count", engine="relay") == 1
    assert delta("vgen_task_upstream_calls_sum", engine="relay") == reseller.requests_seen
    assert delta("vgen_upstream_requests_total", engine="relay") == reseller.requests_seen
    for operation, count in (("submit", 1), ("poll", 2), ("download", 1)):
        name = "vgen_engine_operation_duration_seconds_count"
        assert delta(name, engine="relay", operation=operation) == count, operation
    assert delta("vgen_tasks_finished_total", engine="relay", outcome="completed") == 1
    assert value(after, "vgen_tasks", state="completed", engine="relay") >= 1
    assert "vgen_queue_depth" in {name for name, _ in after}
    polls = delta(
        "vgen_http_requests_total", method="GET", route="/v1/result/{task_id}", status="200"
    )
    assert polls >= 1
    creates = delta("vgen_http_requests_total", method="POST", route="/veo/videos", status="200")
    assert creates == 1
    routes = {dict(labels).get("route", "") for _, labels in after}
    assert not any("vgen_" in route for route in routes), "raw ids leaked into route labels"


def test_metrics_token_protects_the_endpoint_when_set(
    settings: Settings, make_server: Callable[..., LiveServer]
) -> None:
    server = make_server(settings.model_copy(update={"metrics_token": "scrape-me"}))
    with httpx.Client(base_url=server.url) as anonymous:
        refused = anonymous.get("/metrics")
        assert refused.status_code == 401
        assert refused.json()["error"]["type"]
        wrong = anonymous.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        allowed = anonymous.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
        assert allowed.status_code == 200 and "vgen_http_requests_total" in allowed.text


def test_metrics_need_no_key_by_default(server: LiveServer) -> None:
    with httpx.Client(base_url=server.url) as anonymous:
        response = anonymous.get("/metrics")
    assert response.status_code == 200
    assert "process_resident_memory_bytes" in response.text
