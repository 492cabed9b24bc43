"""Cost of one status poll inside one process: vgen's against a bare Starlette endpoint's.

Each request goes through the same server code `bench/api.py` runs (uvicorn's httptools protocol,
its proxy-headers layer, then the app) but over an in-memory transport instead of a socket, so
no socket, no load generator and no other process is counted. `wrk` figures on a shared 2-core
machine move by ±30 % between runs; these move far less.

Two measures:
- time (default): CPU µs per request (this process's, user + system: SQLite's locking calls
  included), best of a few batches, vgen and bare side by side;
- `--callgrind`: instructions per request under `valgrind --tool=callgrind` (user space only),
  counted over exactly the measured batch (client requests start and stop the count), repeatable
  to well under 1 %. Needs valgrind's headers and a C compiler.

`--connections N` sends one request on each of N connections per event-loop turn, as a server
under wrk's 32 connections reads several sockets per turn (default 1: one poll per turn).

Run: `.venv/bin/python bench/poll_cost.py [--callgrind] [--connections N]` (`--help` for the
options).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from api import seed_store

WARM_UP = 400  # requests before the measured ones: every cache filled, every path taken once
COMPLETED_IDS = 200  # as bench/api.py's wrk run: rotating over 200 completed tasks
TASKS = 10_000  # as bench/api.py seeds
HOST = "127.0.0.1"
POLLS_PER_SECOND = 8000  # vgen's rate under bench/api.py's wrk: what its clock advances by


class PollClock:
    """vgen's clock: a second passes every `POLLS_PER_SECOND` requests, whatever they cost here
    (under callgrind one costs ~200 times its real time). Time-dependent caches (a body is
    rendered once per task and second) then hit as often as in a real run, deterministically."""

    def __init__(self) -> None:
        self.start = time.time()
        self.requests = 0

    def __call__(self) -> float:
        return self.start + self.requests / POLLS_PER_SECOND


class _Transport(asyncio.Transport):
    """Collects what the server writes; resolves `done` once a whole response was written (the
    body follows the head in a second write)."""

    def __init__(self) -> None:
        super().__init__()
        self.done: asyncio.Future[None] | None = None
        self.writes = 0
        self.head = b""

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": (HOST, 8000), "peername": (HOST, 50000)}.get(name, default)

    def write(self, data: bytes | bytearray | memoryview) -> None:  # type: ignore[override]
        self.writes += 1
        if self.writes % 2 == 1:
            self.head = bytes(data)
        if self.writes % 2 == 0 and self.done is not None and not self.done.done():
            self.done.set_result(None)

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass


async def drive(
    app: Any,
    paths: list[str],
    authorization: str,
    requests: int,
    clock: PollClock,
    *,
    connections: int = 1,
) -> float:
    """Send `requests` keep-alive GETs over `connections` in-memory connections, one request on
    each per event-loop turn (as a server under load reads several sockets in one turn); return
    the CPU seconds they took (this process's, user and system: other processes' load does not
    count)."""
    import uvicorn
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    from uvicorn.server import ServerState

    config = uvicorn.Config(app, http="httptools", log_level="warning", access_log=False)
    config.load()
    loop = asyncio.get_running_loop()
    server_state = ServerState()
    links = []
    for _ in range(connections):
        protocol = HttpToolsProtocol(config, server_state, {}, _loop=loop)
        transport = _Transport()
        protocol.connection_made(transport)
        links.append((protocol, transport))
    raw = [
        (
            f"GET {path} HTTP/1.1\r\nHost: {HOST}:8000\r\nAuthorization: {authorization}\r\n\r\n"
        ).encode()
        for path in paths
    ]
    started = time.process_time()
    for n in range(0, requests, connections):
        for offset, (protocol, transport) in enumerate(links):
            transport.done = loop.create_future()
            clock.requests += 1
            protocol.data_received(raw[(n + offset) % len(raw)])
        for _, transport in links:
            await transport.done
    elapsed = time.process_time() - started
    for _, transport in links:
        if not transport.head.startswith(b"HTTP/1.1 200"):
            raise SystemExit(f"the server did not answer 200: {transport.head!r}")
    return elapsed


def bare_app(body: bytes) -> Any:
    """The bare Starlette endpoint of bench/api.py, the same JSON bytes for every id."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def result(_request: Request) -> Response:
        return Response(body, media_type="application/json")

    return Starlette(routes=[Route("/v1/result/{task_id}", result)])


async def run(
    target: str,
    requests: int,
    rounds: int,
    workdir: Path,
    markers: _Markers | None = None,
    *,
    connections: int = 1,
) -> list[float]:
    """µs per request of each of `rounds` batches against `target` ("vgen" or "bare"), after a
    warm-up batch. With `markers` (under callgrind), the batches are what callgrind counts."""
    from vgen.api.app import create_app
    from vgen.config import Settings

    settings_kwargs: dict[str, Any] = {"data_dir": workdir, "run_worker": False}
    seeded = await seed_store(settings_kwargs, count=TASKS, rng=random.Random(2))
    paths = [f"/v1/result/{task_id}" for task_id in seeded.ids_by_state["completed"]]
    paths = paths[:COMPLETED_IDS]
    authorization = f"Bearer {seeded.admin_key}"
    settings = Settings(**settings_kwargs, public_url=f"http://{HOST}:8000")
    clock = PollClock()
    app = create_app(settings, clock=clock)
    timings = []
    async with app.router.lifespan_context(app):
        if target == "bare":
            app = bare_app(await _sample_body(app, paths[0], authorization))
        if markers is not None:
            markers.start()
        await drive(app, paths, authorization, WARM_UP, clock, connections=connections)
        if markers is not None:
            markers.zero()
        for _ in range(rounds):
            elapsed = await drive(
                app, paths, authorization, requests, clock, connections=connections
            )
            timings.append(elapsed / requests * 1e6)
        if markers is not None:
            markers.dump()
    return timings


async def _sample_body(app: Any, path: str, authorization: str) -> bytes:
    import httpx

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=f"http://{HOST}:8000") as client:
        response = await client.get(path, headers={"Authorization": authorization})
    response.raise_for_status()
    return response.content


def in_process(
    target: str,
    requests: int,
    rounds: int,
    markers: _Markers | None = None,
    *,
    connections: int = 1,
) -> list[float]:
    import uvloop

    with tempfile.TemporaryDirectory(prefix="vgen-poll-cost-") as tmp:
        return uvloop.run(
            run(target, requests, rounds, Path(tmp), markers, connections=connections)
        )


# Client requests to callgrind, built on the fly (valgrind's headers and a C compiler needed):
# instrumentation starts after the imports (which then run ~10x faster), and the counters cover
# exactly the measured requests.
_MARKERS_C = """
#include <valgrind/callgrind.h>
void start(void) { CALLGRIND_START_INSTRUMENTATION; }
void zero(void) { CALLGRIND_ZERO_STATS; }
void dump(void) { CALLGRIND_DUMP_STATS_AT("measured"); }
"""


class _Markers:
    def __init__(self, library: str) -> None:
        import ctypes

        self._lib = ctypes.CDLL(library)

    def start(self) -> None:
        self._lib.start()

    def zero(self) -> None:
        self._lib.zero()

    def dump(self) -> None:
        self._lib.dump()


def build_markers(workdir: Path) -> Path:
    source, library = workdir / "markers.c", workdir / "markers.so"
    source.write_text(_MARKERS_C)
    subprocess.run(["cc", "-O1", "-shared", "-fPIC", "-o", str(library), str(source)], check=True)
    return library


def callgrind_instructions(target: str, requests: int, *, connections: int = 1) -> int:
    """Instructions that `requests` polls of `target` take (after a warm-up), under callgrind."""
    with tempfile.TemporaryDirectory(prefix="vgen-callgrind-") as tmp:
        library = build_markers(Path(tmp))
        out = Path(tmp) / "callgrind.out"
        command = [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            f"--callgrind-out-file={out}",
            sys.executable,
            __file__,
            "--target",
            target,
            "--requests",
            str(requests),
            "--rounds",
            "1",
            "--connections",
            str(connections),
            "--markers",
            str(library),
        ]
        env = dict(os.environ, PYTHONHASHSEED="0")
        completed = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        if completed.returncode != 0:
            raise SystemExit(completed.stderr[-2000:])
        dumps = [path for path in Path(tmp).iterdir() if path.name.startswith("callgrind.out")]
        for dump in dumps:
            text = dump.read_text()
            if "Trigger: Client Request: measured" in text:
                summary = re.search(r"^summary: (\d+)", text, re.MULTILINE)
                if summary is not None:
                    return int(summary.group(1))
        raise SystemExit("no measured dump in the callgrind output")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", choices=("vgen", "bare", "both"), default="both")
    parser.add_argument(
        "--requests", type=int, help="requests per batch (5,000; under --callgrind 1,000)"
    )
    parser.add_argument("--rounds", type=int, default=5, help="batches; the best counts (5)")
    parser.add_argument(
        "--connections",
        type=int,
        default=1,
        help="in-memory connections, one request on each per event-loop turn (1)",
    )
    parser.add_argument(
        "--callgrind",
        action="store_true",
        help="count instructions under valgrind instead (one batch of --requests)",
    )
    parser.add_argument("--markers", help=argparse.SUPPRESS)  # set by --callgrind
    args = parser.parse_args(argv)
    targets = ("vgen", "bare") if args.target == "both" else (args.target,)
    args.requests = args.requests or (1000 if args.callgrind else 5000)
    if args.requests % args.connections or WARM_UP % args.connections:
        parser.error(f"--requests and {WARM_UP} (the warm-up) must be multiples of --connections")
    if args.callgrind:
        counts = {
            t: callgrind_instructions(t, args.requests, connections=args.connections)
            / args.requests
            for t in targets
        }
        for target, count in counts.items():
            print(f"{target:<5} {count:12,.0f} instructions per request")
        if len(counts) == 2:
            print(f"bare/vgen {counts['bare'] / counts['vgen']:.3f}")
        return 0
    best = {}
    for target in targets:
        markers = _Markers(args.markers) if args.markers else None
        timings = in_process(
            target, args.requests, args.rounds, markers, connections=args.connections
        )
        best[target] = min(timings)
        shown = ", ".join(f"{t:.1f}" for t in timings)
        print(f"{target:<5} best {best[target]:7.1f} µs per request   (batches: {shown})")
    if len(best) == 2:
        print(f"bare/vgen {best['bare'] / best['vgen']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
