"""Read-ahead: a producer thread runs an iterator up to `depth` items ahead of its consumer.

Invariant: items arrive in order; a producer exception is re-raised in the consumer; closing the
consumer stops and joins the producer thread.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

_POLL_S = 0.05  # how often a producer blocked on a full queue checks whether to give up


@dataclass(frozen=True)
class _Done:
    pass


@dataclass(frozen=True)
class _Failed:
    error: BaseException


def prefetched(items: Iterable[T], *, depth: int) -> Generator[T, None, None]:
    """Yield the items of `items`, computed on another thread up to `depth` items ahead.

    Rendering overlaps encoding this way because OpenCV and PyAV release the GIL in C code.
    """
    pending: queue.Queue[T | _Done | _Failed] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    producer = threading.Thread(
        target=_produce, args=(items, pending, stop), name="prefetch", daemon=True
    )
    producer.start()
    try:
        while True:
            item = pending.get()
            if isinstance(item, _Done):
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        stop.set()
        producer.join()


def _produce(
    items: Iterable[T], pending: queue.Queue[T | _Done | _Failed], stop: threading.Event
) -> None:
    try:
        for item in items:
            if not _put(pending, item, stop):
                return
    except BaseException as exc:  # handed to the consumer, which re-raises it
        _put(pending, _Failed(exc), stop)
        return
    _put(pending, _Done(), stop)


def _put(
    pending: queue.Queue[T | _Done | _Failed], item: T | _Done | _Failed, stop: threading.Event
) -> bool:
    """Block until there is room for `item`, or until the consumer has gone (returns False)."""
    while not stop.is_set():
        try:
            pending.put(item, timeout=_POLL_S)
            return True
        except queue.Full:
            continue
    return False
