"""Client commands for single tasks: generate, status, list, download, cancel."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Column, Table

from vgen.cli.connection import ApiKeyOption, ServerOption, resolve
from vgen.cli.output import console, progress_updater, reported_errors, stdout, task_progress
from vgen.client import NotFoundError, Task
from vgen.domain.catalog import DEFAULT_MODEL

OutputOption = Annotated[Path, typer.Option("--output", "-o", help="Where to write the MP4.")]


def generate(
    prompt: Annotated[str, typer.Argument(help="What the video shows.")],
    output: OutputOption,
    model: Annotated[str, typer.Option(help="Model name.")] = DEFAULT_MODEL,
    resolution: Annotated[str | None, typer.Option(help="720p, 1080p or 4K.")] = None,
    aspect_ratio: Annotated[str | None, typer.Option(help="16:9 or 9:16.")] = None,
    first: Annotated[str | None, typer.Option("--first", help="First frame: file or URL.")] = None,
    last: Annotated[str | None, typer.Option("--last", help="Last frame: file or URL.")] = None,
    ref: Annotated[
        list[str] | None, typer.Option("--ref", help="Reference image (repeat up to 3 times).")
    ] = None,
    priority: Annotated[
        str | None, typer.Option(help="low, normal or high: orders your own queued tasks.")
    ] = None,
    timeout: Annotated[float | None, typer.Option(help="Give up after this many seconds.")] = None,
    server: ServerOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Generate a video and save it, with a live progress bar."""
    options: dict[str, Any] = {
        "resolution": resolution,
        "aspect_ratio": aspect_ratio,
        "priority": priority,
    }
    with reported_errors(), resolve(server, api_key).client() as client:
        task = client.create(
            prompt, model=model, first_image=first, last_image=last, references=ref or [], **options
        )
        with task_progress() as progress:
            bar = progress.add_task(task.id, total=100, status=task.status)
            done = client.wait(
                task.id, on_progress=progress_updater(progress, bar), timeout=timeout
            )
        client.download(done, output)
    console.print(f"[green]saved[/] {output} ({done.id}, {done.actual_duration or '?'} s)")


def status(
    task_id: Annotated[str, typer.Argument(help="Task id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the raw JSON.")] = False,
    server: ServerOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Show a task's status."""
    with reported_errors(), resolve(server, api_key).client() as client:
        task = client.get(task_id)
    if as_json:
        typer.echo(json.dumps(task.raw or task.model_dump(exclude={"raw"}), indent=2))
        return
    for name, value in task.model_dump(exclude={"raw"}).items():
        if value is not None:
            typer.echo(f"{name}: {value}")


def list_tasks(
    limit: Annotated[int, typer.Option(help="How many tasks.")] = 20,
    after: Annotated[str | None, typer.Option(help="Continue after this task id.")] = None,
    server: ServerOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """List your tasks, newest first."""
    with reported_errors(), resolve(server, api_key).client() as client:
        page = client.list(limit=limit, after=after)
    table = Table(
        Column("id", no_wrap=True, min_width=29), "status", "progress", "model", "created"
    )
    for task in page.data:
        table.add_row(task.id, task.status, f"{task.progress}%", task.model or "", _when(task))
    stdout.print(table)
    if page.has_more:
        console.print(f"more: vgen list --after {page.last_id}")


def _when(task: Task) -> str:
    if task.created is None:
        return ""
    return datetime.fromtimestamp(task.created, UTC).strftime("%Y-%m-%d %H:%M:%S")


def download(
    task_id: Annotated[str, typer.Argument(help="Task id.")],
    output: OutputOption,
    server: ServerOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Download a completed task's video."""
    with reported_errors(), resolve(server, api_key).client() as client:
        client.download(task_id, output)
    console.print(f"[green]saved[/] {output}")


def cancel(
    task_id: Annotated[str, typer.Argument(help="Task id.")],
    server: ServerOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Cancel a queued or processing task."""
    with reported_errors(), resolve(server, api_key).client() as client:
        try:
            task = client.cancel(task_id)
        except NotFoundError:
            client.get(task_id)  # raises NotFoundError itself when the task is unknown
            console.print("[red]error:[/] this server does not support cancelling tasks")
            raise typer.Exit(1) from None
    # The Veo dialect shows a cancelled task as `failed` with error "cancelled".
    stdout.print(f"{task.id}: {task.error if task.error == 'cancelled' else task.status}")
