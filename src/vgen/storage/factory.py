"""Which archive the settings name (`VGEN_STORAGE_URL`), built once at start-up.

Invariant: S3 credentials come only from the standard AWS chain (environment, shared profile,
instance or task role); vgen has no credential settings of its own.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from vgen.config import Settings
from vgen.storage.base import ArchiveStorage
from vgen.storage.local_disk import LocalDiskStorage

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_URL_FORMS = "file:///absolute/path, s3://bucket or s3://bucket/prefix"


def open_storage(settings: Settings) -> ArchiveStorage:
    """The archive of `settings`: the data dir's `archive/` when `storage_url` is unset.

    Raises:
        ValueError: `storage_url` is not one of the accepted forms (the message says which).
    """
    url = settings.storage_url
    if not url:
        return LocalDiskStorage(settings.data_dir / "archive")
    parts = urlsplit(url)
    if parts.scheme == "file":
        path = unquote(parts.path)
        if parts.netloc not in ("", "localhost") or not path.startswith("/"):
            raise ValueError(f"VGEN_STORAGE_URL={url!r}: expected {_URL_FORMS}")
        return LocalDiskStorage(Path(path))
    if parts.scheme == "s3":
        if not parts.netloc or parts.query or parts.fragment:
            raise ValueError(f"VGEN_STORAGE_URL={url!r}: expected {_URL_FORMS}")
        # Imported here so the default (local disk) start-up does not pay for importing boto3.
        from vgen.storage.s3 import S3Storage

        prefix = parts.path.strip("/")
        return S3Storage(
            s3_client(endpoint_url=settings.s3_endpoint_url, region=settings.s3_region),
            bucket=parts.netloc,
            prefix=f"{prefix}/" if prefix else "",
            staging=settings.data_dir / "staging",
            presigned_urls=settings.s3_presigned_urls,
        )
    raise ValueError(f"VGEN_STORAGE_URL={url!r}: expected {_URL_FORMS}")


def s3_client(*, endpoint_url: str | None, region: str | None) -> S3Client:
    """One boto3 S3 client (thread-safe; shared by every transfer of the process)."""
    import boto3
    from botocore.config import Config

    config = Config(
        retries={"max_attempts": 3, "mode": "standard"},
        connect_timeout=5,
        read_timeout=60,
        # Enough connections for several multipart transfers at once (8 parts each).
        max_pool_connections=32,
        # MinIO, moto and most S3-compatible servers want bucket names in the path, not the host.
        s3={"addressing_style": "path"} if endpoint_url else None,
    )
    return boto3.session.Session().client(
        "s3", endpoint_url=endpoint_url, region_name=region, config=config
    )
