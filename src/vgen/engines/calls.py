"""Accounting of upstream calls: every HTTP request an engine sends is counted for the task it
serves, and every engine operation is timed, for `/metrics`.

The worker opens `counting_calls` around one attempt at a task; the shared upstream HTTP client
reports each request through `count_request` (an httpx event hook). A context variable ties the
two together, so engines need not thread a counter through every call.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import httpx

from vgen.domain.errors import UpstreamUnavailable
from vgen.metrics import ENGINE_ERRORS, ENGINE_LATENCY, UPSTREAM_REQUESTS


@dataclass
class AttemptCalls:
    """Requests sent during one attempt at one task, not yet written to its row."""

    engine: str
    pending: int = 0

    def take(self) -> int:
        """The count not yet persisted; resets it, so a count is never added twice."""
        taken, self.pending = self.pending, 0
        return taken


_current: ContextVar[AttemptCalls | None] = ContextVar("vgen_attempt_calls", default=None)


@contextmanager
def counting_calls(engine: str) -> Iterator[AttemptCalls]:
    calls = AttemptCalls(engine)
    token = _current.set(calls)
    try:
        yield calls
    finally:
        _current.reset(token)


async def count_request(request: httpx.Request) -> None:
    """httpx `request` event hook of the upstream client."""
    calls = _current.get()
    if calls is not None:
        calls.pending += 1
        UPSTREAM_REQUESTS.labels(calls.engine).inc()


@contextmanager
def timed_operation(engine: str, operation: str) -> Iterator[None]:
    """Observe the latency of one operation, and count it as an error if it raises."""
    started = time.perf_counter()
    try:
        yield
    except UpstreamUnavailable:
        ENGINE_ERRORS.labels(engine, operation, "transient").inc()
        raise
    except Exception:
        ENGINE_ERRORS.labels(engine, operation, "rejected").inc()
        raise
    finally:
        ENGINE_LATENCY.labels(engine, operation).observe(time.perf_counter() - started)
