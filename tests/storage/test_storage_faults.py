"""Archive faults surface as the one domain error, `StorageUnavailable`, whose message names
the operation and the reason but no local path, endpoint, bucket or key."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.s3 import Bucket, S3TestServer
from tests.storage.conftest import s3_settings
from tests.support import free_port
from vgen.domain.errors import StorageUnavailable
from vgen.storage.base import ArchiveStorage
from vgen.storage.factory import open_storage
from vgen.storage.local_disk import LocalDiskStorage

pytestmark = pytest.mark.anyio


def assert_safe(exc: StorageUnavailable, *secrets: str) -> None:
    assert exc.message.startswith("archive ")
    for secret in secrets:
        assert secret not in exc.message, exc.message


@pytest.fixture
def doomed_server() -> Iterator[S3TestServer]:
    """A second S3 server of its own, for a test to stop midway."""
    server = S3TestServer()
    yield server
    server.stop()


async def test_every_operation_on_a_stopped_s3_server_raises_storage_unavailable(
    tmp_path: Path, bucket: Bucket, doomed_server: S3TestServer
) -> None:
    storage = open_storage(
        s3_settings(tmp_path, bucket, s3_endpoint_url=doomed_server.endpoint_url)
    )
    await storage.put_bytes("videos/t1/a.mp4", b"kept")
    source = storage.staging_dir() / "render.mp4"
    source.write_bytes(b"a finished video")
    doomed_server.stop()

    calls = {
        "put_file": storage.put_file("videos/t1/b.mp4", source),
        "put_bytes": storage.put_bytes("videos/t1/c.mp4", b"x"),
        "open_range": storage.open_range("videos/t1/a.mp4", start=1, end=3),
        "fetch_to": storage.fetch_to("videos/t1/a.mp4", tmp_path / "copy.mp4"),
        "size": storage.size("videos/t1/a.mp4"),
        "delete": storage.delete("videos/t1/a.mp4"),
        "check": storage.check(),
    }
    for name, call in calls.items():
        with pytest.raises(StorageUnavailable) as caught:
            await call
        assert "unreachable" in caught.value.message, name
        assert_safe(caught.value, str(tmp_path), doomed_server.endpoint_url, bucket.name)
    assert source.read_bytes() == b"a finished video"  # kept for the retry
    assert not (tmp_path / "copy.mp4").exists()


async def test_a_wrong_endpoint_fails_the_check(tmp_path: Path, bucket: Bucket) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    storage = open_storage(s3_settings(tmp_path, bucket, s3_endpoint_url=nowhere))

    with pytest.raises(StorageUnavailable, match="unreachable") as caught:
        await storage.check()
    assert_safe(caught.value, nowhere, bucket.name)


async def test_a_missing_bucket_refuses_writes_and_fails_the_check(
    tmp_path: Path, bucket: Bucket
) -> None:
    storage = open_storage(s3_settings(tmp_path, bucket, storage_url="s3://vgen-no-such-bucket"))
    source = storage.staging_dir() / "render.mp4"
    source.write_bytes(b"a finished video")

    with pytest.raises(StorageUnavailable, match="NoSuchBucket") as caught:
        await storage.put_file("videos/t1/a.mp4", source)
    assert_safe(caught.value, str(tmp_path), "vgen-no-such-bucket")
    assert source.exists()
    with pytest.raises(StorageUnavailable, match="NoSuchBucket"):
        await storage.put_bytes("videos/t1/a.jpg", b"x")
    with pytest.raises(StorageUnavailable):
        await storage.check()


async def test_missing_credentials_are_a_storage_fault(
    tmp_path: Path, bucket: Bucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    storage = open_storage(s3_settings(tmp_path, bucket))

    with pytest.raises(StorageUnavailable, match="no AWS credentials"):
        await storage.put_bytes("videos/t1/a.jpg", b"x")


async def test_a_refused_local_write_raises_storage_unavailable_without_the_path(
    tmp_path: Path,
) -> None:
    storage: ArchiveStorage = LocalDiskStorage(tmp_path / "archive")
    await storage.put_bytes("videos/t1", b"a file where a directory must go")
    source = storage.staging_dir() / "render.mp4"
    source.write_bytes(b"a finished video")

    with pytest.raises(StorageUnavailable, match="archive write failed") as caught:
        await storage.put_file("videos/t1/a.mp4", source)
    assert_safe(caught.value, str(tmp_path), "videos/t1")
    assert source.exists()
    with pytest.raises(StorageUnavailable, match="archive write failed"):
        await storage.put_bytes("videos/t1/a.jpg", b"x")


async def test_an_unwritable_local_archive_fails_the_check(tmp_path: Path) -> None:
    storage = LocalDiskStorage(tmp_path / "archive")
    storage.staging_dir().rmdir()

    with pytest.raises(StorageUnavailable, match="not writable") as caught:
        await storage.check()
    assert_safe(caught.value, str(tmp_path))
