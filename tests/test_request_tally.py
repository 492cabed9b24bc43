"""`RequestTally` exports exactly what a labelled prometheus-client `Counter` and `Histogram`
of the same names, labels and buckets export for the same requests (only the `_created`
timestamps differ: each side stamps its own series when first used)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    enable_created_metrics,
    generate_latest,
)

from vgen.request_tally import RequestTally, SeriesSpec

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
COUNT = SeriesSpec("t_requests_total", "Requests.", ("method", "route", "status"))
LATENCY = SeriesSpec("t_request_duration_seconds", "Latency.", ("method", "route"))
# On a bound, between bounds, past the last bound, zero; several label sets, one of them twice.
REQUESTS = [
    ("GET", "/v1/result/{task_id}", "200", 0.005),
    ("GET", "/v1/result/{task_id}", "200", 0.0000731),
    ("GET", "/v1/result/{task_id}", "404", 1.0),
    ("POST", "/veo/videos", "200", 0.0375),
    ("OTHER", "unmatched", "405", 0.0),
    ("GET", "/v1/result/{task_id}", "200", 250.0),
    ("POST", "/veo/videos", "429", 7.5),
]
_CREATED = re.compile(r"^(\w+_created\{.*\}) \S+$", re.MULTILINE)


def exposition_of_prometheus_client() -> str:
    registry = CollectorRegistry()
    counter = Counter(COUNT.name, COUNT.documentation, COUNT.labelnames, registry=registry)
    histogram = Histogram(
        LATENCY.name, LATENCY.documentation, LATENCY.labelnames, registry=registry, buckets=BUCKETS
    )
    for method, route, status, seconds in REQUESTS:
        counter.labels(method, route, status).inc()
        histogram.labels(method, route).observe(seconds)
    return generate_latest(registry).decode()


def exposition_of_tally() -> str:
    registry = CollectorRegistry()
    tally = RequestTally(COUNT, LATENCY, buckets=BUCKETS, registry=registry)
    for method, route, status, seconds in REQUESTS:
        count, latency = tally.series((method, route, status), (method, route))
        count.value += 1
        latency.observe(seconds)
    return generate_latest(registry).decode()


def without_created_values(text: str) -> str:
    return _CREATED.sub(r"\1 <created>", text)


@pytest.fixture
def created_series_off() -> Iterator[None]:
    disable_created_metrics()
    try:
        yield
    finally:
        enable_created_metrics()


def test_tally_exposition_equals_counter_and_histogram_sample_for_sample() -> None:
    expected = exposition_of_prometheus_client()
    found = exposition_of_tally()
    assert len(_CREATED.findall(found)) == len(_CREATED.findall(expected)) > 0
    assert without_created_values(found) == without_created_values(expected)
    assert 't_request_duration_seconds_bucket{le="+Inf",method="GET"' in found


def test_tally_follows_the_library_when_created_series_are_off(created_series_off: None) -> None:
    found = exposition_of_tally()
    assert "_created" not in found
    assert found == exposition_of_prometheus_client()


def test_a_second_tally_of_the_same_names_is_refused() -> None:
    registry = CollectorRegistry()
    RequestTally(COUNT, LATENCY, buckets=BUCKETS, registry=registry)
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        Counter(COUNT.name, COUNT.documentation, COUNT.labelnames, registry=registry)
