"""The one error hierarchy of vgen. Errors carry data, never HTTP status codes.

VgenError
├── InvalidRequest          (a client sent something the contract forbids; names `param`)
│   ├── PayloadTooLarge     (a body, upload or image over its size limit)
│   └── UnsupportedMedia    (an image that is not jpeg/png/webp/gif/bmp)
├── AuthenticationFailed    (missing, unknown or revoked API key)
├── PermissionDenied        (a valid key asking for something it may not do, or a bad signature)
├── NotFound                (unknown id, or another tenant's id: the two look the same)
├── IdempotencyConflict     (an Idempotency-Key reused with a different body)
├── VideoNotReady           (a video's content asked for before it completed, or after it failed)
├── TaskFinished            (cancelling a task that already ended)
├── RateLimited             (a key over its request rate or in-flight limit; `retry_after_s`)
│   ├── QuotaExceeded       (a key over its daily video-seconds)
│   └── BudgetExceeded      (a task whose expected cost would pass the key's daily/monthly budget)
├── ServiceUnavailable      (no engine can take the model now; carries `retry_after_s`)
├── StoreError              (the database failed; never a client's fault)
├── StorageUnavailable      (transient: the archive (bucket or disk) refused or failed; no path)
└── EngineError             (an engine could not produce the video)
    ├── UpstreamUnavailable (transient: retry, honouring `retry_after_s`)
    └── UpstreamRejected    (permanent: fail the task with the message)
        └── ContentFiltered (the provider's safety filter blocked the output)
"""

from __future__ import annotations

import errno


class VgenError(Exception):
    """Base of every error vgen raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidRequest(VgenError):
    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.param = param
        self.code = code


class PayloadTooLarge(InvalidRequest):
    pass


class UnsupportedMedia(InvalidRequest):
    pass


class AuthenticationFailed(VgenError):
    pass


class PermissionDenied(VgenError):
    pass


class NotFound(VgenError):
    pass


class IdempotencyConflict(VgenError):
    pass


class VideoNotReady(VgenError):
    pass


class TaskFinished(VgenError):
    pass


class RateLimited(VgenError):
    def __init__(self, message: str, *, retry_after_s: float, code: str) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
        self.code = code


class QuotaExceeded(RateLimited):
    def __init__(self, message: str, *, retry_after_s: float) -> None:
        super().__init__(message, retry_after_s=retry_after_s, code="quota_exceeded")


class BudgetExceeded(RateLimited):
    def __init__(self, message: str, *, retry_after_s: float) -> None:
        super().__init__(message, retry_after_s=retry_after_s, code="budget_exceeded")


class ServiceUnavailable(VgenError):
    def __init__(self, message: str, *, retry_after_s: float = 30.0) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class StoreError(VgenError):
    pass


class StorageUnavailable(VgenError):
    """The archive could not be read or written (bucket down, write refused, disk full).

    Transient: the work is retried. The message names the operation and the reason, never a
    server path, bucket endpoint or key, so it is safe to show."""

    @classmethod
    def from_os_error(cls, action: str, exc: Exception) -> StorageUnavailable:
        """`action failed: <reason>`: the OS's reason (`strerror` of an `OSError` or an
        FFmpeg error) without the file name that `str(exc)` carries."""
        return cls(f"{action} failed: {getattr(exc, 'strerror', None) or exc.__class__.__name__}")


DISK_FAULT_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO})
"""OS errors that say the local disk (not the work itself) failed: full, read-only, broken."""


class EngineError(VgenError):
    pass


class UpstreamUnavailable(EngineError):
    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class UpstreamRejected(EngineError):
    pass


class ContentFiltered(UpstreamRejected):
    pass
