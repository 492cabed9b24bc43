"""The Prometheus series vgen exports on `GET /metrics` (API.md §3), defined in one place.

They live in prometheus-client's default registry, next to its process collectors (memory,
CPU, open files). Gauges that describe the task table are set from the store when scraped.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from vgen.request_tally import RequestTally, SeriesSpec

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)

# Counted on every request, the status polls included: plain numbers, no lock (`RequestTally`).
HTTP_REQUESTS = RequestTally(
    SeriesSpec(
        "vgen_http_requests_total",
        "HTTP requests answered, by route template and status code.",
        ("method", "route", "status"),
    ),
    SeriesSpec(
        "vgen_http_request_duration_seconds",
        "Time to answer an HTTP request, by route template.",
        ("method", "route"),
    ),
    buckets=_LATENCY_BUCKETS,
)
TASKS = Gauge("vgen_tasks", "Tasks in the store, by state and engine.", ["state", "engine"])
QUEUE_DEPTH = Gauge("vgen_queue_depth", "Tasks waiting to start (state queued).")
TASKS_FINISHED = Counter(
    "vgen_tasks_finished_total",
    "Tasks this process brought to an end, by engine and outcome.",
    ["engine", "outcome"],
)
ENGINE_LATENCY = Histogram(
    "vgen_engine_operation_duration_seconds",
    "Time of one engine operation (submit, poll, download, render), by engine.",
    ["engine", "operation"],
    buckets=_LATENCY_BUCKETS,
)
ENGINE_ERRORS = Counter(
    "vgen_engine_errors_total",
    "Engine operations that failed, by kind (transient: retried; rejected: task failed).",
    ["engine", "operation", "kind"],
)
UPSTREAM_REQUESTS = Counter(
    "vgen_upstream_requests_total",
    "HTTP requests sent to upstream providers, by engine target.",
    ["engine"],
)
TASK_UPSTREAM_CALLS = Histogram(
    "vgen_task_upstream_calls",
    "Upstream HTTP requests one task needed from submit to archived video, by engine.",
    ["engine"],
    buckets=(1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 50, 100),
)
WEBHOOK_DELIVERIES = Counter(
    "vgen_webhook_deliveries_total",
    "Webhook delivery attempts, by outcome (delivered, retry, gave_up).",
    ["outcome"],
)
STORAGE_FAULTS = Counter(
    "vgen_storage_faults_total",
    "Archive (disk or bucket) and local staging operations that failed; transient, retried.",
    ["operation"],
)
