"""The SDK's one exception tree.

VgenClientError
├── APIError                 (the server answered with an error body)
│   ├── BadRequestError      (400, 409, 413, 415)
│   ├── AuthenticationError  (401)
│   ├── PermissionDeniedError (403)
│   ├── NotFoundError        (404)
│   ├── RateLimitError       (429; `retry_after`)
│   └── ServerError          (5xx)
├── APIConnectionError       (no answer: refused, reset, timed out)
├── TaskFailedError          (`wait` saw the task fail; `task`)
├── WaitTimeoutError         (`wait` gave up before the task finished; `task`)
└── DownloadError            (the video could not be fetched intact)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vgen.client._models import Task


class VgenClientError(Exception):
    """Base of every error the SDK raises."""


class APIError(VgenClientError):
    """The server answered with an error.

    Attributes:
        status_code: the HTTP status.
        message: the server's message.
        code: the machine-readable error code, if any.
        param: the request field the error is about, if any.
    """

    def __init__(
        self, message: str, *, status_code: int, code: str | None = None, param: str | None = None
    ) -> None:
        super().__init__(f"{status_code}: {message}")
        self.message = message
        self.status_code = status_code
        self.code = code
        self.param = param


class BadRequestError(APIError):
    """The request was invalid (400, 409, 413, 415); `param` names the field."""


class AuthenticationError(APIError):
    """The API key is missing, unknown or revoked (401)."""


class PermissionDeniedError(APIError):
    """The key may not do this, or a signed URL is invalid or expired (403)."""


class NotFoundError(APIError):
    """No such task or file for this key (404)."""


class RateLimitError(APIError):
    """Too many requests (429); `retry_after` is the server's wait in seconds, if given."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int = 429,
        code: str | None = None,
        param: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status_code=status_code, code=code, param=param)
        self.retry_after = retry_after


class ServerError(APIError):
    """The server failed (5xx); usually worth retrying later."""


class APIConnectionError(VgenClientError):
    """The server could not be reached or did not answer in time."""


class TaskFailedError(VgenClientError):
    """The task ended `failed`; `task` holds it and `task.error` says why."""

    def __init__(self, task: Task) -> None:
        super().__init__(f"task {task.id} failed: {task.error or 'no reason given'}")
        self.task = task


class WaitTimeoutError(VgenClientError):
    """`wait` ran out of time; the task (last seen state in `task`) may still finish."""

    def __init__(self, task: Task, timeout: float) -> None:
        super().__init__(f"task {task.id} still {task.status} after {timeout:g}s")
        self.task = task


class DownloadError(VgenClientError):
    """The video could not be downloaded intact (nothing is left at the target path)."""
