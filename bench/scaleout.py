"""Scale-out benchmark (issue #11) on PostgreSQL: end-to-end throughput with 1, 2 and 4
`vgen worker` processes against an instant fake upstream, and the queue wake-up latency
(task created by `vgen serve --no-worker` → claimed by an idle worker in another process),
with LISTEN/NOTIFY and polling-only (the notify trigger dropped from the bench's schema, so
the worker finds work only at its idle poll, `VGEN_WORKER_IDLE_POLL_SECONDS`, default 0.5 s).

Each run gets a PostgreSQL schema of its own and a local-disk archive (the queue is measured,
not S3). Times come from the task rows: `created_at` (API process) and `started_at` /
`completed_at` (worker processes), all Unix seconds from this host's clock.

Run: `.venv/bin/python bench/scaleout.py` (`--help`; `--database-url`, default
`$VGEN_TEST_DATABASE_URL` or postgresql://postgres@127.0.0.1:5432/test).
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
from inflight_upstream import JobTiming, SimClock, serve
from ports import free_port, wait_for_port
from scratch import scratch_schema

SPAWN = multiprocessing.get_context("spawn")
IDLE_POLL_S = 0.5  # vgen's default VGEN_WORKER_IDLE_POLL_SECONDS
DEFAULT_DB = os.environ.get(
    "VGEN_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
).replace("postgresql+psycopg://", "postgresql://")


@contextlib.contextmanager
def schema(base_url: str) -> Iterator[str]:
    with scratch_schema(base_url, prefix="bench") as url:
        assert url is not None
        yield url


@contextlib.contextmanager
def upstream() -> Iterator[str]:
    """The inflight bench's fake upstream, its own process, every job done at its first poll."""
    port = free_port()
    process = SPAWN.Process(
        target=serve, args=(port, SimClock(time.time(), 1.0), JobTiming(0.0, 0.0, 1))
    )
    process.start()
    try:
        wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.join(timeout=20)


class Cluster:
    """One `vgen serve --no-worker` and N `vgen worker` processes on one schema and archive."""

    def __init__(self, db_url: str, upstream_url: str, workdir: Path) -> None:
        config = workdir / "vgen.toml"
        config.write_text(
            f'[targets.fake]\ntype = "relay"\nbase_url = "{upstream_url}"\n'
            "first_poll_seconds = 0\npoll_interval_seconds = 0.05\n"
            '[routes]\nveo_3_1_fast = ["fake"]\n'
        )
        self.workdir, self.db_url = workdir, db_url
        self.env = {
            **os.environ,
            "VGEN_DATABASE_URL": db_url,
            "VGEN_STORAGE_URL": (workdir / "archive").as_uri(),
            "VGEN_SIGNING_SECRET": secrets.token_hex(32),
            "VGEN_CONFIG": str(config),
            "VGEN_ALLOW_PRIVATE_URLS": "true",
            "VGEN_LOG_FORMAT": "json",
        }
        self.processes: list[subprocess.Popen[bytes]] = []
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def _start(self, name: str, *args: str) -> tuple[subprocess.Popen[bytes], Path]:
        log = self.workdir / f"{name}.log"
        with log.open("wb") as out:
            env = {**self.env, "VGEN_DATA_DIR": str(self.workdir / name)}
            process = subprocess.Popen(
                [sys.executable, "-m", "vgen", *args], env=env, stdout=out, stderr=out
            )
        self.processes.append(process)
        return process, log

    def start(self, workers: int) -> str:
        api, _ = self._start("api", "serve", "--no-worker", "--port", str(self.port))
        _wait(lambda: _healthy(self.url), f"the API ({self.workdir / 'api.log'})")
        logs = [self._start(f"worker-{n}", "worker")[1] for n in range(workers)]
        for log in logs:  # idle and listening (or polling) before any task exists
            _wait(lambda log=log: b"listening for runnable tasks" in log.read_bytes(), str(log))
        return (self.workdir / "api" / "admin.key").read_text().strip()

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def execute(self, sql: str) -> None:
        with psycopg.connect(self.db_url, autocommit=True) as conn:
            conn.execute(sql)

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.db_url, autocommit=True) as conn:
            return conn.execute(sql).fetchall()


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _wait(check: Any, what: str, *, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.02)


def _create(client: httpx.Client, i: int) -> str:
    created = client.post("/v1/veo/videos", json={"model": "veo_3_1_fast", "prompt": f"t{i}"})
    created.raise_for_status()
    return str(created.json()["id"])


def throughput(db_base: str, upstream_url: str, *, workers: int, tasks: int) -> float:
    """Tasks completed per second, first create → last completion."""
    with schema(db_base) as db_url, tempfile.TemporaryDirectory() as tmp:
        cluster = Cluster(db_url, upstream_url, Path(tmp))
        try:
            key = cluster.start(workers)
            headers = {"Authorization": f"Bearer {key}"}
            with httpx.Client(base_url=cluster.url, headers=headers, timeout=30) as client:
                for i in range(tasks):
                    _create(client, i)
            done = "SELECT count(*) FROM tasks WHERE state = 'completed'"
            _wait(lambda: cluster.rows(done)[0][0] == tasks, "every task", timeout_s=600)
            first, last = cluster.rows("SELECT min(created_at), max(completed_at) FROM tasks")[0]
            return tasks / (last - first)
        finally:
            cluster.stop()


def wakeups(db_base: str, upstream_url: str, *, samples: int, notify: bool) -> list[float]:
    """Milliseconds from create to claim, one task at a time, the worker idle each time."""
    with schema(db_base) as db_url, tempfile.TemporaryDirectory() as tmp:
        cluster = Cluster(db_url, upstream_url, Path(tmp))
        rng = random.Random(11)
        try:
            key = cluster.start(1)
            if not notify:
                cluster.execute("DROP TRIGGER tasks_notify_runnable ON tasks")
            headers = {"Authorization": f"Bearer {key}"}
            with httpx.Client(base_url=cluster.url, headers=headers, timeout=30) as client:
                for i in range(samples):
                    # A random phase against the idle poll (which restarts after each task).
                    time.sleep(rng.uniform(0.0, 0.05 if notify else IDLE_POLL_S))
                    task_id = _create(client, i)
                    done = f"SELECT state FROM tasks WHERE id = '{task_id}'"
                    _wait(lambda done=done: cluster.rows(done)[0][0] == "completed", task_id)
            rows = cluster.rows("SELECT started_at - created_at FROM tasks")
            return [1000 * r[0] for r in rows]
        finally:
            cluster.stop()


def _percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_DB)
    parser.add_argument("--tasks", type=int, default=400, help="tasks per throughput run")
    parser.add_argument("--workers", default="1,2,4", help="worker processes per run")
    parser.add_argument("--samples", type=int, default=200, help="wake-up samples per mode")
    parser.add_argument("--quick", action="store_true", help="100 tasks, 1,2 workers, 30 samples")
    args = parser.parse_args()
    if args.quick:
        args.tasks, args.workers, args.samples = 100, "1,2", 30
    print(f"load average at start: {os.getloadavg()[0]:.2f}, {os.cpu_count()} CPUs")
    with upstream() as upstream_url:
        rates: dict[int, float] = {}
        for workers in (int(w) for w in args.workers.split(",")):
            rates[workers] = throughput(
                args.database_url, upstream_url, workers=workers, tasks=args.tasks
            )
            print(f"throughput, {workers} worker process(es): {rates[workers]:.1f} tasks/s")
        base = rates[min(rates)]
        for workers, rate in sorted(rates.items()):
            print(f"  ratio {workers} vs {min(rates)}: {rate / base:.2f}")
        for notify in (True, False):
            ms = wakeups(args.database_url, upstream_url, samples=args.samples, notify=notify)
            mode = "LISTEN/NOTIFY" if notify else "polling only (0.5 s idle poll)"
            print(
                f"wake-up create → claimed, {mode}: p50 {_percentile(ms, 50):.1f} ms, "
                f"p99 {_percentile(ms, 99):.1f} ms (n={len(ms)})"
            )
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
