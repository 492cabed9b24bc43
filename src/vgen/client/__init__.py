"""The vgen Python SDK: `Client` (blocking) and `AsyncClient` (asyncio).

    from vgen.client import Client

    with Client("http://127.0.0.1:8000", api_key="vgen-sk-...") as client:
        task = client.generate("a lighthouse at dusk", output="lighthouse.mp4")

Works against any server of the Veo task dialect, resellers included.
"""

from vgen.client._async import AsyncClient
from vgen.client._base import DEFAULT_BASE_URL
from vgen.client._errors import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    BadRequestError,
    DownloadError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    TaskFailedError,
    VgenClientError,
    WaitTimeoutError,
)
from vgen.client._models import Task, TaskPage, UploadedFile
from vgen.client._sync import Client

__all__ = [
    "APIConnectionError",
    "APIError",
    "AsyncClient",
    "AuthenticationError",
    "BadRequestError",
    "Client",
    "DEFAULT_BASE_URL",
    "DownloadError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "ServerError",
    "Task",
    "TaskFailedError",
    "TaskPage",
    "UploadedFile",
    "VgenClientError",
    "WaitTimeoutError",
]
