"""Everything the sync and async clients share that does no I/O: request building, response
parsing, error mapping, the poll schedule and the download-resume bookkeeping."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vgen.client._errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    DownloadError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
)
from vgen.client._models import Task, TaskPage, UploadedFile
from vgen.wire.retry_after import poll_after_s
from vgen.wire.veo_task import MalformedResponse, RemoteStatus, read_error, read_task, unwrap

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
DEFAULT_POLL_S = 2.0
MAX_POLL_S = 30.0
MAX_BACKOFF_S = 30.0
PASS_THROUGH_PREFIXES = ("http://", "https://", "data:", "asset://")

ImageInput = str | Path


def auth_headers(api_key: str | None) -> dict[str, str]:
    headers = {"User-Agent": "vgen-python"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    return headers


def local_image(value: ImageInput) -> Path | None:
    """The local file to upload for `value`, or None when it passes through as a reference."""
    if isinstance(value, Path):
        return value
    if value.startswith(PASS_THROUGH_PREFIXES):
        return None
    return Path(value).expanduser()


def create_body(
    prompt: str,
    *,
    model: str,
    images: Mapping[str, str | list[str]],
    options: Mapping[str, Any],
) -> dict[str, Any]:
    """The JSON of `POST /v1/veo/videos`; unset options are left out."""
    body: dict[str, Any] = {"model": model, "prompt": prompt, **images}
    body.update({k: v for k, v in options.items() if v is not None})
    return body


def task_from_body(body: Any, *, expected_id: str | None = None, is_create: bool = False) -> Task:
    """A `Task` from any Veo-dialect response, reseller quirks included."""
    try:
        default = RemoteStatus.QUEUED if is_create else None
        remote = read_task(body, expected_id=expected_id, default_status=default)
    except MalformedResponse as exc:
        raise APIError(f"unexpected response: {exc}", status_code=200) from exc
    data = remote.body
    progress = remote.progress
    if progress is None:
        progress = 100 if remote.status == "completed" else 0
    return Task(
        id=remote.id,
        status=remote.status.value,
        progress=progress,
        model=_opt(data.get("model"), str),
        created=_opt_int(data.get("created") or data.get("created_at")),
        video_url=remote.video_url if remote.status == "completed" else None,
        actual_duration=_opt_float(data.get("actualDuration") or data.get("duration")),
        error=remote.error,
        completed_at=_opt_int(data.get("completed_at")),
        expires_at=_opt_int(data.get("expires_at")),
        engine=_opt(data.get("engine"), str),
        queue_position=_opt_int(data.get("queue_position")),
        eta_seconds=_opt_int(data.get("eta_seconds")),
        raw=dict(data),
    )


def page_from_body(body: Any) -> TaskPage:
    data = unwrap(body)
    items = data.get("data") if isinstance(data.get("data"), list) else data.get("items")
    tasks = [task_from_body(item) for item in items or []]
    return TaskPage(
        data=tasks,
        has_more=bool(data.get("has_more")),
        first_id=data.get("first_id") or (tasks[0].id if tasks else None),
        last_id=data.get("last_id") or (tasks[-1].id if tasks else None),
    )


def file_from_body(body: Any) -> UploadedFile:
    data = unwrap(body)
    file_id = data.get("id")
    if not isinstance(file_id, str):
        raise APIError("unexpected upload response: no file id", status_code=200)
    return UploadedFile(id=file_id, url=data.get("url") or f"asset://{file_id}")


def _opt(value: Any, kind: type) -> Any:
    return value if isinstance(value, kind) else None


def _opt_int(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _opt_float(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def parse_json(content: bytes) -> Any:
    try:
        return json.loads(content)
    except ValueError as exc:
        raise APIError(
            "the server answered with something that is not JSON", status_code=200
        ) from exc


def retry_after_s(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """The server's wait hint: `openai-poll-after-ms`, else `Retry-After` (seconds or a date)."""
    return poll_after_s(headers, now=time.time() if now is None else now)


_ERRORS_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: BadRequestError,
    413: BadRequestError,
    415: BadRequestError,
    422: BadRequestError,
}


def error_from_response(status: int, headers: Mapping[str, str], content: bytes) -> APIError:
    """The typed error for an error response, whatever shape its body has."""
    message, code, param = f"HTTP {status}", None, None
    try:
        body = json.loads(content)
    except ValueError:
        body = None
        text = content.decode("utf-8", "replace").strip()
        message = text[:300] or message
    if isinstance(body, Mapping):
        error = body.get("error")
        if isinstance(error, Mapping):
            code = _opt(error.get("code"), str)
            param = _opt(error.get("param"), str)
        message = read_error(unwrap(body) if "error" not in body else body) or message
    if status == 429:
        return RateLimitError(message, code=code, param=param, retry_after=retry_after_s(headers))
    cls = _ERRORS_BY_STATUS.get(status, ServerError if status >= 500 else APIError)
    return cls(message, status_code=status, code=code, param=param)


@dataclass
class Backoff:
    """Capped exponential back-off with full jitter, for 429s and network errors."""

    base_s: float = 1.0
    cap_s: float = MAX_BACKOFF_S
    failures: int = 0
    rng: random.Random = field(default_factory=random.Random)

    def next_delay(self, hint_s: float | None = None) -> float:
        self.failures += 1
        if hint_s is not None:
            return min(max(hint_s, 0.0), self.cap_s * 4)
        ceiling = min(self.cap_s, self.base_s * 2 ** (self.failures - 1))
        return self.rng.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self.failures = 0


def poll_delay(hint_s: float | None, *, default_s: float = DEFAULT_POLL_S) -> float:
    """How long to wait before the next status query: the server's hint when it gives one."""
    delay = default_s if hint_s is None else hint_s
    return min(max(delay, 0.2), MAX_POLL_S)


@dataclass
class DownloadProgress:
    """Bookkeeping for a resumable download into a temporary file.

    The twins do the I/O; this decides which `Range` to ask for and whether the result is whole.
    """

    received: int = 0
    total: int | None = None
    attempts: int = 0

    def request_headers(self) -> dict[str, str]:
        return {"Range": f"bytes={self.received}-"} if self.received else {}

    def on_response(self, status: int, headers: Mapping[str, str]) -> bool:
        """Record the response head; returns True when the file must restart from byte 0."""
        if status == 206:
            total = headers.get("content-range", "").rpartition("/")[2]
            self.total = int(total) if total.isdigit() else self.total
            start = headers.get("content-range", "").removeprefix("bytes ").partition("-")[0]
            if start.isdigit() and int(start) != self.received:
                raise DownloadError(f"server resumed at byte {start}, not {self.received}")
            return False
        length = headers.get("content-length")
        self.total = int(length) if length and length.isdigit() else None
        restart = self.received > 0
        self.received = 0
        return restart

    def is_complete(self) -> bool:
        return self.total is None or self.received == self.total

    def check_complete(self) -> None:
        if self.total is not None and self.received != self.total:
            raise DownloadError(f"got {self.received} of {self.total} bytes")


def part_path(target: Path) -> Path:
    """Where a download is written until it is whole, beside its target."""
    return target.with_name(f".{target.name}.part")


def image_fields(
    *,
    first_image: str | None,
    last_image: str | None,
    references: Sequence[str],
) -> dict[str, str | list[str]]:
    fields: dict[str, str | list[str]] = {}
    if first_image:
        fields["first_image"] = first_image
    if last_image:
        fields["last_image"] = last_image
    if references:
        fields["input_reference"] = list(references)
    return fields
