"""Load generators for bench/api.py: a cheap raw-socket asyncio HTTP/1.1 client (default) and
wrk, each in a process of its own, recording per-request latency."""

import asyncio
import contextlib
import math
import multiprocessing
import os
import queue
import random
import re
import resource
import signal
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

HOST = "127.0.0.1"
SPAWN = multiprocessing.get_context("spawn")


def process_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of `pid` so far (Linux /proc; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
