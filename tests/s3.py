"""S3 test server: moto in server mode on loopback (a real S3-speaking HTTP server, no boto3
mocks), and a bucket on it. The fixtures that start them are in tests/conftest.py."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import boto3
from moto.server import ThreadedMotoServer

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


@dataclass(frozen=True)
class Bucket:
    name: str
    endpoint_url: str

    def client(self) -> S3Client:
        return boto3.client("s3", endpoint_url=self.endpoint_url, region_name=REGION)
