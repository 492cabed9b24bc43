"""In-flight benchmark (issue #4): worker processes holding 10,000 concurrent remote tasks.

A fake Veo-task upstream (`inflight_upstream.py`, its own process) finishes each job a few
simulated minutes after its submit; one vgen worker (`inflight_worker.py`, its own process, so
its memory and CPU are measured alone) submits, parks, polls, downloads, probes and archives
them all. Prints the worker's peak RSS, its CPU seconds per 1,000 tasks in each phase
(submitting, waiting, polling, completing), the upstream calls per task against the configured
poll pace, and the completion lag (upstream done -> task `completed`).

`--pace fixed|learned|both` (issue 14): the fixed pace, the learned pace (polls timed by the
durations history), or both in the same run, fixed first (its completions are the learned
phase's history), with calls per task and completion lag side by side at the end.

`--database-url` runs it on PostgreSQL (a scratch schema of its own, dropped at the end) and
`--workers N` spreads the tasks over N worker processes (issue #11), each its own `owner_id`;
their CPU and RSS are sampled per process, the phase figures are their sum.

Run: `.venv/bin/python bench/inflight.py` (`--quick` for a 500-task smoke run, `--help`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import http.client
import json
import multiprocessing
import os
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import inflight_pace
from inflight_profile import print_worker_profile
from inflight_report import Measured, print_report, print_states
from inflight_upstream import HOST, JobTiming, SimClock, serve
from inflight_worker import WorkerPlan, run_worker
from ports import free_port, wait_for_port
from scratch import libpq_url, scratch_schema

SPAWN = multiprocessing.get_context("spawn")
PROMPT = (
    "A slow dolly shot down a rain-soaked neon street at night, reflections shimmering on the "
    "wet asphalt, cinematic lighting, shallow depth of field (benchmark task {i})"
)


# --- Processes ---------------------------------------------------------------------------------


@contextlib.contextmanager
def running(process: Any) -> Iterator[Any]:
    """Start `process`; terminate it (then kill) however the block ends, Ctrl-C included."""
    process.start()
    try:
        yield process
    finally:
        if process.is_alive():
            process.terminate()
            process.join(timeout=20)
        if process.is_alive():
            process.kill()
            process.join()


def fetch_json(port: int, path: str) -> Any:
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        conn.request("GET", path)
        return json.loads(conn.getresponse().read())
    finally:
        conn.close()


_PAGE_MB = os.sysconf("SC_PAGE_SIZE") / 2**20


@dataclass(frozen=True)
class Sample:
    at: float  # wall clock
    cpu_s: float
    rss_mb: float


class ProcSampler:
    """Samples a process's CPU time and RSS from /proc every `interval_s`, from outside it, so
    the measured process spends nothing on being measured."""

    def __init__(self, pid: int, *, interval_s: float = 0.1) -> None:
        self._pid, self._interval_s = pid, interval_s
        self._tick = os.sysconf("SC_CLK_TCK")
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ProcSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError, ValueError, IndexError):
                self.samples.append(self.take())
            self._stop.wait(self._interval_s)

    def take(self) -> Sample:
        stat = Path(f"/proc/{self._pid}/stat").read_text().rpartition(")")[2].split()
        utime, stime, rss_pages = int(stat[11]), int(stat[12]), int(stat[21])
        return Sample(time.time(), (utime + stime) / self._tick, rss_pages * _PAGE_MB)


# --- Seeding and watching ----------------------------------------------------------------------


async def seed_tasks(url: str, *, count: int, clock: SimClock, deadline_s: float) -> None:
    """`count` queued relay tasks, inserted through the repository as the API would."""
    from vgen.domain.ids import new_task_id
    from vgen.domain.requests import VideoRequest
    from vgen.service.bootstrap import DEFAULT_TENANT
    from vgen.store.store import Store
    from vgen.store.tasks import NewTask

    store = Store.open(url)
    try:
        for i in range(count):
            now = clock()
            request = VideoRequest(model="veo_3_1_fast", prompt=PROMPT.format(i=i))
            new = NewTask(
                id=new_task_id(),
                tenant_id=DEFAULT_TENANT,
                engine="relay",
                request=request,
                created_at=now,
                deadline_at=now + deadline_s,
            )
            await store.tasks.create(new)
    finally:
        await store.close()


def query_tasks(url: str, query: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    """Rows of a read-only `query` (`?` placeholders) on the task table, SQLite or PostgreSQL."""
    if url.startswith("sqlite"):
        db_path = url.removeprefix("sqlite:///")
        conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)
        conn.row_factory = sqlite3.Row
        try:
            return [dict(row) for row in conn.execute(query, params)]
        finally:
            conn.close()
    from psycopg.rows import dict_row

    cursor = _watching_connection(url).cursor(row_factory=dict_row)
    return list(cursor.execute(query.replace("?", "%s"), params).fetchall())


@functools.cache
def _watching_connection(url: str) -> Any:
    """One connection for all of the watcher's reads (four a second): a new one each time
    would fork a PostgreSQL backend each time, on the cores the measured workers need."""
    import psycopg

    return psycopg.connect(libpq_url(url), autocommit=True)


def count_finished(url: str) -> int:
    from vgen.domain.states import TaskState

    query = "SELECT count(*) AS n FROM tasks WHERE state IN (?, ?)"
    ended = (TaskState.COMPLETED.value, TaskState.FAILED.value)
    return int(query_tasks(url, query, ended)[0]["n"])


def read_tasks(url: str) -> list[dict[str, Any]]:
    return query_tasks(
        url, "SELECT id, state, upstream_id, completed_at, attempts, error FROM tasks"
    )


@dataclass
class ProfileSwitch:
    """Turns the worker's cProfile on and off at the edges of one phase (or never)."""

    phase: str | None
    conn: Any
    path: Path
    window: tuple[float, float] | None = None  # wall clock, once the phase is over
    _on_at: float | None = None

    def update(self, now: float, totals: dict[str, int], *, finished: int, tasks: int) -> None:
        if self.phase is None or self.window is not None:
            return
        starts = {
            "submitting": True,
            "polling": totals["polls"] > 0,
            "completing": totals["done_seen"] > 0,
        }
        ends = {
            "submitting": totals["submits"] >= tasks,
            "polling": totals["done_seen"] > 0,
            "completing": finished >= tasks,
        }
        if self._on_at is None and starts[self.phase]:
            self.conn.send(("profile-on",))
            self._on_at = now
        if self._on_at is not None and ends[self.phase]:
            self.conn.send(("profile-off", str(self.path)))
            self.window = (self._on_at, now)


@dataclass(frozen=True)
class Run:
    args: argparse.Namespace
    clock: SimClock
    database_url: str
    upstream_port: int
    upstream_pid: int
    workdir: Path


def watch_until_done(
    run: Run, switch: ProfileSwitch, samplers: list[ProcSampler], workers: list[Any]
) -> None:
    """Poll the upstream's totals and the task table until every task finished."""
    args = run.args
    started = last_print = time.time()
    limit_s = args.timeout or 3 * (args.job_seconds * (1 + args.job_spread) + 120) / args.speed
    finished = 0
    while finished < args.tasks:
        time.sleep(0.25)
        now = time.time()
        totals = fetch_json(run.upstream_port, "/totals")
        finished = count_finished(run.database_url)
        switch.update(now, totals, finished=finished, tasks=args.tasks)
        if now - last_print >= 10 or finished == args.tasks:
            last_print = now
            _print_progress(run, now - started, totals, finished, samplers)
        for worker in workers:
            if not worker.is_alive():
                raise SystemExit(f"a worker process exited with code {worker.exitcode}")
        if now - started > limit_s:
            print(f"TIMEOUT after {limit_s:.0f} s: {finished:,} of {args.tasks:,} tasks finished")
            return


def _print_progress(
    run: Run, elapsed_s: float, totals: dict[str, int], finished: int, samplers: list[ProcSampler]
) -> None:
    cpu = rss = 0.0
    for sampler in samplers:
        recent = sampler.samples[-11:]
        if len(recent) >= 2 and recent[-1].at > recent[0].at:
            cpu += (recent[-1].cpu_s - recent[0].cpu_s) / (recent[-1].at - recent[0].at)
        rss += recent[-1].rss_mb if recent else 0.0
    print(
        f"  {elapsed_s:6.1f} s real ({elapsed_s * run.clock.speed:6.0f} s sim)  "
        f"submits {totals['submits']:6,}  polls {totals['polls']:7,}  "
        f"downloads {totals['downloads']:6,}  finished {finished:6,}  "
        f"worker CPU {cpu:4.0%}  RSS {rss:5.0f} MB",
        flush=True,
    )


# --- Orchestration -----------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=10_000, help="tasks in flight (10000)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 500 tasks")
    parser.add_argument(
        "--job-seconds", type=float, default=180.0, help="upstream time per job, simulated (180)"
    )
    parser.add_argument(
        "--job-spread", type=float, default=0.0, help="each job takes job-seconds * (1 ± this)"
    )
    parser.add_argument(
        "--first-poll", type=float, default=60.0, help="relay first_poll_s, simulated (60)"
    )
    parser.add_argument(
        "--poll-interval", type=float, default=30.0, help="relay poll_interval_s, simulated (30)"
    )
    parser.add_argument(
        "--speed",
        type=float,
        help="simulated seconds per real second (1; 5 with --quick). Submitting must end "
        "before the first poll is due, or there is no waiting phase to measure",
    )
    parser.add_argument(
        "--concurrency", type=int, help="worker_concurrency (default: Settings' default)"
    )
    parser.add_argument(
        "--log-info", action="store_true", help="log INFO to a file, as `vgen worker` does"
    )
    parser.add_argument(
        "--profile",
        nargs="?",
        const="polling",
        choices=("submitting", "polling", "completing"),
        help="cProfile the worker over one phase (polling) and print where its time goes",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the data directory (and the upstream's stats)"
    )
    parser.add_argument(
        "--database-url",
        help="PostgreSQL URL to run on instead of SQLite (a fresh schema is created and "
        "dropped), e.g. postgresql://postgres@127.0.0.1:5432/test",
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="worker processes, each its own owner_id (1)"
    )
    parser.add_argument("--timeout", type=float, help="give up after this many real seconds")
    parser.add_argument("--seed", type=int, default=4, help="random seed (4)")
    parser.add_argument(
        "--pace",
        choices=("fixed", "learned", "both"),
        default="both",
        help="polling pace: fixed, learned (durations history), or both, same run (both)",
    )
    parser.add_argument(
        "--warmup", type=int, default=50, help="--pace learned: tasks run first for history (50)"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.tasks = 500
    if args.speed is None:
        args.speed = 5.0 if args.quick else 1.0
    return args


def worker_settings(
    args: argparse.Namespace, data_dir: Path, database_url: str | None
) -> dict[str, Any]:
    """Settings' defaults, except: the lease is scaled with the clock speed so it still lasts
    `lease_seconds` of real time (the worker renews it with real-time sleeps)."""
    from vgen.config import Settings

    defaults = Settings()
    kwargs: dict[str, Any] = {
        "data_dir": data_dir,
        "run_worker": False,
        "lease_seconds": defaults.lease_seconds * max(1.0, args.speed),
    }
    if args.concurrency:
        kwargs["worker_concurrency"] = args.concurrency
    if database_url:
        kwargs["database_url"] = database_url
    return kwargs


def print_setup(args: argparse.Namespace, settings_kwargs: dict[str, Any]) -> None:
    from vgen.config import Settings

    s = Settings(**settings_kwargs)
    database = (
        f"PostgreSQL (autovacuum {autovacuum_setting(s.database_url)})"
        if s.database_url
        else "SQLite"
    )
    workers = f"{args.workers} worker processes" if args.workers > 1 else "worker"
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load average before the run: {load} (1, 5, 15 min)")
    print(
        f"{args.tasks:,} relay tasks; upstream job {args.job_seconds:g} s "
        f"(± {args.job_spread:.0%}), first poll {args.first_poll:g} s, then every "
        f"{args.poll_interval:g} s (simulated); clock speed x{args.speed:g}\n"
        f"{workers}: concurrency {s.worker_concurrency}, idle poll {s.worker_idle_poll_seconds:g} "
        f"s real, lease {s.lease_seconds:g} s sim, deadline {s.task_deadline_seconds:g} s sim; "
        f"{database}; uvloop"
    )


def autovacuum_setting(url: str) -> str:
    """The server's `autovacuum`: with it off (this machine's CI PostgreSQL), the churned task
    table is never vacuumed or analyzed and claims get far slower (docs/deploy.md)."""
    import psycopg

    with psycopg.connect(libpq_url(url), autocommit=True) as pg:
        row = pg.execute("SHOW autovacuum").fetchone()
        return str(row[0]) if row else "unknown"


def measure(args: argparse.Namespace, workdir: Path, database_url: str | None) -> int:
    """Every pace phase in turn on one database and one simulated clock (so the durations
    the first phases record are the newest history of the next)."""
    settings_kwargs = worker_settings(args, workdir, database_url)
    print_setup(args, settings_kwargs)
    clock = SimClock(epoch=time.time(), speed=args.speed)
    status, results = 0, {}
    plan = inflight_pace.phases(args.pace, tasks=args.tasks, warmup=args.warmup)
    for n, phase in enumerate(plan):
        url = database_url_of(settings_kwargs)
        history = 0
        if n:  # the database exists from the first phase on (its seeding migrates it)
            inflight_pace.clear_tasks(url)
            history = inflight_pace.history_size(url)
        print(
            f"\n=== {phase.name}: {phase.tasks:,} tasks, "
            f"{'learned' if phase.learned else 'fixed'} pace, "
            f"{history:,} duration samples so far ==="
        )
        phase_args = argparse.Namespace(**{**vars(args), "tasks": phase.tasks})
        kwargs = {**settings_kwargs, "learned_poll_pace": phase.learned}
        code, measured = measure_phase(phase_args, kwargs, clock, workdir)
        if phase.reported:
            status |= code
            results[phase.name] = inflight_pace.figures(measured)
    met = inflight_pace.print_comparison(results, interval_s=args.poll_interval)
    return status if met else 1


def database_url_of(settings_kwargs: dict[str, Any]) -> str:
    from vgen.config import Settings

    return Settings(**settings_kwargs).resolved_database_url()


def measure_phase(
    args: argparse.Namespace, settings_kwargs: dict[str, Any], clock: SimClock, workdir: Path
) -> tuple[int, Measured]:
    from vgen.config import Settings

    settings = Settings(**settings_kwargs)
    port = free_port()
    timing = JobTiming(args.job_seconds, args.job_spread, args.seed)
    upstream = SPAWN.Process(target=serve, args=(port, clock, timing), daemon=True)
    with running(upstream):
        wait_for_port(port, upstream)
        started = time.perf_counter()
        asyncio.run(
            seed_tasks(
                settings.resolved_database_url(),
                count=args.tasks,
                clock=clock,
                deadline_s=settings.task_deadline_seconds,
            )
        )
        print(f"seeded {args.tasks:,} queued tasks in {time.perf_counter() - started:.1f} s")
        url = settings.resolved_database_url()
        run = Run(args, clock, url, port, upstream.pid, workdir)
        return report(run, drive_workers(run, settings_kwargs))


@dataclass(frozen=True)
class WorkerRun:
    """What watching the workers yielded, besides what the upstream and the database hold."""

    samples: list[list[Sample]]  # per worker process
    usages: list[dict[str, float]]  # per worker process
    upstream_share: float
    switch: ProfileSwitch

    def summed_cpu(self) -> list[tuple[float, float]]:
        """(wall clock, CPU seconds of all workers): the other workers' samples interpolated at
        the first one's sample times."""
        first, *others = self.samples
        return [(s.at, s.cpu_s + sum(_cpu_at(o, s.at) for o in others)) for s in first]

    def summed_usage(self) -> dict[str, float]:
        return {
            "ru_maxrss_mb": max(u["ru_maxrss_mb"] for u in self.usages),
            "vm_hwm_mb": max(u["vm_hwm_mb"] for u in self.usages),
            "cpu_s": sum(u["cpu_s"] for u in self.usages),
        }


def _cpu_at(samples: list[Sample], at: float) -> float:
    if not samples:
        return 0.0
    before = [s for s in samples if s.at <= at]
    if not before:
        return samples[0].cpu_s
    after = [s for s in samples if s.at > at]
    if not after:
        return before[-1].cpu_s
    a, b = before[-1], after[0]
    return a.cpu_s + (b.cpu_s - a.cpu_s) * (at - a.at) / (b.at - a.at)


def drive_workers(run: Run, settings_kwargs: dict[str, Any]) -> WorkerRun:
    """Start the workers, watch them until every task finished, stop them and collect their
    usage. The profile (`--profile`) is the first worker's."""
    args = run.args
    plans = [
        WorkerPlan(
            settings_kwargs,
            run.clock,
            f"http://{HOST}:{run.upstream_port}",
            first_poll_s=args.first_poll,
            poll_interval_s=args.poll_interval,
            log_path=run.workdir / f"worker{n or ''}.log" if args.log_info else None,
            owner_id="bench-worker" if args.workers == 1 else f"bench-worker-{n}",
        )
        for n in range(args.workers)
    ]
    pipes = [SPAWN.Pipe() for _ in plans]
    workers = [
        SPAWN.Process(target=run_worker, args=(theirs, plan), daemon=True)
        for plan, (_, theirs) in zip(plans, pipes, strict=True)
    ]
    with contextlib.ExitStack() as stack:
        for worker in workers:
            stack.enter_context(running(worker))
        for ours, _ in pipes:
            if not ours.poll(120):
                raise SystemExit("a worker did not start")
            ours.recv()
        switch = ProfileSwitch(args.profile, pipes[0][0], run.workdir / "worker.prof")
        upstream = ProcSampler(run.upstream_pid)
        upstream_before = upstream.take()
        samplers = [stack.enter_context(ProcSampler(w.pid)) for w in workers]
        watch_until_done(run, switch, samplers, workers)
        upstream_after = upstream.take()
        for ours, _ in pipes:
            ours.send(("stop",))
        usages = []
        for ours, _ in pipes:
            if not ours.poll(60):
                raise SystemExit("a worker did not stop")
            usages.append(ours.recv()[1])
    upstream_cpu_s = upstream_after.cpu_s - upstream_before.cpu_s
    return WorkerRun(
        [sampler.samples for sampler in samplers],
        usages,
        upstream_cpu_s / (upstream_after.at - upstream_before.at),
        switch,
    )


def report(run: Run, worker: WorkerRun) -> tuple[int, Measured]:
    """Print the figures (and the profile); 0 when every task completed and every goal is met."""
    stats = fetch_json(run.upstream_port, "/stats")
    if run.args.keep:
        (run.workdir / "upstream-stats.json").write_text(json.dumps(stats))
    rows = read_tasks(run.database_url)
    unfinished = print_states(rows)
    if stats["unknown"]:
        print(f"polls for unknown job ids: {stats['unknown']:,}")
    measured = Measured(
        tasks=run.args.tasks,
        first_poll_s=run.args.first_poll,
        poll_interval_s=run.args.poll_interval,
        clock=run.clock,
        jobs=stats["jobs"],
        poll_times=stats["poll_times"],
        download_times=stats["download_times"],
        rows=rows,
        cpu=worker.summed_cpu(),
        usage=worker.summed_usage(),
        peak_sampled_rss_mb=max((s.rss_mb for w in worker.samples for s in w), default=0.0),
        upstream_share=worker.upstream_share,
    )
    ok = print_report(measured)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load average at the end: {load} (1, 5, 15 min)")
    if len(worker.usages) > 1:
        print_per_worker(worker)
    switch = worker.switch
    if switch.window is not None:
        start, end = switch.window
        print_worker_profile(
            switch.path,
            phase=switch.phase or "",
            seconds=end - start,
            calls=measured.calls_between(start, end),
        )
    return (0 if ok and unfinished == 0 else 1), measured


def print_per_worker(worker: WorkerRun) -> None:
    """CPU (and peak RSS) per worker process, from its own getrusage at exit."""
    total = sum(u["cpu_s"] for u in worker.usages)
    each = " / ".join(f"{u['cpu_s']:.1f}" for u in worker.usages)
    peaks = " / ".join(f"{u['vm_hwm_mb']:.0f}" for u in worker.usages)
    print(
        f"\nworker processes: {len(worker.usages)}; CPU s sum {total:.1f}, per worker {each}; "
        f"peak RSS per worker {peaks} MB"
    )


@contextlib.contextmanager
def scratch_dir(*, keep: bool) -> Iterator[Path]:
    if not keep:
        with tempfile.TemporaryDirectory(prefix="vgen-inflight-") as tmp:
            yield Path(tmp)
        return
    kept = Path(tempfile.mkdtemp(prefix="vgen-inflight-"))
    try:
        yield kept
    finally:
        print(f"kept the database, archive and upstream-stats.json in {kept}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with (
        scratch_dir(keep=args.keep) as tmp,
        scratch_schema(args.database_url, prefix="vgen_inflight") as database_url,
    ):
        try:
            return measure(args, tmp, database_url)
        except KeyboardInterrupt:
            print("interrupted")
            return 130


if __name__ == "__main__":
    sys.exit(main())
