"""Logging: one JSON object per line or plain text (the default on a terminal), and the task
id on every line logged while a task is being worked on.

Code that handles a task opens `task_context(task_id)`; a filter copies the id into every
record logged inside it (by vgen, httpx, anything), so `jq 'select(.task_id == "…")'` finds
the whole story of a task.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime

import orjson

_current_task: ContextVar[str | None] = ContextVar("vgen_task_id", default=None)
_STANDARD_FIELDS = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys() | {"message", "asctime"}
)


@contextlib.contextmanager
def task_context(task_id: str) -> Iterator[None]:
    token = _current_task.set(task_id)
    try:
        yield
    finally:
        _current_task.reset(token)


class TaskIdFilter(logging.Filter):
    """Adds `task_id` to records logged inside a `task_context` (unless given explicitly)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "task_id", None) is None:
            task_id = _current_task.get()
            if task_id is not None:
                record.task_id = task_id
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_FIELDS and not key.startswith("_"):
                entry[key] = value if isinstance(value, str | int | float | bool) else str(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry).decode()


class TextFormatter(logging.Formatter):
    """Plain lines that still carry the task id whenever a record is about a task."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        task_id = getattr(record, "task_id", None)
        return f"{line} task_id={task_id}" if task_id else line


def configure_logging(log_format: str | None = None, level: str = "INFO") -> None:
    """Log to stderr as `log_format` says; unset, a person at a terminal gets readable lines
    and anything else (a pipe, a file, a container's log driver) gets JSON."""
    handler = logging.StreamHandler()
    if log_format is None:
        log_format = "text" if handler.stream.isatty() else "json"
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(TaskIdFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # One line per upstream request is noise at INFO; warnings still show.
    logging.getLogger("httpx").setLevel(logging.WARNING)
