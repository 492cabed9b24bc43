"""`open_storage`: VGEN_STORAGE_URL (and the VGEN_S3_* settings) pick and configure the archive."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.s3 import Bucket
from tests.storage.conftest import s3_settings
from vgen.config import Settings
from vgen.storage.factory import open_storage
from vgen.storage.local_disk import LocalDiskStorage
from vgen.storage.s3 import S3Storage

pytestmark = pytest.mark.anyio


def test_unset_means_the_data_dirs_archive(tmp_path: Path) -> None:
    storage = open_storage(Settings(data_dir=tmp_path / "data"))

    assert isinstance(storage, LocalDiskStorage)
    assert storage.root == (tmp_path / "data" / "archive").resolve()


def test_a_file_url_names_the_archive_directory(tmp_path: Path) -> None:
    storage = open_storage(Settings(data_dir=tmp_path, storage_url=f"file://{tmp_path}/arch%20ive"))

    assert isinstance(storage, LocalDiskStorage)
    assert storage.root == (tmp_path / "arch ive").resolve()


@pytest.mark.parametrize(
    "url",
    [
        "file://relative/path",
        "file:relative",
        "s3://",
        "s3:///prefix-only",
        "s3://bucket/prefix?versioning=1",
        "gs://bucket",
        "/plain/path",
    ],
)
def test_a_bad_url_is_refused_with_the_accepted_forms(tmp_path: Path, url: str) -> None:
    with pytest.raises(ValueError, match=r"expected file:///absolute/path, s3://bucket"):
        open_storage(Settings(data_dir=tmp_path, storage_url=url))


def test_the_settings_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VGEN_STORAGE_URL", "s3://videos/vgen")
    monkeypatch.setenv("VGEN_S3_ENDPOINT_URL", "http://127.0.0.1:9000")
    monkeypatch.setenv("VGEN_S3_REGION", "eu-west-1")
    monkeypatch.setenv("VGEN_S3_PRESIGNED_URLS", "true")

    settings = Settings()

    assert settings.storage_url == "s3://videos/vgen"
    assert settings.s3_endpoint_url == "http://127.0.0.1:9000"
    assert settings.s3_region == "eu-west-1"
    assert settings.s3_presigned_urls is True
    assert Settings.model_fields["s3_presigned_urls"].default is False


@pytest.mark.parametrize(("suffix", "prefix"), [("", ""), ("/", ""), ("/a/b/", "a/b/")])
async def test_an_s3_url_puts_objects_under_its_prefix(
    tmp_path: Path, bucket: Bucket, suffix: str, prefix: str
) -> None:
    storage = open_storage(s3_settings(tmp_path, bucket, storage_url=f"s3://{bucket.name}{suffix}"))
    assert isinstance(storage, S3Storage)

    await storage.put_bytes("videos/t1/a.mp4", b"video")

    listed = bucket.client().list_objects_v2(Bucket=bucket.name)
    assert [item["Key"] for item in listed["Contents"]] == [f"{prefix}videos/t1/a.mp4"]
    assert storage.staging_dir() == tmp_path / "data" / "staging"


async def test_presigning_is_off_unless_asked(tmp_path: Path, bucket: Bucket) -> None:
    storage = open_storage(s3_settings(tmp_path, bucket))

    assert storage.presigned_url("videos/t1/a.mp4", expires_at=2**31) is None
