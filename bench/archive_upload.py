"""Archive upload benchmark (issue #11): `S3Storage.put_file` against boto3's plain
`upload_file` (what `aws s3 cp` does) of the same file, to the same S3 test server.

Starts a moto S3 server in its own process on loopback, writes one random file (100 MB by
default), then alternates the two uploads for several rounds, deleting each object after it is
written. Prints each side's throughput and vgen's as a ratio of plain boto3's (median of the
per-round ratios; goal >= 0.8).

Run: `.venv/bin/python bench/archive_upload.py` (`--help` for the options).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import anyio
import boto3
from ports import HOST, free_port

from vgen.config import Settings
from vgen.storage.factory import open_storage
from vgen.storage.s3 import S3Storage

GOAL_RATIO = 0.8
BUCKET = "bench"
REGION = "us-east-1"
MB = 1_000_000


@contextmanager
def moto_server() -> Iterator[str]:
    """A moto S3 server process on loopback; yields its endpoint URL."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + 60
        client = boto3.client("s3", endpoint_url=endpoint, region_name=REGION)
        while True:
            try:
                client.list_buckets()
                break
            except Exception:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the moto server did not start") from None
                time.sleep(0.1)
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)


def write_random_file(path: Path, size_bytes: int) -> None:
    with path.open("wb") as out:
        left = size_bytes
        while left:
            chunk = os.urandom(min(left, 4 * 1024 * 1024))
            out.write(chunk)
            left -= len(chunk)


async def put_file(storage: S3Storage, source: Path, key: str) -> None:
    await storage.put_file(key, source)


@contextmanager
def timed(wall_s: list[float], cpu_s: list[float]) -> Iterator[None]:
    """Wall time, and this process's CPU time (the client's share: moto runs elsewhere)."""
    wall, cpu = time.perf_counter(), time.process_time()
    yield
    wall_s.append(time.perf_counter() - wall)
    cpu_s.append(time.process_time() - cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=100, help="file size in MB (10^6 bytes)")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    # The standard AWS chain, fed fake keys: moto accepts any.
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    size_bytes = args.size_mb * MB
    with tempfile.TemporaryDirectory() as tmp, moto_server() as endpoint:
        work = Path(tmp)
        original = work / "video.mp4"
        write_random_file(original, size_bytes)
        plain = boto3.client("s3", endpoint_url=endpoint, region_name=REGION)
        plain.create_bucket(Bucket=BUCKET)
        settings = Settings(
            data_dir=work / "data",
            storage_url=f"s3://{BUCKET}/vgen",
            s3_endpoint_url=endpoint,
            s3_region=REGION,
        )
        storage = open_storage(settings)
        assert isinstance(storage, S3Storage)

        vgen_s: list[float] = []
        plain_s: list[float] = []
        vgen_cpu: list[float] = []
        plain_cpu: list[float] = []
        for round_no in range(args.rounds):
            for side in ("vgen", "plain") if round_no % 2 == 0 else ("plain", "vgen"):
                if side == "vgen":
                    # put_file consumes its source (a staging file): give it a hard link.
                    staged = storage.staging_dir() / "video.mp4"
                    os.link(original, staged)
                    with timed(vgen_s, vgen_cpu):
                        anyio.run(put_file, storage, staged, "bench.mp4")
                    plain.delete_object(Bucket=BUCKET, Key="vgen/bench.mp4")
                else:
                    with timed(plain_s, plain_cpu):
                        plain.upload_file(str(original), BUCKET, "plain.mp4")
                    plain.delete_object(Bucket=BUCKET, Key="plain.mp4")
            print(
                f"round {round_no + 1}: vgen {size_bytes / MB / vgen_s[-1]:6.1f} MB/s, "
                f"boto3 upload_file {size_bytes / MB / plain_s[-1]:6.1f} MB/s, "
                f"ratio {plain_s[-1] / vgen_s[-1]:.3f}"
            )

    ratios = [p / v for p, v in zip(plain_s, vgen_s, strict=True)]
    ratio = statistics.median(ratios)
    print(
        f"\n{args.size_mb} MB, {args.rounds} rounds: "
        f"vgen put_file {size_bytes / MB / statistics.median(vgen_s):.1f} MB/s, "
        f"boto3 upload_file {size_bytes / MB / statistics.median(plain_s):.1f} MB/s (medians)"
    )
    print(
        f"client CPU per upload: vgen {statistics.median(vgen_cpu):.2f} s, "
        f"boto3 {statistics.median(plain_cpu):.2f} s (medians)"
    )
    verdict = "met" if ratio >= GOAL_RATIO else "NOT met"
    print(f"vgen / boto3 = {ratio:.3f} (median of rounds; goal >= {GOAL_RATIO}: {verdict})")


if __name__ == "__main__":
    main()
