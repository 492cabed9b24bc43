"""`RequestTally`: HTTP requests counted and timed in plain numbers, exported as Prometheus series.

prometheus-client's `Counter.inc` and `Histogram.observe` each take a lock (about a microsecond
of a status poll together); requests are counted on the event loop's thread alone, so plain
numbers do. Invariant: the exposition is sample for sample that of a labelled `Counter` and
`Histogram` of the same names, labels and buckets (a test compares the two).
"""

from __future__ import annotations

import bisect
import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from prometheus_client import metrics as prometheus_metrics
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import REGISTRY, CollectorRegistry
from prometheus_client.utils import floatToGoString

_TOTAL = "_total"


@dataclass(frozen=True)
class SeriesSpec:
    """A metric family as prometheus-client's constructors take it."""

    name: str
    documentation: str
    labelnames: tuple[str, ...]


class RequestCount:
    """The requests of one (method, route, status)."""

    __slots__ = ("created", "value")

    def __init__(self) -> None:
        self.value = 0
        self.created = time.time()


class RequestLatency:
    """The latency histogram of one (method, route): per-bucket (not cumulative) counts."""

    __slots__ = ("_bounds", "buckets", "created", "total_s")

    def __init__(self, bounds: Sequence[float]) -> None:
        self._bounds = bounds
        self.buckets = [0] * len(bounds)
        self.total_s = 0.0
        self.created = time.time()

    def observe(self, seconds: float) -> None:
        # Bucket i holds what is <= bounds[i] (Prometheus' `le`), as `Histogram.observe` does.
        self.buckets[bisect.bisect_left(self._bounds, seconds)] += 1
        self.total_s += seconds


class RequestTally:
    """A prometheus-client collector of two families: a counter of requests by `count.labelnames`
    and a histogram of their latency by `latency.labelnames`."""

    def __init__(
        self,
        count: SeriesSpec,
        latency: SeriesSpec,
        *,
        buckets: Sequence[float],
        registry: CollectorRegistry | None = REGISTRY,
    ) -> None:
        self._count = count
        self._latency = latency
        self._bounds = (*sorted(buckets), math.inf)
        # The `le` label values, spelled as `Histogram` spells them ("+Inf", "1.0").
        self._le = tuple(floatToGoString(bound) for bound in self._bounds)  # type: ignore[no-untyped-call]
        self._counts: dict[tuple[str, ...], RequestCount] = {}
        self._latencies: dict[tuple[str, ...], RequestLatency] = {}
        if registry is not None:
            registry.register(self)

    def series(
        self, count_labels: tuple[str, ...], latency_labels: tuple[str, ...]
    ) -> tuple[RequestCount, RequestLatency]:
        """The count and latency of one label set, created on first use (as `labels()` does);
        callers keep them, the lookup costs more than an update."""
        count = self._counts.get(count_labels)
        if count is None:
            count = self._counts.setdefault(count_labels, RequestCount())
        latency = self._latencies.get(latency_labels)
        if latency is None:
            latency = self._latencies.setdefault(latency_labels, RequestLatency(self._bounds))
        return count, latency

    def describe(self) -> Iterable[Metric]:
        return [self._metric(self._count, "counter"), self._metric(self._latency, "histogram")]

    def collect(self) -> Iterable[Metric]:
        # Follows the library's switch (`disable_created_metrics()`, or its environment variable).
        with_created = bool(getattr(prometheus_metrics, "_use_created", True))
        counter = self._metric(self._count, "counter")
        for labels, count in list(self._counts.items()):
            named = dict(zip(self._count.labelnames, labels, strict=True))
            counter.add_sample(counter.name + _TOTAL, named, float(count.value))
            if with_created:
                counter.add_sample(counter.name + "_created", named, count.created)
        histogram = self._metric(self._latency, "histogram")
        for labels, latency in list(self._latencies.items()):
            self._add_histogram(histogram, labels, latency, with_created=with_created)
        return [counter, histogram]

    def _add_histogram(
        self,
        histogram: Metric,
        labels: tuple[str, ...],
        latency: RequestLatency,
        *,
        with_created: bool,
    ) -> None:
        named = dict(zip(self._latency.labelnames, labels, strict=True))
        cumulative = 0.0
        for le, in_bucket in zip(self._le, list(latency.buckets), strict=True):
            cumulative += in_bucket
            histogram.add_sample(histogram.name + "_bucket", {**named, "le": le}, cumulative)
        histogram.add_sample(histogram.name + "_count", named, cumulative)
        histogram.add_sample(histogram.name + "_sum", named, latency.total_s)
        if with_created:
            histogram.add_sample(histogram.name + "_created", named, latency.created)

    @staticmethod
    def _metric(spec: SeriesSpec, kind: str) -> Metric:
        # A counter's family is named without `_total`, as `Counter` names it.
        name = spec.name.removesuffix(_TOTAL) if kind == "counter" else spec.name
        return Metric(name, spec.documentation, kind)
