"""S3-compatible archive (AWS S3, MinIO, R2, GCS interoperability) through one boto3 client.

Invariant: every boto3 call runs in a worker thread, and every boto3/botocore fault leaves this
module as `StorageUnavailable` whose message names no endpoint, bucket, key or local path.
"""

from __future__ import annotations

import mimetypes
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import anyio.to_thread
from boto3.exceptions import Boto3Error
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
    ReadTimeoutError,
    ResponseStreamingError,
)

from vgen.domain.errors import StorageUnavailable
from vgen.metrics import STORAGE_FAULTS
from vgen.storage.base import ByteRange, checked_key, clamp_range

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_MISSING = frozenset({"404", "NoSuchKey", "NotFound"})
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")
# SigV4 presigned URLs live at most 7 days.
_MAX_PRESIGN_S = 7 * 24 * 3600
_MIB = 1024 * 1024


def default_transfer_config() -> TransferConfig:
    """boto3's defaults, which the AWS CLI uses too: multipart above 8 MiB, 8 MiB parts, 10 in
    flight (up to 80 GB in S3's 10,000 parts; bigger parts measured no faster here)."""
    return TransferConfig(multipart_threshold=8 * _MIB, multipart_chunksize=8 * _MIB)


class S3Storage:
    def __init__(
        self,
        client: S3Client,
        *,
        bucket: str,
        prefix: str = "",
        staging: Path,
        presigned_urls: bool = False,
        transfer: TransferConfig | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Args:
        client: a boto3 S3 client, built once (`storage.factory.s3_client`); thread-safe.
        bucket: the bucket; it must exist.
        prefix: prepended to every key ("" or ending in "/").
        staging: the local directory for files being produced (always local disk).
        presigned_urls: whether `presigned_url` answers (VGEN_S3_PRESIGNED_URLS).
        transfer: multipart settings for uploads and downloads.
        clock: wall clock (unix s) used to turn `expires_at` into a presigned lifetime.
        """
        self._client = client
        self._bucket = bucket
        self._prefix = prefix
        self._staging = staging
        self._presign = presigned_urls
        self._transfer = transfer or default_transfer_config()
        self._clock = clock
        with _translated("setup"):
            staging.mkdir(parents=True, exist_ok=True)

    def _key(self, key: str) -> str:
        return self._prefix + checked_key(key)

    async def put_file(self, key: str, source: Path) -> int:
        full = self._key(key)

        def upload() -> int:
            size = source.stat().st_size
            self._client.upload_file(
                str(source),
                self._bucket,
                full,
                ExtraArgs={"ContentType": _content_type(key)},
                Config=self._transfer,
            )
            source.unlink()
            return size

        with _translated("write"):
            return await anyio.to_thread.run_sync(upload)

    async def put_bytes(self, key: str, data: bytes) -> None:
        full = self._key(key)

        def put() -> None:
            self._client.put_object(
                Bucket=self._bucket, Key=full, Body=data, ContentType=_content_type(key)
            )

        with _translated("write"):
            await anyio.to_thread.run_sync(put)

    async def open_range(
        self, key: str, *, start: int = 0, end: int | None = None
    ) -> ByteRange | None:
        full = self._key(key)
        with _translated("read"):
            return await anyio.to_thread.run_sync(self._get_range, full, start, end)

    def _get_range(self, full: str, start: int, end: int | None) -> ByteRange | None:
        header = _range_header(start, end)
        if header == "":
            return self._empty_range(full, start, end)
        try:
            if header is None:
                response = self._client.get_object(Bucket=self._bucket, Key=full)
            else:
                response = self._client.get_object(Bucket=self._bucket, Key=full, Range=header)
        except ClientError as exc:
            if _code(exc) in _MISSING:
                return None
            if _code(exc) == "InvalidRange":
                return self._empty_range(full, start, end)
            raise
        body = response["Body"]
        total, first, last = _span(response.get("ContentRange"), response["ContentLength"])

        def read(size: int) -> bytes:
            with _translated("read"):
                return body.read(size)

        return ByteRange(total_bytes=total, start=first, end=last, read=read, close=body.close)

    def _empty_range(self, full: str, start: int, end: int | None) -> ByteRange | None:
        """A range selecting nothing (a start past the end, an empty object): S3 answers
        InvalidRange or has no syntax for it, but the caller still needs the object's size."""
        total = self._head_size(full)
        if total is None:
            return None
        first, _ = clamp_range(total, start=start, end=end)
        return ByteRange(total_bytes=total, start=first, end=first, read=_no_bytes, close=_noop)

    def _head_size(self, full: str) -> int | None:
        try:
            return self._client.head_object(Bucket=self._bucket, Key=full)["ContentLength"]
        except ClientError as exc:
            if _code(exc) in _MISSING:
                return None
            raise

    async def fetch_to(self, key: str, target: Path) -> bool:
        full = self._key(key)

        def download() -> bool:
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".fetch-")
            os.close(fd)
            try:
                self._client.download_file(self._bucket, full, tmp, Config=self._transfer)
                os.replace(tmp, target)
            except ClientError as exc:
                Path(tmp).unlink(missing_ok=True)
                if _code(exc) in _MISSING:
                    return False
                raise
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            return True

        with _translated("read"):
            return await anyio.to_thread.run_sync(download)

    async def size(self, key: str) -> int | None:
        full = self._key(key)
        with _translated("read"):
            return await anyio.to_thread.run_sync(self._head_size, full)

    async def exists(self, key: str) -> bool:
        return await self.size(key) is not None

    async def delete(self, key: str) -> None:
        full = self._key(key)

        def delete() -> None:
            # S3 answers 204 for an absent key too: deleting is idempotent.
            self._client.delete_object(Bucket=self._bucket, Key=full)

        with _translated("delete"):
            await anyio.to_thread.run_sync(delete)

    async def list_keys(self, prefix: str) -> list[str]:
        full = self._prefix + prefix

        def list_() -> list[str]:
            pages = self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self._bucket, Prefix=full
            )
            keys = (obj["Key"] for page in pages for obj in page.get("Contents", []))
            return sorted(k.removeprefix(self._prefix) for k in keys)

        with _translated("list"):
            return await anyio.to_thread.run_sync(list_)

    async def check(self) -> None:
        with _translated("check"):
            await anyio.to_thread.run_sync(lambda: self._client.head_bucket(Bucket=self._bucket))

    def presigned_url(self, key: str, *, expires_at: int) -> str | None:
        if not self._presign:
            return None
        # Signing is local computation (no request); credentials were resolved when the client
        # was built, so this stays on the event loop like minting a vgen-signed URL does.
        expires_in = max(1, min(expires_at - int(self._clock()), _MAX_PRESIGN_S))
        with _translated("presign"):
            return self._client.generate_presigned_url(
                "get_object",
                Params={"Bucket": self._bucket, "Key": self._key(key)},
                ExpiresIn=expires_in,
            )

    def staging_dir(self) -> Path:
        return self._staging


def _no_bytes(_size: int) -> bytes:
    return b""


def _noop() -> None:
    return None


def _content_type(key: str) -> str:
    return mimetypes.guess_type(key)[0] or "application/octet-stream"


def _range_header(start: int, end: int | None) -> str | None:
    """The HTTP Range for `[start, end)`: None for the whole object, "" for an empty one."""
    if start < 0:
        return f"bytes={start}"
    if end is None:
        return None if start == 0 else f"bytes={start}-"
    if end <= start:
        return ""
    return f"bytes={start}-{end - 1}"


def _span(content_range: str | None, content_length: int) -> tuple[int, int, int]:
    """(total, first, end) of a GET answer: a 206's Content-Range, else the whole object."""
    match = _CONTENT_RANGE.fullmatch(content_range or "")
    if match is None:
        return content_length, 0, content_length
    first, last, total = (int(group) for group in match.groups())
    return total, first, last + 1


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "unknown"))


def _reason(exc: BaseException) -> str:
    """Why an S3 call failed, in words that carry no endpoint, bucket, key or path."""
    if isinstance(exc, Boto3Error) and isinstance(exc.__context__, ClientError):
        exc = exc.__context__  # upload_file wraps the ClientError in S3UploadFailedError
    if isinstance(exc, ClientError):
        return f"the bucket answered {_code(exc)}"
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return "no AWS credentials (environment, profile or instance role)"
    if isinstance(exc, ReadTimeoutError):
        return "the storage endpoint timed out"
    if isinstance(exc, ConnectionError):
        return "the storage endpoint is unreachable"
    if isinstance(exc, ResponseStreamingError):
        return "the connection broke during the transfer"
    if isinstance(exc, OSError) and exc.errno:
        return os.strerror(exc.errno)  # the local staging file, e.g. a full disk
    return type(exc).__name__


@contextmanager
def _translated(action: str) -> Iterator[None]:
    try:
        yield
    except (BotoCoreError, ClientError, Boto3Error, OSError) as exc:
        STORAGE_FAULTS.labels(action).inc()
        raise StorageUnavailable(f"archive {action} failed: {_reason(exc)}") from exc
