"""`vgen batch JOBS.jsonl --out DIR`: many videos, resumable.

A state file in DIR records each job's task id the moment it is created, so a re-run skips
finished jobs, resumes polling tasks already created, and retries failed ones. Creates carry an
Idempotency-Key derived from the job, so even a kill between the create and the state write
never makes a second task.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.live import Live
from rich.table import Table

from vgen.cli.connection import ApiKeyOption, Connection, ServerOption, resolve
from vgen.cli.output import console
from vgen.client import APIError, AsyncClient, Task, TaskFailedError, VgenClientError
from vgen.domain.catalog import DEFAULT_MODEL

STATE_FILE = ".vgen-batch-state.json"
_OPTION_KEYS = ("resolution", "aspect_ratio", "duration", "negative_prompt", "seed")


@dataclass(frozen=True)
class Job:
    key: str
    output: str
    prompt: str
    spec: dict[str, Any]


@dataclass
class JobState:
    task_id: str | None = None
    status: str = "pending"  # pending | created | completed | failed | create_failed
    progress: int = 0
    error: str | None = None
    attempt: int = 0


def read_jobs(path: Path) -> list[Job]:
    jobs = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            spec = json.loads(line)
        except ValueError as exc:
            raise typer.BadParameter(f"line {number} is not JSON: {exc}") from exc
        if not isinstance(spec, dict) or not isinstance(spec.get("prompt"), str):
            raise typer.BadParameter(f'line {number} needs a "prompt" string')
        output = str(spec.get("output") or spec.get("name") or f"job-{number:04d}.mp4")
        canonical = json.dumps({**spec, "output": output}, sort_keys=True)
        key = hashlib.sha256(canonical.encode()).hexdigest()[:32]
        jobs.append(Job(key=key, output=output, prompt=spec["prompt"], spec=spec))
    return jobs


@dataclass
class BatchRun:
    out_dir: Path
    jobs: list[Job]
    states: dict[str, JobState] = field(default_factory=dict)

    @property
    def state_path(self) -> Path:
        return self.out_dir / STATE_FILE

    def load(self) -> None:
        saved = json.loads(self.state_path.read_text()) if self.state_path.exists() else {}
        for job in self.jobs:
            self.states[job.key] = JobState(**saved.get(job.key, {}))

    def save(self) -> None:
        """Write the state atomically: a kill mid-write leaves the previous state intact."""
        temporary = self.state_path.with_suffix(".tmp")
        data = {key: vars(state) for key, state in self.states.items()}
        temporary.write_text(json.dumps(data, indent=1))
        os.replace(temporary, self.state_path)

    def table(self) -> Table:
        table = Table("output", "task", "status", "progress", "error")
        for job in self.jobs:
            state = self.states[job.key]
            table.add_row(
                job.output,
                state.task_id or "",
                state.status,
                f"{state.progress}%",
                (state.error or "")[:60],
            )
        return table


async def _run_job(run: BatchRun, job: Job, client: AsyncClient, live: Live) -> None:
    state = run.states[job.key]
    target = run.out_dir / job.output
    if state.status == "completed" and target.exists():
        return
    if state.status in ("failed", "create_failed"):
        state.attempt += 1
        state.task_id, state.error, state.progress = None, None, 0
    try:
        if state.task_id is None:
            task = await _create(client, job, state)
            state.task_id, state.status = task.id, "created"
            run.save()
            live.update(run.table())

        def on_progress(task: Task) -> None:
            state.progress = task.progress
            live.update(run.table())

        done = await client.wait(state.task_id, on_progress=on_progress)
        await client.download(done, target)
        state.status, state.progress = "completed", 100
    except TaskFailedError as exc:
        state.status, state.error = "failed", exc.task.error
    except APIError as exc:
        state.status = "create_failed" if state.status == "pending" else "failed"
        state.error = exc.message
    except VgenClientError as exc:
        state.status, state.error = "failed", str(exc)
    run.save()
    live.update(run.table())


async def _create(client: AsyncClient, job: Job, state: JobState) -> Task:
    spec = job.spec
    options = {k: spec[k] for k in _OPTION_KEYS if spec.get(k) is not None}
    return await client.create(
        job.prompt,
        model=spec.get("model", DEFAULT_MODEL),
        first_image=spec.get("first_image"),
        last_image=spec.get("last_image"),
        references=spec.get("references") or spec.get("input_reference") or [],
        idempotency_key=f"vgen-batch-{job.key}-{state.attempt}",
        **options,
    )


async def _run_all(run: BatchRun, connection: Connection, concurrency: int) -> None:
    gate = asyncio.Semaphore(concurrency)
    async with AsyncClient(connection.base_url, connection.api_key) as client:
        with Live(run.table(), console=console, refresh_per_second=4) as live:

            async def guarded(job: Job) -> None:
                async with gate:
                    await _run_job(run, job, client, live)

            await asyncio.gather(*(guarded(job) for job in run.jobs))


def batch(
    jobs_file: Annotated[Path, typer.Argument(help="JSON Lines: one job per line.", exists=True)],
    out: Annotated[Path, typer.Option("--out", help="Directory for videos and the state file.")],
    concurrency: Annotated[int, typer.Option(min=1, help="Jobs in flight at once.")] = 4,
    server: ServerOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Generate every job of a JSONL file into DIR; re-run to resume after an interruption."""
    out.mkdir(parents=True, exist_ok=True)
    run = BatchRun(out_dir=out, jobs=read_jobs(jobs_file))
    run.load()
    asyncio.run(_run_all(run, resolve(server, api_key), concurrency))
    failed = [j.output for j in run.jobs if run.states[j.key].status != "completed"]
    if failed:
        console.print(f"[red]{len(failed)} of {len(run.jobs)} jobs did not complete[/]")
        raise typer.Exit(1)
    console.print(f"[green]all {len(run.jobs)} jobs completed[/] → {out}")
