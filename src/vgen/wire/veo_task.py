"""A tolerant reader of Veo-task-dialect responses (ENGINES.md §2), shared by the SDK and the
relay engine so the quirks of resellers are handled in one place.

Accepts: the body wrapped in `{"code", "msg", "data": {...}}`; the id in `id`, `task_id` or
`taskId`; the URL in `video_url`, `result_url` or `url`; statuses in any case and as synonyms;
errors as a string, `{message, code}`, `message` or `msg`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class RemoteStatus(StrEnum):
    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"

    @property
    def is_terminal(self) -> bool:
        return self in (RemoteStatus.COMPLETED, RemoteStatus.FAILED)


_SYNONYMS = {
    RemoteStatus.QUEUED: {"queued", "pending", "submitted", "waiting", "created", "not_started"},
    RemoteStatus.PROCESSING: {
        "processing",
        "running",
        "in_progress",
        "inprogress",
        "generating",
        "started",
    },
    RemoteStatus.COMPLETED: {
        "completed",
        "complete",
        "succeeded",
        "success",
        "succeed",
        "successful",
        "done",
        "finished",
    },
    RemoteStatus.FAILED: {
        "failed",
        "failure",
        "fail",
        "error",
        "errored",
        "cancelled",
        "canceled",
        "expired",
        "rejected",
    },
}
_STATUS_BY_WORD = {word: status for status, words in _SYNONYMS.items() for word in words}


class MalformedResponse(ValueError):
    """The body does not look like a task at all (no id, or no recognisable status)."""


@dataclass(frozen=True)
class RemoteTask:
    id: str
    status: RemoteStatus
    progress: int | None = None
    video_url: str | None = None
    error: str | None = None
    body: Mapping[str, Any] = field(default_factory=dict)


def unwrap(body: Any) -> Mapping[str, Any]:
    """The task object inside an optional `{"code", "msg", "data": {...}}` envelope."""
    if not isinstance(body, Mapping):
        raise MalformedResponse(f"expected a JSON object, got {type(body).__name__}")
    data = body.get("data")
    if isinstance(data, Mapping) and not _task_id(body):
        return data
    return body


def parse_status(value: Any) -> RemoteStatus | None:
    if not isinstance(value, str):
        return None
    word = value.strip().lower().replace("-", "_").replace(" ", "_")
    return _STATUS_BY_WORD.get(word)


def read_task(
    body: Any, *, expected_id: str | None = None, default_status: RemoteStatus | None = None
) -> RemoteTask:
    """Read a create or query response into a `RemoteTask`.

    `default_status` applies when the body has no status at all (some resellers answer a
    create with only the id).

    Raises:
        MalformedResponse: no id (and none expected) or no recognisable status.
    """
    data = unwrap(body)
    task_id = _task_id(data) or expected_id
    if not task_id:
        raise MalformedResponse("the response names no task id")
    raw_status = data.get("status") or data.get("state")
    status = parse_status(raw_status) if raw_status is not None else default_status
    if status is None:
        raise MalformedResponse(f"unrecognised task status {data.get('status')!r}")
    return RemoteTask(
        id=task_id,
        status=status,
        progress=_progress(data.get("progress")),
        video_url=_first_str(data, "video_url", "result_url", "url"),
        error=read_error(data) if status is RemoteStatus.FAILED else None,
        body=data,
    )


def read_error(data: Mapping[str, Any]) -> str | None:
    """A human message from `error` (string or `{message, code}`), `message` or `msg`."""
    error = data.get("error")
    if isinstance(error, str) and error:
        return error
    if isinstance(error, Mapping):
        message = error.get("message") or error.get("msg")
        if isinstance(message, str) and message:
            return message
        code = error.get("code")
        if code is not None:
            return str(code)
    return _first_str(data, "message", "msg", "fail_reason", "failure_reason")


def _task_id(data: Mapping[str, Any]) -> str | None:
    value = data.get("id") or data.get("task_id") or data.get("taskId")
    return str(value) if isinstance(value, (str, int)) and value != "" else None


def _first_str(data: Mapping[str, Any], *names: str) -> str | None:
    for name in names:
        value = data.get(name)
        if isinstance(value, str) and value:
            return value
    return None


def _progress(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        value = value.strip().rstrip("%")
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, (int, float)):
        if 0 < value <= 1 and isinstance(value, float):
            value *= 100  # some servers report a fraction
        return max(0, min(100, int(value)))
    return None
