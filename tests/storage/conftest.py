"""S3 test server: moto in server mode on loopback (a real S3-speaking HTTP server, no boto3
mocks), fake AWS credentials in the environment, and one fresh bucket per test."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import pytest
from moto.server import ThreadedMotoServer

from vgen.config import Settings
from vgen.storage.base import ArchiveStorage
from vgen.storage.factory import open_storage

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

REGION = "us-east-1"


class S3TestServer:
    """A moto S3 server on 127.0.0.1 at an ephemeral port, until `stop()`."""

    def __init__(self) -> None:
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"

    def stop(self) -> None:
        self._server.stop()
        # ThreadedMotoServer.stop() shuts the loop down but leaves the listening socket open.
        if self._server._server is not None:
            self._server._server.server_close()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3TestServer]:
    server = S3TestServer()
    yield server
    server.stop()


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Fake keys through the standard AWS chain; no profile or config file of this machine."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@dataclass(frozen=True)
class Bucket:
    name: str
    endpoint_url: str

    def client(self) -> S3Client:
        return boto3.client("s3", endpoint_url=self.endpoint_url, region_name=REGION)


@pytest.fixture
def bucket(s3_server: S3TestServer, aws_credentials: None) -> Bucket:
    made = Bucket(name="vgen-" + secrets.token_hex(6), endpoint_url=s3_server.endpoint_url)
    made.client().create_bucket(Bucket=made.name)
    return made


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
