"""Load generators for bench/api.py: wrk (the primary figure, as an operator measures) and a
cheap raw-socket asyncio HTTP/1.1 client (the second figure), each in a process of its own."""

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


# Rotates through the paths, one request object per path built once per thread; each thread
# starts at its own offset. No `response` callback: wrk then parses bodies in Lua, which would
# make the generator (not the server) the bottleneck.
WRK_SCRIPT = """
local paths = {%(paths)s}
local next_offset = 0
function setup(thread)
  thread:set("offset", next_offset)
  next_offset = next_offset + math.floor(#paths / 2) + 1
end
function init(args)
  requests = {}
  for i, path in ipairs(paths) do requests[i] = wrk.format("GET", path) end
  position = offset
end
function request()
  position = position %% #requests + 1
  return requests[position]
end
"""

_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


@dataclass(frozen=True)
class WrkSpec:
    """One `wrk -t<threads> -c<connections> -d<duration>s --latency` run."""

    port: int
    server_pid: int
    paths: list[str]
    authorization: str
    threads: int = 2
    connections: int = 32
    duration_s: int = 10
    warmup_s: int = 2


def wrk_command(spec: WrkSpec, script: Path, *, duration_s: int) -> list[str]:
    return [
        "wrk",
        f"-t{spec.threads}",
        f"-c{spec.connections}",
        f"-d{duration_s}s",
        "--latency",
        "-s",
        str(script),
        "-H",
        f"Authorization: {spec.authorization}",
        f"http://{HOST}:{spec.port}",
    ]


def run_wrk_load(spec: WrkSpec, workdir: Path) -> LoadResult:
    """A warm-up run, then the measured one; figures from wrk's own summary and `--latency`
    distribution (p50/p90/p99), server CPU from /proc."""
    script = workdir / "rotate.lua"
    script.write_text(WRK_SCRIPT % {"paths": ",".join(f'"{p}"' for p in spec.paths)})
    if spec.warmup_s > 0:
        warm = _run_wrk(wrk_command(spec, script, duration_s=spec.warmup_s))
        warm_errors = _wrk_errors(warm)
    else:
        warm_errors = (0, 0)
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_before = process_cpu_s(spec.server_pid)
    out = _run_wrk(wrk_command(spec, script, duration_s=spec.duration_s))
    server_after = process_cpu_s(spec.server_pid)
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    summary = re.search(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m),", out, re.M)
    assert summary, f"unexpected wrk output:\n{out}"
    requests = int(summary[1])
    duration_s = float(summary[2]) * _UNIT_MS[summary[3]] / 1000
    non2xx, socket_errors = _wrk_errors(out)
    generator_cpu = (
        children_after.ru_utime
        + children_after.ru_stime
        - children_before.ru_utime
        - children_before.ru_stime
    ) / duration_s
    server_cpu = None
    if server_before is not None and server_after is not None:
        server_cpu = (server_after - server_before) / duration_s
    bad = non2xx + warm_errors[0]
    return LoadResult(
        completed=requests - non2xx,
        duration_s=duration_s,
        p50_ms=_wrk_percentile(out, 50),
        p90_ms=_wrk_percentile(out, 90),
        p99_ms=_wrk_percentile(out, 99),
        max_ms=_wrk_max_ms(out),
        statuses=Counter({200: requests - non2xx, 0: bad}),
        error_samples=[f"{bad} responses were not 2xx (wrk keeps no bodies)"] if bad else [],
        socket_errors=socket_errors + warm_errors[1],
        generator_cpu=generator_cpu,
        server_cpu=server_cpu,
    )


def _run_wrk(command: list[str]) -> str:
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def _wrk_percentile(out: str, percent: int) -> float:
    found = re.search(rf"^\s*{percent}%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
    assert found, f"no {percent}% line in wrk's --latency output:\n{out}"
    return float(found[1]) * _UNIT_MS[found[2]]


def _wrk_max_ms(out: str) -> float:
    found = re.search(r"^\s*Latency\s+\S+\s+\S+\s+([\d.]+)(us|ms|s|m)", out, re.M)
    assert found, f"no Latency line in wrk's output:\n{out}"
    return float(found[1]) * _UNIT_MS[found[2]]


def _wrk_errors(out: str) -> tuple[int, int]:
    """(non-2xx/3xx responses, socket errors) of one wrk run."""
    non2xx = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", out)
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    return (
        int(non2xx[1]) if non2xx else 0,
        sum(int(n) for n in sockets.groups()) if sockets else 0,
    )
