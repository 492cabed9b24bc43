"""The measured process of `bench/inflight.py`: one vgen `Worker` with one relay engine, as
`vgen worker` builds it, on the simulated clock; controlled over a pipe.

Commands (tuples): `("profile-on",)`, `("profile-off", path)` (write the cProfile stats there),
`("stop",)`. On stop the worker is cancelled and the process answers with its own resource usage.
"""

from __future__ import annotations

import asyncio
import cProfile
import logging
import resource
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from inflight_upstream import SimClock


@dataclass(frozen=True)
class WorkerPlan:
    settings_kwargs: dict[str, Any]
    clock: SimClock
    upstream_url: str
    first_poll_s: float
    poll_interval_s: float
    log_path: Path | None  # INFO log lines, formatted as `vgen worker` does, go here
    owner_id: str = "bench-worker"


def run_worker(conn: Connection, plan: WorkerPlan) -> None:
    """Process entry point. uvloop, as under `vgen serve` (uvicorn picks it when installed)."""
    import uvloop

    if plan.log_path is not None:
        _log_like_vgen(plan.log_path)
    uvloop.run(_serve(conn, plan))


async def _serve(conn: Connection, plan: WorkerPlan) -> None:
    import anyio

    from vgen.config import Settings
    from vgen.engines.registry import engine_http_client
    from vgen.store.store import Store

    settings = Settings(**plan.settings_kwargs)
    store = Store.open(settings.resolved_database_url())
    http_client = engine_http_client()
    worker = _build_worker(plan, settings, store=store, http_client=http_client)
    # CPU time, not wall time: on 2 shared cores a wall-clock profile charges a socket send
    # with the time PostgreSQL (woken by it) or another process held the core.
    profiler = cProfile.Profile(time.process_time)
    stopped = anyio.Event()

    def on_command() -> None:
        command = conn.recv()
        if command[0] == "profile-on":
            profiler.enable()
        elif command[0] == "profile-off":
            profiler.disable()
            profiler.dump_stats(command[1])
        elif command[0] == "stop":
            stopped.set()

    asyncio.get_running_loop().add_reader(conn.fileno(), on_command)
    conn.send(("ready", time.time()))
    try:
        async with anyio.create_task_group() as group:
            group.start_soon(worker.run)
            await stopped.wait()
            group.cancel_scope.cancel()
    finally:
        asyncio.get_running_loop().remove_reader(conn.fileno())
        await http_client.aclose()
        await store.close()
    conn.send(("usage", _usage()))


def _build_worker(plan: WorkerPlan, settings: Any, *, store: Any, http_client: Any) -> Any:
    """The worker `vgen worker` would build for one relay target (no signer: no images)."""
    from vgen.engines.relay import RelayEngine
    from vgen.storage.local_disk import LocalDiskStorage
    from vgen.worker.runner import Worker

    engine = RelayEngine(
        base_url=plan.upstream_url,
        api_key=None,
        client=http_client,
        poll_interval_s=plan.poll_interval_s,
        first_poll_s=plan.first_poll_s,
    )
    return Worker(
        store=store,
        engines={"relay": engine},
        storage=LocalDiskStorage(settings.data_dir / "archive"),
        settings=settings,
        clock=plan.clock,
        owner_id=plan.owner_id,
    )


def _usage() -> dict[str, float]:
    own = resource.getrusage(resource.RUSAGE_SELF)
    status = Path("/proc/self/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return {
        "ru_maxrss_mb": own.ru_maxrss / 1024,
        "vm_hwm_mb": int(fields["VmHWM"].split()[0]) / 1024,
        "cpu_s": own.ru_utime + own.ru_stime,
    }


def _log_like_vgen(path: Path) -> None:
    """INFO to a file with `vgen worker`'s format (it logs a line per claim and completion)."""
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
