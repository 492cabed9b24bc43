"""The archive contract, run on local disk and on S3 (moto on loopback) alike."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import pytest

from tests.s3 import Bucket
from vgen.storage.base import ArchiveStorage
from vgen.storage.s3 import S3Storage, default_transfer_config

pytestmark = pytest.mark.anyio

DATA = bytes(range(256)) * 40  # 10,240 bytes, each position recognisable


async def read(storage: ArchiveStorage, key: str, **span: int | None) -> tuple[int, int, bytes]:
    opened = await storage.open_range(key, **span)  # type: ignore[arg-type]
    assert opened is not None
    async with opened:
        body = await opened.read_all()
    assert len(body) == opened.size_bytes
    return opened.start, opened.total_bytes, body


def staged(storage: ArchiveStorage, data: bytes, name: str = "render.mp4") -> Path:
    path = storage.staging_dir() / name
    path.write_bytes(data)
    return path


async def test_put_file_stores_the_file_and_consumes_the_staging_copy(
    storage: ArchiveStorage,
) -> None:
    source = staged(storage, DATA)

    size = await storage.put_file("videos/t1/a-1.mp4", source)

    assert size == len(DATA)
    assert not source.exists()
    assert await storage.size("videos/t1/a-1.mp4") == len(DATA)
    assert await read(storage, "videos/t1/a-1.mp4") == (0, len(DATA), DATA)


async def test_a_file_over_the_multipart_threshold_arrives_whole(
    storage: ArchiveStorage, request: pytest.FixtureRequest
) -> None:
    data = os.urandom(default_transfer_config().multipart_threshold + 123_457)
    source = staged(storage, data, "big.mp4")

    assert await storage.put_file("videos/big.mp4", source) == len(data)

    target = storage.staging_dir() / "back.mp4"
    assert await storage.fetch_to("videos/big.mp4", target)
    assert target.read_bytes() == data
    if isinstance(storage, S3Storage):
        # A multipart upload's ETag is "<md5 of part md5s>-<part count>".
        made: Bucket = request.getfixturevalue("bucket")
        head = made.client().head_object(Bucket=made.name, Key="archive/videos/big.mp4")
        assert head["ETag"].strip('"').endswith("-2")


async def test_ranged_reads_return_the_exact_bytes(storage: ArchiveStorage) -> None:
    await storage.put_bytes("inputs/f1.png", DATA)
    total = len(DATA)

    assert await read(storage, "inputs/f1.png", start=0, end=16) == (0, total, DATA[:16])
    assert await read(storage, "inputs/f1.png", start=5000, end=6000) == (
        5000,
        total,
        DATA[5000:6000],
    )
    assert await read(storage, "inputs/f1.png", start=-100) == (total - 100, total, DATA[-100:])
    assert await read(storage, "inputs/f1.png", start=10_000) == (10_000, total, DATA[10_000:])
    assert await read(storage, "inputs/f1.png", start=10_000, end=99_999) == (
        10_000,
        total,
        DATA[10_000:],
    )
    assert await read(storage, "inputs/f1.png", start=-99_999) == (0, total, DATA)


async def test_a_range_that_selects_nothing_is_empty_but_knows_the_size(
    storage: ArchiveStorage,
) -> None:
    await storage.put_bytes("inputs/f2.png", DATA)

    assert await read(storage, "inputs/f2.png", start=len(DATA) + 5) == (len(DATA), len(DATA), b"")
    assert await read(storage, "inputs/f2.png", start=7, end=7) == (7, len(DATA), b"")


async def test_an_empty_object_reads_as_empty(storage: ArchiveStorage) -> None:
    await storage.put_bytes("empty.bin", b"")

    assert await storage.size("empty.bin") == 0
    assert await read(storage, "empty.bin") == (0, 0, b"")
    assert await read(storage, "empty.bin", start=-10) == (0, 0, b"")


async def test_put_bytes_replaces_an_object_whole(storage: ArchiveStorage) -> None:
    await storage.put_bytes("videos/t2/x.thumbnail.jpg", b"old")
    await storage.put_bytes("videos/t2/x.thumbnail.jpg", b"newer")

    assert await read(storage, "videos/t2/x.thumbnail.jpg") == (0, 5, b"newer")


async def test_a_missing_key_reads_as_absent(storage: ArchiveStorage) -> None:
    target = storage.staging_dir() / "never.mp4"

    assert await storage.size("videos/none.mp4") is None
    assert not await storage.exists("videos/none.mp4")
    assert await storage.open_range("videos/none.mp4") is None
    assert await storage.open_range("videos/none.mp4", start=10, end=20) is None
    assert await storage.fetch_to("videos/none.mp4", target) is False
    assert not target.exists()


async def test_delete_is_idempotent(storage: ArchiveStorage) -> None:
    await storage.put_bytes("videos/t3/a.mp4", DATA)
    assert await storage.exists("videos/t3/a.mp4")

    await storage.delete("videos/t3/a.mp4")
    await storage.delete("videos/t3/a.mp4")
    await storage.delete("videos/never/stored.mp4")

    assert not await storage.exists("videos/t3/a.mp4")
    assert await storage.open_range("videos/t3/a.mp4") is None


async def test_list_keys_names_exactly_the_objects_under_a_prefix(
    storage: ArchiveStorage,
) -> None:
    for key in ("videos/t6/w1-1.mp4", "videos/t6/w2-2.mp4", "videos/t60/w1-1.mp4", "inputs/f6"):
        await storage.put_bytes(key, DATA)
    (storage.staging_dir() / "videos-t6-partial.mp4").write_bytes(DATA)  # work in progress

    assert await storage.list_keys("videos/t6/") == ["videos/t6/w1-1.mp4", "videos/t6/w2-2.mp4"]
    assert await storage.list_keys("videos/t6") == [
        "videos/t6/w1-1.mp4",
        "videos/t6/w2-2.mp4",
        "videos/t60/w1-1.mp4",
    ]
    assert await storage.list_keys("videos/none/") == []
    assert "inputs/f6" in await storage.list_keys("")


async def test_check_passes_on_a_working_archive(storage: ArchiveStorage) -> None:
    await storage.check()


async def test_a_stopped_reader_releases_its_source(storage: ArchiveStorage) -> None:
    await storage.put_bytes("videos/t4/a.mp4", DATA * 100)

    opened = await storage.open_range("videos/t4/a.mp4")
    assert opened is not None
    async with opened:
        async for chunk in opened:
            assert chunk == (DATA * 100)[: len(chunk)]
            break
    await opened.aclose()  # closing twice is harmless

    assert await storage.exists("videos/t4/a.mp4")


async def test_fetch_to_copies_the_object_bytes(storage: ArchiveStorage) -> None:
    await storage.put_bytes("inputs/f3.png", DATA)
    target = storage.staging_dir() / "f3-copy.png"

    assert await storage.fetch_to("inputs/f3.png", target)

    assert target.read_bytes() == DATA


async def test_a_presigned_url_downloads_the_exact_bytes(storage: ArchiveStorage) -> None:
    await storage.put_bytes("videos/t5/a.mp4", DATA)
    expires_at = int(time.time()) + 600

    url = storage.presigned_url("videos/t5/a.mp4", expires_at=expires_at)

    if not isinstance(storage, S3Storage):
        assert url is None  # local disk is served by vgen's own signed URLs
        return
    assert url is not None
    async with httpx.AsyncClient() as client:
        whole = await client.get(url)
        part = await client.get(url, headers={"Range": "bytes=100-199"})
    assert whole.status_code == 200
    assert whole.content == DATA
    assert whole.headers["content-type"] == "video/mp4"
    assert part.status_code == 206
    assert part.content == DATA[100:200]


@pytest.mark.parametrize("key", ["", "/abs", "a//b", "../x", "a/./b", "a/../../b", "a\\b"])
async def test_keys_that_are_not_relative_names_are_refused(
    storage: ArchiveStorage, key: str
) -> None:
    with pytest.raises(ValueError, match="not a storage key"):
        await storage.put_bytes(key, b"x")
