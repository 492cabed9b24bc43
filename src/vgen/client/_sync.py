"""`Client`: the blocking SDK. Its twin `AsyncClient` (in `_async.py`) mirrors it line for line;
both take every decision from `_base.py`."""

from __future__ import annotations

import builtins
import mimetypes
import os
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx

from vgen.client import _base
from vgen.client._errors import (
    APIConnectionError,
    DownloadError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    TaskFailedError,
    WaitTimeoutError,
)
from vgen.client._models import Task, TaskPage, UploadedFile
from vgen.domain.catalog import DEFAULT_MODEL

ProgressCallback = Callable[[Task], None]


class Client:
    """A blocking client of a vgen server (or any server of the Veo task dialect).

    Args:
        base_url: the server, e.g. `http://127.0.0.1:8000`.
        api_key: sent as `Authorization: Bearer <api_key>` to the API (never to video URLs).
        timeout: seconds for each HTTP request.
        max_retries: retries of one request on 429, 5xx and network errors.
        transport: an httpx transport (tests, proxies).
        sleep: how to wait (tests pass a recorder).
    """

    def __init__(
        self,
        base_url: str = _base.DEFAULT_BASE_URL,
        api_key: str | None = None,
        *,
        timeout: float = 60.0,
        max_retries: int = 5,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = _base.auth_headers(api_key)
        self._max_retries = max_retries
        self._sleep = sleep
        self._http = httpx.Client(timeout=timeout, transport=transport, follow_redirects=True)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _request(
        self, method: str, path: str, *, retries: int | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = {**self._headers, **kwargs.pop("headers", {})}
        backoff = _base.Backoff()
        retries = self._max_retries if retries is None else retries
        while True:
            try:
                response = self._http.request(
                    method, self.base_url + path, headers=headers, **kwargs
                )
            except httpx.TransportError as exc:
                if backoff.failures >= retries:
                    raise APIConnectionError(f"{method} {path}: {exc}") from exc
                self._sleep(backoff.next_delay())
                continue
            if response.status_code < 400:
                return response
            error = _base.error_from_response(
                response.status_code, response.headers, response.content
            )
            if not isinstance(error, RateLimitError | ServerError) or backoff.failures >= retries:
                raise error
            hint = error.retry_after if isinstance(error, RateLimitError) else None
            self._sleep(backoff.next_delay(hint))

    def upload(self, path: str | Path) -> UploadedFile:
        """Upload a local image; use the result's `url` (`asset://…`) as an image reference."""
        source = Path(path).expanduser()
        mime = mimetypes.guess_type(source.name)[0] or "application/octet-stream"
        files = {"file": (source.name, source.read_bytes(), mime)}
        response = self._request("POST", "/v1/files", files=files)
        return _base.file_from_body(_base.parse_json(response.content))

    def _reference(self, value: _base.ImageInput) -> str:
        local = _base.local_image(value)
        return self.upload(local).url if local is not None else str(value)

    def create(
        self,
        prompt: str,
        *,
        model: str = DEFAULT_MODEL,
        first_image: _base.ImageInput | None = None,
        last_image: _base.ImageInput | None = None,
        references: Sequence[_base.ImageInput] = (),
        idempotency_key: str | None = None,
        **options: Any,
    ) -> Task:
        """Create a task. Local image paths are uploaded first; URLs, `data:` URLs and
        `asset://` references pass through. Other options (`resolution`, `aspect_ratio`,
        `duration`, `negative_prompt`, `seed`, `callback_url`, `priority`) are sent as given.

        An `Idempotency-Key` is always sent (a fresh one unless given), so a retried create
        never makes a second task.
        """
        images = _base.image_fields(
            first_image=self._reference(first_image) if first_image else None,
            last_image=self._reference(last_image) if last_image else None,
            references=[self._reference(r) for r in references],
        )
        body = _base.create_body(prompt, model=model, images=images, options=options)
        key = idempotency_key or str(uuid.uuid4())
        response = self._request(
            "POST", "/v1/veo/videos", json=body, headers={"Idempotency-Key": key}
        )
        return _base.task_from_body(_base.parse_json(response.content), is_create=True)

    def get(self, task_id: str) -> Task:
        """The task's current state."""
        response = self._request("GET", f"/v1/result/{task_id}")
        return _base.task_from_body(_base.parse_json(response.content), expected_id=task_id)

    def list(self, *, limit: int = 20, after: str | None = None) -> TaskPage:
        """One page of your tasks, newest first."""
        params: dict[str, Any] = {"limit": limit, **({"after": after} if after else {})}
        response = self._request("GET", "/v1/veo/videos", params=params)
        return _base.page_from_body(_base.parse_json(response.content))

    def cancel(self, task_id: str) -> Task:
        """Cancel a queued or processing task (on servers that support it)."""
        response = self._request("POST", f"/v1/veo/videos/{task_id}/cancel")
        return _base.task_from_body(_base.parse_json(response.content), expected_id=task_id)

    def usage(self, *, from_: str | None = None, to: str | None = None) -> dict[str, Any]:
        """Your video-seconds and task counts per model and day (`from_`/`to`: YYYY-MM-DD)."""
        params = {k: v for k, v in {"from": from_, "to": to}.items() if v is not None}
        response = self._request("GET", "/v1/usage", params=params)
        return dict(_base.parse_json(response.content))

    def models(self) -> builtins.list[dict[str, Any]]:
        """The server's models (`GET /v1/videos/models`): per model its `id`, `description`,
        `resolutions`, `aspect_ratios`, `durations`, `image_modes`, `price` (or None),
        `typical_seconds` (or None), `available` and engine `targets`."""
        response = self._request("GET", "/v1/videos/models")
        return builtins.list(_base.parse_json(response.content)["data"])

    def create_key(self, **fields: Any) -> dict[str, Any]:
        """Admin: create an API key (`name`, `tenant_id`, `admin`, `rate_per_minute`,
        `max_inflight`, `daily_seconds`, `daily_budget`, `monthly_budget`, `weight`,
        `webhook_url`); the answer holds its secrets."""
        response = self._request("POST", "/v1/admin/keys", json=fields, retries=0)
        return dict(_base.parse_json(response.content))

    def list_keys(self) -> builtins.list[dict[str, Any]]:
        """Admin: every API key (without secrets)."""
        response = self._request("GET", "/v1/admin/keys")
        return builtins.list(_base.parse_json(response.content)["data"])

    def revoke_key(self, key_id: str) -> dict[str, Any]:
        """Admin: revoke an API key; it is refused from then on."""
        response = self._request("POST", f"/v1/admin/keys/{key_id}/revoke")
        return dict(_base.parse_json(response.content))

    def wait(
        self,
        task_id: str,
        *,
        on_progress: ProgressCallback | None = None,
        timeout: float | None = None,
    ) -> Task:
        """Poll until the task is terminal, at the pace the server asks for.

        Raises:
            TaskFailedError: the task failed.
            WaitTimeoutError: `timeout` seconds passed first.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        backoff = _base.Backoff()
        task: Task | None = None
        while True:
            hint: float | None = None
            try:
                response = self._request("GET", f"/v1/result/{task_id}", retries=0)
                task = _base.task_from_body(_base.parse_json(response.content), expected_id=task_id)
                hint, delay = None, _base.poll_delay(_base.retry_after_s(response.headers))
                backoff.reset()
                if on_progress is not None:
                    on_progress(task)
                if task.status == "failed":
                    raise TaskFailedError(task)
                if task.status == "completed":
                    return task
            except RateLimitError as exc:
                hint = exc.retry_after
                delay = backoff.next_delay(hint)
            except (APIConnectionError, ServerError):
                delay = backoff.next_delay()
            if deadline is not None and time.monotonic() + delay > deadline:
                last = task or Task(id=task_id, status="queued")
                raise WaitTimeoutError(last, timeout or 0)
            self._sleep(delay)

    def download(self, task: Task | str, path: str | Path) -> Path:
        """Download a completed task's video to `path`.

        Streams into a temporary file beside `path`, resumes with `Range` after a broken
        connection, checks the size, then renames; nothing is left at `path` on failure.
        """
        current = task if isinstance(task, Task) else self.get(task)
        target = Path(path).expanduser()
        part = _base.part_path(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            with part.open("wb") as handle:
                self._fetch_into(current, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(part, target)
        finally:
            part.unlink(missing_ok=True)
        return target

    def _fetch_into(self, task: Task, handle: Any) -> None:
        progress = _base.DownloadProgress()
        backoff = _base.Backoff()
        url, refreshed = self._video_url(task), False
        while True:
            try:
                with self._http.stream("GET", url, headers=progress.request_headers()) as response:
                    if response.status_code == 403 and not refreshed:
                        url, refreshed = self._video_url(self.get(task.id)), True
                        continue
                    if response.status_code >= 400:
                        response.read()
                        raise _base.error_from_response(
                            response.status_code, response.headers, response.content
                        )
                    if progress.on_response(response.status_code, response.headers):
                        handle.seek(0)
                        handle.truncate()
                    for chunk in response.iter_bytes():
                        handle.write(chunk)
                        progress.received += len(chunk)
                if progress.is_complete():
                    return
                problem = f"connection closed after {progress.received} bytes"
            except (httpx.TransportError, PermissionDeniedError) as exc:
                problem = str(exc)
            if backoff.failures >= self._max_retries:
                raise DownloadError(f"download of {task.id} failed: {problem}")
            self._sleep(backoff.next_delay())

    def _video_url(self, task: Task) -> str:
        if task.status != "completed" or not task.video_url:
            raise DownloadError(f"task {task.id} is {task.status}; it has no video to download")
        return task.video_url

    def generate(
        self,
        prompt: str,
        *,
        output: str | Path,
        on_progress: ProgressCallback | None = None,
        timeout: float | None = None,
        **create_options: Any,
    ) -> Task:
        """Create a task, wait for it, and download the video to `output`."""
        task = self.create(prompt, **create_options)
        done = self.wait(task.id, on_progress=on_progress, timeout=timeout)
        self.download(done, output)
        return done
