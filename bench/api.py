"""Status-polling benchmark (issues #2, #10): vgen's `GET /v1/result/{id}` against bare Starlette.

Seeds a store with 10,000 tasks (worker off), then loads vgen and a bare Starlette endpoint that
returns the same JSON bytes as a completed task's, one server at a time under identical uvicorn
options, alternating vgen and bare. The primary figure is `wrk -t2 -c32 -d10s --latency` rotating
over 200 completed task ids; the built-in Python generator (random ids of every state) is the
second. Prints vgen's throughput as a ratio of bare (median over rounds) and vgen's p50/p99.

Run: `.venv/bin/python bench/api.py` (`--help` for the options).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import http.client
import multiprocessing
import random
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loadgen import LoadResult, LoadSpec, WrkSpec, run_python_load, run_wrk_load, wrk_command
from ports import free_port, wait_for_port
from profile_report import print_profile
from scratch import scratch_schema

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


def fetch(port: int, path: str, key: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {key}"})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


# --- Orchestration -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    settings_kwargs: dict[str, Any]
    seeded: Seeded
    body: bytes
    args: argparse.Namespace
    workdir: Path

    def wrk_spec(self, port: int, pid: int) -> WrkSpec:
        """wrk rotating over the first `--ids` completed tasks (the heaviest read: a signed
        `video_url` is minted on each)."""
        completed = self.seeded.ids_by_state["completed"][: self.args.ids]
        return WrkSpec(
            port=port,
            server_pid=pid,
            paths=[f"/v1/result/{task_id}" for task_id in completed],
            authorization=f"Bearer {self.seeded.admin_key}",
            threads=self.args.threads,
            connections=self.args.connections,
            duration_s=round(self.args.duration),
            warmup_s=round(self.args.warmup),
        )


def measure(
    plan: Plan,
    target: str,
    *,
    generator: str,
    round_no: int,
    profile_path: Path | None = None,
) -> LoadResult:
    """One run against a freshly started server; with `profile_path`, a cProfiled vgen run."""
    if target == "vgen":
        profile = str(profile_path) if profile_path else None
        server = running_server(serve_vgen, plan.settings_kwargs, profile)
    else:
        server = running_server(serve_bare, plan.body)
    with server as (port, pid):
        if generator == "wrk" and profile_path is None:
            return run_wrk_load(plan.wrk_spec(port, pid), plan.workdir)
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


def report(title: str, rounds: list[tuple[LoadResult, LoadResult]]) -> None:
    bares, vgens = [b for b, _ in rounds], [v for _, v in rounds]
    ratios = [vgen.rps / bare.rps for bare, vgen in rounds]
    ratio = statistics.median(ratios)
    print(f"\n{title}: summary (median of {len(rounds)} rounds):")
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
    parser.add_argument("--ids", type=int, default=200, help="completed ids wrk rotates over (200)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    parser.add_argument("--connections", type=int, default=32, help="concurrent connections (32)")
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds (10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds (2)")
    parser.add_argument("--rounds", type=int, default=3, help="vgen/bare rounds (3)")
    parser.add_argument(
        "--generator",
        choices=("both", "wrk", "python"),
        default="both",
        help="wrk (the primary figure), the built-in asyncio client, or both (default)",
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
    if args.generator != "python" and shutil.which("wrk") is None:
        parser.error("wrk is not installed (apt-get install wrk), or use --generator python")
    return args


def run_rounds(plan: Plan, generator: str) -> list[tuple[LoadResult, LoadResult]]:
    """Alternate vgen and bare (A B A B ...), each on a freshly started server."""
    if generator == "wrk":
        example = wrk_command(plan.wrk_spec(0, 0), Path("rotate.lua"), duration_s=10)
        example[-2] = "Authorization: Bearer <admin key>"
        shown = " ".join(f"'{a}'" if " " in a else a for a in example[:-1])
        print(
            f"\nwrk: `{shown} http://127.0.0.1:PORT`, rotating over {plan.args.ids} completed ids"
        )
    else:
        print(
            "\npython: pure-Python asyncio raw-socket HTTP/1.1 client on uvloop, 1 process, "
            f"random ids of every state; {plan.args.connections} keep-alive connections"
        )
    rounds = []
    for round_no in range(1, plan.args.rounds + 1):
        vgen = measure(plan, "vgen", generator=generator, round_no=round_no)
        print(f"round {round_no}  {describe('vgen', vgen)}")
        bare = measure(plan, "bare", generator=generator, round_no=round_no)
        print(f"round {round_no}  {describe('bare', bare)}   ratio {vgen.rps / bare.rps:.3f}")
        rounds.append((bare, vgen))
    report(generator, rounds)
    return rounds


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
        print(
            f"bare body: {len(plan.body)} bytes (a real completed-task response); "
            f"{args.warmup:g} s warm-up + {args.duration:g} s measured per run"
        )
        generators = ("wrk", "python") if args.generator == "both" else (args.generator,)
        results = []
        for generator in generators:
            results += [result for pair in run_rounds(plan, generator) for result in pair]
        status = report_errors(results)
        if args.profile:
            profile_path = Path(tmp) / "vgen.prof"
            profiled = measure(
                plan, "vgen", generator="python", round_no=0, profile_path=profile_path
            )
            print(f"\nprofiled run  {describe('vgen', profiled)}")
            print_profile(profile_path)
    return status


if __name__ == "__main__":
    sys.exit(main())
