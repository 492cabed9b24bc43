"""ETA accuracy (issue 14): how close `eta_seconds` comes to the real time a queued task takes
to complete, on a steady workload.

A real `vgen serve` (its own process, SQLite, one `local` render slot) renders `--warmup` tasks
one after another, which gives the model a duration history on the target; then `--tasks` tasks
of the same kind are queued at once. Right after each create the task's `eta_seconds` is read;
its completion is watched by polling. Printed: per task the ETA, the real time to completion
and the error, then the mean and worst absolute error (the goal is within 30 %).

Run: `.venv/bin/python bench/queue_eta.py [--tasks 8] [--warmup 4]`
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from ports import HOST, free_port

REQUEST = {"model": "veo_3_1_fast", "prompt": "a steady workload", "resolution": "720p"}


def start_server(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "VGEN_DATA_DIR": str(data_dir),
        "VGEN_PORT": str(port),
        "VGEN_LOCAL_PROCESSES": "1",
        "VGEN_WORKER_IDLE_POLL_SECONDS": "0.1",
        "VGEN_LOG_LEVEL": "WARNING",
    }
    vgen = Path(sys.executable).with_name("vgen")
    return subprocess.Popen([str(vgen), "serve"], env=env, stdout=subprocess.DEVNULL)


def wait_ready(client: httpx.Client) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if client.get("/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError("vgen did not start")


def run_one(client: httpx.Client) -> None:
    task_id = client.post("/v1/veo/videos", json=REQUEST).json()["id"]
    while client.get(f"/v1/result/{task_id}").json()["status"] not in ("completed", "failed"):
        time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir, port = Path(tmp), free_port()
        server = start_server(data_dir, port)
        try:
            with httpx.Client(base_url=f"http://{HOST}:{port}", timeout=30) as probe:
                wait_ready(probe)
            key = (data_dir / "admin.key").read_text().strip()
            headers = {"Authorization": f"Bearer {key}"}
            with httpx.Client(base_url=f"http://{HOST}:{port}", headers=headers) as client:
                for _ in range(args.warmup):
                    run_one(client)
                queued: list[tuple[str, float, int | None]] = []
                for _ in range(args.tasks):
                    created = time.monotonic()
                    task_id = client.post("/v1/veo/videos", json=REQUEST).json()["id"]
                    body = client.get(f"/v1/result/{task_id}").json()
                    queued.append((task_id, created, body.get("eta_seconds")))
                done: dict[str, float] = {}
                while len(done) < len(queued):
                    for task_id, _, _ in queued:
                        if task_id not in done:
                            status = client.get(f"/v1/result/{task_id}").json()["status"]
                            if status in ("completed", "failed"):
                                done[task_id] = time.monotonic()
                    time.sleep(0.1)
        finally:
            server.terminate()
            server.wait(timeout=30)
    errors = []
    print(f"{'task':>4} {'eta s':>7} {'real s':>7} {'error':>7}")
    for n, (task_id, created, eta) in enumerate(queued, 1):
        real = done[task_id] - created
        error = None if eta is None else abs(eta - real) / real
        if error is not None:
            errors.append(error)
        shown = "-" if error is None else f"{100 * error:.0f} %"
        print(f"{n:>4} {eta if eta is not None else '-':>7} {real:>7.1f} {shown:>7}")
    if errors:
        print(f"mean error {100 * statistics.mean(errors):.0f} %, worst {100 * max(errors):.0f} %")


if __name__ == "__main__":
    main()
