"""Archive fixtures: settings for an S3 archive in a bucket of the moto test server
(tests/s3.py, started by tests/conftest.py), and the same contract on both backends."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.s3 import REGION, Bucket
from vgen.config import Settings
from vgen.storage.base import ArchiveStorage
from vgen.storage.factory import open_storage


def s3_settings(tmp_path: Path, bucket: Bucket, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": tmp_path / "data",
        "storage_url": f"s3://{bucket.name}/archive",
        "s3_endpoint_url": bucket.endpoint_url,
        "s3_region": REGION,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> ArchiveStorage:
    """The same contract on both backends, each built by the factory from settings."""
    if request.param == "local":
        return open_storage(Settings(data_dir=tmp_path / "data"))
    made: Bucket = request.getfixturevalue("bucket")
    return open_storage(s3_settings(tmp_path, made, s3_presigned_urls=True))
