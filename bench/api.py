"""Status-polling benchmark (issue #2): vgen's `GET /v1/result/{id}` against bare Starlette.

Seeds a store with 10,000 tasks (worker off), then loads vgen and a bare Starlette endpoint that
returns a body of the same size as a completed task's, one server at a time under identical
uvicorn options, from a load generator in its own process. Prints vgen's throughput as a ratio of
the bare one (median over alternating rounds) and vgen's p50/p99 latency.

Run: `.venv/bin/python bench/api.py` (`--help` for the options).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import http.client
import math
import multiprocessing
import os
import pstats
import queue
import random
import re
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

GOAL_RATIO = 0.5
GOAL_P99_MS = 10.0
HOST = "127.0.0.1"
# One worker process and the fastest stock uvicorn stack, the same for both servers.
UVICORN_OPTIONS: dict[str, Any] = {
    "http": "httptools",
    "loop": "uvloop",
    "log_level": "warning",
    "access_log": False,
}
# Seeding cycle: a third completed (the heavy, realistic case: a signed `video_url` is minted
# on every read), the rest spread over the other states a poller sees.
STATE_CYCLE = ("completed", "completed", "processing", "failed", "queued", "queued")
PROMPT = (
    "A slow dolly shot down a rain-soaked neon street at night, reflections shimmering on the "
    "wet asphalt, cinematic lighting, shallow depth of field (benchmark task {i})"
)
TEMPLATE_TASKS = 240
SPAWN = multiprocessing.get_context("spawn")


# --- Seeding -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seeded:
    admin_key: str
    ids_by_state: dict[str, list[str]]

    @property
    def ids(self) -> list[str]:
        return [task_id for ids in self.ids_by_state.values() for task_id in ids]


async def seed_store(settings_kwargs: dict[str, Any], *, count: int, rng: random.Random) -> Seeded:
    """Create the admin key and `count` tasks.

    The first `TEMPLATE_TASKS` go through the repositories exactly as the API and the worker
    would move them; the rest are copies of those rows under new ids, bulk-inserted (one at a
    time, SQLAlchemy Core needs about a minute for 10,000 on a busy 2-core box).
    """
    from vgen.config import Settings
    from vgen.service.bootstrap import ensure_admin_key
    from vgen.store.store import Store

    settings = Settings(**settings_kwargs)
    store = Store.open(settings.resolved_database_url())
    try:
        key = await ensure_admin_key(store, settings.data_dir, clock=time.time)
        key = key or (settings.data_dir / "admin.key").read_text().strip()
        # Queued ones last, so `claim_next` always claims the task just created.
        states = sorted(
            (STATE_CYCLE[i % len(STATE_CYCLE)] for i in range(min(count, TEMPLATE_TASKS))),
            key=lambda state: state == "queued",
        )
        now = time.time()
        for i, state in enumerate(states):
            created_at = now - rng.uniform(60, 600)
            await _seed_task(store, i=i, state=state, created_at=created_at)
    finally:
        await store.close()
    ids_by_state = copy_tasks(settings.resolved_database_url(), count - len(states))
    return Seeded(admin_key=key, ids_by_state=ids_by_state)


def copy_tasks(url: str, count: int) -> dict[str, list[str]]:
    """Add `count` copies of the existing task rows under new ids; return all ids by state."""
    import sqlalchemy as sa

    from vgen.domain.ids import new_task_id
    from vgen.store.database import normalise_url
    from vgen.store.tables import tasks

    engine = sa.create_engine(normalise_url(url), poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            templates = [dict(row) for row in conn.execute(sa.select(tasks)).mappings()]
            copies = []
            for n in range(count):
                row = dict(templates[n % len(templates)], id=new_task_id())
                if row["artifact_key"]:
                    row["artifact_key"] = f"{row['id']}/video.mp4"
                copies.append(row)
            if copies:
                conn.execute(sa.insert(tasks), copies)  # executemany
            rows = conn.execute(sa.select(tasks.c.id, tasks.c.state)).all()
    finally:
        engine.dispose()
    ids_by_state: dict[str, list[str]] = {}
    for task_id, state in rows:
        ids_by_state.setdefault(state, []).append(task_id)
    return ids_by_state


async def _seed_task(store: Any, *, i: int, state: str, created_at: float) -> None:
    from vgen.domain.ids import new_task_id
    from vgen.domain.requests import VideoRequest
    from vgen.service.bootstrap import DEFAULT_TENANT
    from vgen.store.tasks import NewTask

    task_id = new_task_id()
    request = VideoRequest(model="veo_3_1_fast", prompt=PROMPT.format(i=i))
    await store.tasks.create(
        NewTask(
            id=task_id,
            tenant_id=DEFAULT_TENANT,
            engine="local",
            request=request,
            created_at=created_at,
            deadline_at=created_at + 1800,
        )
    )
    if state == "queued":
        return
    owner = "bench-seeder"
    started_at = created_at + 1
    claimed = await store.queue.claim_next(owner, now=started_at, lease_s=86_400)
    assert claimed is not None and claimed.id == task_id, "seeding claimed an unexpected task"
    finished_at = started_at + 45
    if state == "completed":
        await store.queue.complete(
            task_id,
            owner,
            artifact_key=f"{task_id}/video.mp4",
            video_seconds=8.0,
            now=finished_at,
            archive_expires_at=finished_at + 7 * 86_400,
        )
    elif state == "failed":
        await store.queue.fail(
            task_id, owner, error="local render failed: out of memory", now=finished_at
        )


@contextlib.contextmanager
def scratch_schema(url: str | None) -> Iterator[str | None]:
    """For PostgreSQL, a fresh schema (dropped afterwards) selected through `search_path`."""
    if url is None:
        yield None
        return
    import psycopg

    libpq_url = re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql://", url)
    schema = f"vgen_bench_{secrets.token_hex(4)}"
    with psycopg.connect(libpq_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
        try:
            separator = "&" if "?" in url else "?"
            yield f"{url}{separator}options=-csearch_path%3D{schema}"
        finally:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


# --- Servers (each in its own process) ---------------------------------------------------------


def serve_vgen(port: int, settings_kwargs: dict[str, Any], profile_path: str | None) -> None:
    """Serve `create_app(settings)`. With `profile_path`, SIGUSR1 starts cProfile and SIGUSR2
    stops it and writes the stats there."""
    import uvicorn

    from vgen.api.app import create_app
    from vgen.config import Settings

    settings = Settings(**settings_kwargs, port=port, public_url=f"http://{HOST}:{port}")
    if profile_path is not None:
        profiler = cProfile.Profile()
        signal.signal(signal.SIGUSR1, lambda *_: profiler.enable())
        signal.signal(
            signal.SIGUSR2, lambda *_: (profiler.disable(), profiler.dump_stats(profile_path))
        )
    uvicorn.run(create_app(settings), host=HOST, port=port, **UVICORN_OPTIONS)


def serve_bare(port: int, body: bytes) -> None:
    """A bare Starlette app: one route answering every task id with the same fixed JSON body."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def result(_request: Request) -> Response:
        return Response(body, media_type="application/json")

    app = Starlette(routes=[Route("/v1/result/{task_id}", result)])
    uvicorn.run(app, host=HOST, port=port, **UVICORN_OPTIONS)


@contextlib.contextmanager
def running_server(target: Callable[..., None], *args: Any) -> Iterator[tuple[int, int]]:
    """Start `target(port, *args)` in a fresh process; yield (port, pid) once it accepts."""
    port = free_port()
    process = SPAWN.Process(target=target, args=(port, *args), daemon=True)
    process.start()
    try:
        wait_for_port(port, process)
        assert process.pid is not None
        yield port, process.pid
    finally:
        process.terminate()
        process.join(timeout=20)
        if process.is_alive():
            process.kill()
            process.join()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: Any, *, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.5):
            return
        if not process.is_alive():
            raise RuntimeError(f"the server process exited with code {process.exitcode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server did not listen on port {port} in {timeout_s:.0f} s")
        time.sleep(0.05)


def process_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of `pid` so far (Linux /proc; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def fetch(port: int, path: str, key: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {key}"})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


# --- Load generators ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadSpec:
    port: int
    server_pid: int
    paths: list[str]
    authorization: str
    connections: int
    warmup_s: float
    duration_s: float
    seed: int
    # Signal the server (SIGUSR1/SIGUSR2) when the measurement window opens and closes.
    profile_server: bool = False


@dataclass
class LoadResult:
    completed: int
    duration_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    statuses: Counter[int] = field(default_factory=Counter)
    error_samples: list[str] = field(default_factory=list)
    socket_errors: int = 0
    generator_cpu: float | None = None
    server_cpu: float | None = None

    @property
    def rps(self) -> float:
        return self.completed / self.duration_s

    @property
    def rps_per_server_cpu(self) -> float | None:
        """Requests per second of server CPU: insensitive to CPU taken by other processes."""
        if not self.server_cpu:
            return None
        return self.rps / self.server_cpu

    @property
    def errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status != 200) + self.socket_errors


class _Run:
    """What all connections of one load run share: the request mix and the measurements."""

    def __init__(self, spec: LoadSpec, *, started: float) -> None:
        headers = f"Host: {HOST}:{spec.port}\r\nAuthorization: {spec.authorization}\r\n\r\n"
        self.requests = [f"GET {path} HTTP/1.1\r\n{headers}".encode() for path in spec.paths]
        self.pick = random.Random(spec.seed).choice
        self.measure_from = started + spec.warmup_s
        self.measure_until = self.measure_from + spec.duration_s
        self.latencies: list[float] = []
        self.statuses: Counter[int] = Counter()
        self.error_samples: list[str] = []
        self.socket_errors = 0

    def record(self, status: int, sent_at: float, received_at: float, body: bytes) -> None:
        # Every response counts towards the status tally (warm-up too); latency and throughput
        # only inside the measurement window.
        self.statuses[status] += 1
        if status != 200 and len(self.error_samples) < 5:
            self.error_samples.append(f"{status}: {body[:300].decode(errors='replace')}")
        if self.measure_from <= received_at <= self.measure_until:
            self.latencies.append(received_at - sent_at)


class _Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection with at most one request in flight (no pipelining).

    Parses only the status line and Content-Length, so the generator stays far cheaper per
    request than the servers it measures.
    """

    def __init__(self, run: _Run, done: asyncio.Future[None]) -> None:
        self._run = run
        self._done = done
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None
        self._head_end = -1
        self._total = -1
        self._status = 0
        self._sent_at = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but have its methods.
        self._transport = cast(asyncio.Transport, transport)
        self._send()

    def _send(self) -> None:
        assert self._transport is not None
        if time.perf_counter() >= self._run.measure_until:
            self._transport.close()
            return
        self._sent_at = time.perf_counter()
        self._transport.write(self._run.pick(self._run.requests))

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        if self._total < 0:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buffer[:end]).lower()
            at = head.find(b"\r\ncontent-length:")
            if at < 0:
                self._fail("response without Content-Length")
                return
            stop = head.find(b"\r\n", at + 2)
            self._status = int(head[9:12])
            self._head_end = end + 4
            self._total = self._head_end + int(head[at + 17 : stop if stop > 0 else None])
        if len(buffer) < self._total:
            return
        received_at = time.perf_counter()
        body = bytes(buffer[self._head_end : self._total]) if self._status != 200 else b""
        del buffer[: self._total]
        self._total = -1
        self._run.record(self._status, self._sent_at, received_at, body)
        self._send()

    def _fail(self, reason: str) -> None:
        self._run.socket_errors += 1
        self._run.error_samples.append(reason)
        assert self._transport is not None
        self._transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if time.perf_counter() < self._run.measure_until and not self._done.done():
            self._run.socket_errors += 1
            self._run.error_samples.append(f"connection lost early: {exc!r}")
        if not self._done.done():
            self._done.set_result(None)


async def _drive(spec: LoadSpec) -> LoadResult:
    loop = asyncio.get_running_loop()
    run = _Run(spec, started=time.perf_counter())
    done = [loop.create_future() for _ in range(spec.connections)]
    for future in done:
        await loop.create_connection(lambda f=future: _Connection(run, f), HOST, spec.port)
    await asyncio.sleep(max(0.0, run.measure_from - time.perf_counter()))
    if spec.profile_server:
        os.kill(spec.server_pid, signal.SIGUSR1)
    cpu_before, server_before = time.process_time(), process_cpu_s(spec.server_pid)
    await asyncio.sleep(max(0.0, run.measure_until - time.perf_counter()))
    cpu_after, server_after = time.process_time(), process_cpu_s(spec.server_pid)
    if spec.profile_server:
        os.kill(spec.server_pid, signal.SIGUSR2)
    _, pending = await asyncio.wait(done, timeout=10)
    if pending:
        run.socket_errors += len(pending)
        run.error_samples.append(f"{len(pending)} requests got no answer within 10 s")
    server_cpu = None
    if server_before is not None and server_after is not None:
        server_cpu = (server_after - server_before) / spec.duration_s
    return summarise(
        run.latencies,
        spec.duration_s,
        statuses=run.statuses,
        error_samples=run.error_samples,
        socket_errors=run.socket_errors,
        generator_cpu=(cpu_after - cpu_before) / spec.duration_s,
        server_cpu=server_cpu,
    )


def summarise(latencies_s: list[float], duration_s: float, **extra: Any) -> LoadResult:
    ordered = sorted(latencies_s) or [float("nan")]

    def percentile(q: float) -> float:
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)] * 1000  # nearest rank

    return LoadResult(
        completed=len(latencies_s),
        duration_s=duration_s,
        p50_ms=percentile(0.5),
        p90_ms=percentile(0.9),
        p99_ms=percentile(0.99),
        max_ms=ordered[-1] * 1000,
        **extra,
    )


def python_load(spec: LoadSpec, results: Any) -> None:
    """Process entry point of the pure-Python generator: run, then put the LoadResult."""
    try:
        import uvloop

        results.put(uvloop.run(_drive(spec)))
    except ImportError:
        results.put(asyncio.run(_drive(spec)))


def run_python_load(spec: LoadSpec) -> LoadResult:
    results = SPAWN.Queue()
    process = SPAWN.Process(target=python_load, args=(spec, results), daemon=True)
    process.start()
    deadline = time.monotonic() + spec.warmup_s + spec.duration_s + 60
    try:
        while True:
            with contextlib.suppress(queue.Empty):
                result: LoadResult = results.get(timeout=1)
                return result
            if not process.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the load generator failed (exit code {process.exitcode})")
    finally:
        process.join(timeout=10)


WRK_SCRIPT = """
local paths = {%(paths)s}
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) non200 = 0; math.randomseed(%(seed)d) end
function request() return wrk.format(nil, paths[math.random(#paths)]) end
function response(status, headers, body) if status ~= 200 then non200 = non200 + 1 end end
function done(summary, latency, requests)
  local n = 0
  for _, t in ipairs(threads) do n = n + t:get("non200") end
  io.write(string.format("BENCH %%d %%d %%d %%d %%d %%d %%d\\n", summary.requests,
    summary.duration, n, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max))
  local e = summary.errors
  io.write(string.format("SOCKET %%d\\n", e.connect + e.read + e.write + e.timeout))
end
"""


def run_wrk_load(spec: LoadSpec, workdir: Path) -> LoadResult:
    """`wrk` with one thread (a core, like the Python generator), random ids from a Lua table."""
    script = workdir / "bench.lua"
    script.write_text(
        WRK_SCRIPT % {"paths": ",".join(f'"{p}"' for p in spec.paths), "seed": spec.seed}
    )
    base = [
        "wrk",
        "-t1",
        f"-c{spec.connections}",
        "-s",
        str(script),
        "-H",
        f"Authorization: {spec.authorization}",
        f"http://{HOST}:{spec.port}",
    ]
    warmup = subprocess.run(
        [*base, f"-d{max(1, round(spec.warmup_s))}s"], check=True, capture_output=True, text=True
    ).stdout
    warmup_numbers = re.search(r"^BENCH (.*)$", warmup, re.M)
    assert warmup_numbers, f"unexpected wrk output:\n{warmup}"
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_before = process_cpu_s(spec.server_pid)
    out = subprocess.run(
        [*base, f"-d{round(spec.duration_s)}s", "--timeout", "10s"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    server_after = process_cpu_s(spec.server_pid)
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    numbers = re.search(r"^BENCH (.*)$", out, re.M)
    socket_errors = re.search(r"^SOCKET (\d+)$", out, re.M)
    assert numbers and socket_errors, f"unexpected wrk output:\n{out}"
    requests, duration_us, non200, p50, p90, p99, worst = map(int, numbers[1].split())
    warmup_non200 = int(warmup_numbers[1].split()[2])
    duration_s = duration_us / 1e6
    generator_cpu = (
        children_after.ru_utime
        + children_after.ru_stime
        - children_before.ru_utime
        - children_before.ru_stime
    ) / duration_s
    server_cpu = None
    if server_before is not None and server_after is not None:
        server_cpu = (server_after - server_before) / duration_s
    return LoadResult(
        completed=requests,
        duration_s=duration_s,
        p50_ms=p50 / 1000,
        p90_ms=p90 / 1000,
        p99_ms=p99 / 1000,
        max_ms=worst / 1000,
        statuses=Counter({200: requests - non200, 0: non200 + warmup_non200}),
        error_samples=[f"{non200 + warmup_non200} responses were not 200 (wrk keeps no bodies)"]
        if non200 + warmup_non200
        else [],
        socket_errors=int(socket_errors[1]),
        generator_cpu=generator_cpu,
        server_cpu=server_cpu,
    )


# --- Profiling ---------------------------------------------------------------------------------

# (category, substrings of "<file>:<function>"), first match wins. Anything else (C functions,
# the standard library) is charged to the category of its heaviest caller.
CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("auth (Authenticator, key cache, sha256)", ("vgen/api/auth", "vgen/store/keys")),
    ("URL signing (hmac, quote)", ("vgen/storage/signing", "/hmac.py", "urllib/parse")),
    (
        "row -> Task (row_to_task, VideoRequest.from_json)",
        ("vgen/store/tasks.py:row_to_task", "vgen/domain/"),
    ),
    ("DB read (SQLAlchemy Core + sqlite3/psycopg)", ("sqlalchemy", "vgen/store/", "psycopg")),
    (
        "vgen route + body (get_video, render_task, task_body)",
        ("vgen/api/veo", "vgen/service/", "vgen/api/deps"),
    ),
    (
        "thread-pool hop (FastAPI runs sync `def` dependencies in threads)",
        (
            "run_sync_in_worker_thread",
            "anyio/to_thread",
            "starlette/concurrency",
            "threading.py",
            "queue.py:",
        ),
    ),
    ("FastAPI telemetry check (OpenTelemetry, env reads)", ("fastapi/telemetry", "opentelemetry")),
    ("FastAPI routing + dependency injection", ("fastapi/",)),
    ("Starlette routing, middleware, responses", ("starlette/",)),
    ("uvicorn HTTP protocol (httptools, socket writes)", ("uvicorn/", "httptools")),
    ("asyncio / anyio / event loop", ("asyncio/", "anyio/", "uvloop")),
)


def categorise_profile(path: Path) -> tuple[list[tuple[str, float]], float, int]:
    """Own time per category, total own time, and the number of requests profiled."""
    stats = pstats.Stats(str(path))
    entries: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    totals: Counter[str] = Counter()
    requests = 0
    for func, (_cc, ncalls, tottime, _ct, callers) in entries.items():
        filename, _line, name = func
        if filename.endswith("vgen/api/veo.py") and name == "render_task":
            requests = ncalls
        totals[_category(func, callers, entries)] += tottime
    return totals.most_common(), sum(totals.values()), requests


def _category(func: Any, callers: dict[Any, Any], entries: dict[Any, Any], depth: int = 0) -> str:
    filename, _line, name = func
    where = f"{filename}:{name}"
    for category, needles in CATEGORIES:
        if any(needle in where for needle in needles):
            return category
    if callers and depth < 6:
        heaviest = max(callers, key=lambda caller: callers[caller][2])
        return _category(heaviest, entries.get(heaviest, (0, 0, 0, 0, {}))[4], entries, depth + 1)
    return "other"


def print_profile(path: Path, *, top: int = 25) -> None:
    categories, total, requests = categorise_profile(path)
    per_request = f", {requests:,} requests" if requests else ""
    print(
        f"\nvgen server profile (cProfile own time, {total:.2f} s{per_request}; cProfile "
        "inflates Python-heavy code, so read shares, not absolutes):"
    )
    for category, seconds in categories:
        us = f"{seconds / requests * 1e6:7.1f} us/req" if requests else ""
        print(f"  {seconds / total:6.1%}  {us}  {category}")
    print(f"\ntop {top} functions by own time:")
    stats = pstats.Stats(str(path))
    stats.sort_stats("tottime").print_stats(top)


# --- Orchestration -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    settings_kwargs: dict[str, Any]
    seeded: Seeded
    body: bytes
    args: argparse.Namespace
    workdir: Path


def measure(
    plan: Plan, target: str, *, round_no: int, profile_path: Path | None = None
) -> LoadResult:
    """One run against a freshly started server; with `profile_path`, a cProfiled vgen run."""
    if target == "vgen":
        profile = str(profile_path) if profile_path else None
        server = running_server(serve_vgen, plan.settings_kwargs, profile)
    else:
        server = running_server(serve_bare, plan.body)
    with server as (port, pid):
        spec = LoadSpec(
            port=port,
            server_pid=pid,
            paths=[f"/v1/result/{task_id}" for task_id in plan.seeded.ids],
            authorization=f"Bearer {plan.seeded.admin_key}",
            connections=plan.args.connections,
            warmup_s=plan.args.warmup,
            duration_s=plan.args.duration,
            seed=plan.args.seed + round_no,
            profile_server=profile_path is not None,
        )
        if plan.args.generator == "wrk" and profile_path is None:
            return run_wrk_load(spec, plan.workdir)
        return run_python_load(spec)


def sample_body(settings_kwargs: dict[str, Any], seeded: Seeded) -> bytes:
    """A real completed-task response (the bare body's size), after checking each state's read."""
    with running_server(serve_vgen, settings_kwargs, None) as (port, _pid):
        bodies = {}
        for state, ids in seeded.ids_by_state.items():
            status, body = fetch(port, f"/v1/result/{ids[0]}", seeded.admin_key)
            if status != 200:
                raise SystemExit(f"GET /v1/result/<{state} task> answered {status}: {body!r}")
            bodies[state] = body
    if b'"video_url":"http' not in bodies["completed"]:
        raise SystemExit(f"a completed task has no signed video_url: {bodies['completed']!r}")
    return bodies["completed"]


def describe(name: str, result: LoadResult) -> str:
    cpu = ""
    if result.server_cpu is not None:
        cpu += f"  server CPU {result.server_cpu:4.0%}"
    if result.generator_cpu is not None:
        cpu += f"  generator CPU {result.generator_cpu:4.0%}"
    return (
        f"{name:<5} {result.rps:9,.0f} req/s  p50 {result.p50_ms:6.2f} ms  p90 "
        f"{result.p90_ms:6.2f} ms  p99 {result.p99_ms:6.2f} ms  max {result.max_ms:7.2f} ms"
        f"{cpu}"
    )


def report(rounds: list[tuple[LoadResult, LoadResult]]) -> None:
    bares, vgens = [b for b, _ in rounds], [v for _, v in rounds]
    ratios = [vgen.rps / bare.rps for bare, vgen in rounds]
    ratio = statistics.median(ratios)
    print(f"\nsummary (median of {len(rounds)} rounds):")
    for name, results in (("bare", bares), ("vgen", vgens)):
        print(
            f"  {name}  {_median(results, 'rps'):9,.0f} req/s   p50 "
            f"{_median(results, 'p50_ms'):6.2f} ms   p99 {_median(results, 'p99_ms'):6.2f} ms"
        )
    print(f"  ratio vgen/bare  {ratio:.3f}   (rounds: {', '.join(f'{r:.3f}' for r in ratios)})")
    cpu_ratios = [
        v.rps_per_server_cpu / b.rps_per_server_cpu
        for b, v in rounds
        if v.rps_per_server_cpu and b.rps_per_server_cpu
    ]
    if cpu_ratios:
        print(
            f"  ratio per server-process CPU-second  {statistics.median(cpu_ratios):.3f}   "
            "(cross-check: not skewed by CPU that other processes take)"
        )
    p99 = _median(vgens, "p99_ms")
    ratio_ok = "met" if ratio >= GOAL_RATIO else "NOT met"
    p99_ok = "met" if p99 <= GOAL_P99_MS else "NOT met"
    print(
        f"  goal  ratio >= {GOAL_RATIO}: {ratio_ok} ({ratio:.3f});  "
        f"vgen p99 <= {GOAL_P99_MS:.0f} ms: {p99_ok} ({p99:.2f} ms)"
    )
    _warn_about_noise(rounds)


def _median(results: list[LoadResult], attribute: str) -> float:
    return statistics.median(getattr(result, attribute) for result in results)


def _warn_about_noise(rounds: list[tuple[LoadResult, LoadResult]]) -> None:
    starved = [
        n
        for n, pair in enumerate(rounds, 1)
        if any(r.server_cpu is not None and r.server_cpu < 0.85 for r in pair)
    ]
    if starved:
        print(
            f"  note: a server process used < 85% of a core in round(s) {starved}: other "
            "processes took CPU (then trust the CPU-second ratio more than the wall-clock one), "
            "or the server waited on something (PostgreSQL, whose CPU that ratio omits)"
        )
    generator = [b.generator_cpu for b, _ in rounds if b.generator_cpu is not None]
    if generator and max(generator) > 0.9:
        print(
            "  warning: the load generator used > 90% of a core against the bare server, so "
            "it may cap the bare figure (and inflate the ratio); compare with --generator wrk"
        )


def report_errors(results: list[LoadResult]) -> int:
    errors = sum(result.errors for result in results)
    responses = sum(result.statuses.total() for result in results)
    if not errors:
        print(f"errors: none (all {responses:,} responses were 200)")
        return 0
    print(f"ERRORS: {errors:,} non-200 responses or socket errors out of {responses:,}")
    for result in results:
        for sample in result.error_samples:
            print(f"  {sample}")
    return 1


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=10_000, help="tasks to seed (10000)")
    parser.add_argument("--connections", type=int, default=32, help="concurrent connections (32)")
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds (10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds (2)")
    parser.add_argument("--rounds", type=int, default=3, help="bare/vgen rounds (3)")
    parser.add_argument(
        "--generator",
        choices=("python", "wrk"),
        default="python",
        help="load generator: the built-in asyncio client (default) or wrk",
    )
    parser.add_argument(
        "--database-url",
        help="run against this PostgreSQL database (a fresh "
        "schema is created and dropped), e.g. postgresql://postgres@127.0.0.1/test",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="add one cProfiled vgen run and print where its time goes",
    )
    parser.add_argument("--seed", type=int, default=2, help="random seed (2)")
    args = parser.parse_args(argv)
    if args.generator == "wrk" and shutil.which("wrk") is None:
        parser.error("wrk is not installed (apt-get install wrk)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    rng = random.Random(args.seed)
    with (
        tempfile.TemporaryDirectory(prefix="vgen-bench-") as tmp,
        scratch_schema(args.database_url) as database_url,
    ):
        settings_kwargs = {"data_dir": Path(tmp), "run_worker": False, "database_url": database_url}
        started = time.perf_counter()
        seeded = asyncio.run(seed_store(settings_kwargs, count=args.tasks, rng=rng))
        counts = ", ".join(f"{len(ids):,} {state}" for state, ids in seeded.ids_by_state.items())
        database = "PostgreSQL" if database_url else "SQLite"
        print(
            f"seeded {args.tasks:,} tasks ({counts}) in {database} in "
            f"{time.perf_counter() - started:.1f} s; worker off"
        )
        plan = Plan(settings_kwargs, seeded, sample_body(settings_kwargs, seeded), args, Path(tmp))
        generator = (
            "wrk -t1 (Lua: random ids)"
            if args.generator == "wrk"
            else "pure-Python asyncio raw-socket HTTP/1.1 client on uvloop, 1 process"
        )
        print(f"generator: {generator}; {args.connections} keep-alive connections, no pipelining")
        print(
            f"bare body: {len(plan.body)} bytes (a real completed-task response); "
            f"{args.warmup:g} s warm-up + {args.duration:g} s measured per run\n"
        )
        rounds = []
        for round_no in range(1, args.rounds + 1):
            bare = measure(plan, "bare", round_no=round_no)
            print(f"round {round_no}  {describe('bare', bare)}")
            vgen = measure(plan, "vgen", round_no=round_no)
            print(f"round {round_no}  {describe('vgen', vgen)}   ratio {vgen.rps / bare.rps:.3f}")
            rounds.append((bare, vgen))
        report(rounds)
        status = report_errors([result for pair in rounds for result in pair])
        if args.profile:
            profile_path = Path(tmp) / "vgen.prof"
            profiled = measure(plan, "vgen", round_no=0, profile_path=profile_path)
            print(f"\nprofiled run  {describe('vgen', profiled)}")
            print_profile(profile_path)
    return status


if __name__ == "__main__":
    sys.exit(main())
