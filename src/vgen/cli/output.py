"""How the client commands talk to a person: a live progress bar, tables, and errors that
end the command with a non-zero exit and the server's own message."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from vgen.client import APIError, Task, TaskFailedError, VgenClientError

console = Console(stderr=True)
stdout = Console()


@contextlib.contextmanager
def reported_errors() -> Iterator[None]:
    """Turn SDK errors into `error: <message>` on stderr and exit code 1."""
    try:
        yield
    except TaskFailedError as exc:
        console.print(f"[red]error:[/] task {exc.task.id} failed: {exc.task.error}")
        raise typer.Exit(1) from None
    except APIError as exc:
        where = f" (param: {exc.param})" if exc.param else ""
        console.print(f"[red]error:[/] {exc.message}{where} [HTTP {exc.status_code}]")
        raise typer.Exit(1) from None
    except VgenClientError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from None


def task_progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
    )


def progress_updater(progress: Progress, bar: TaskID) -> Callable[[Task], None]:
    def update(task: Task) -> None:
        progress.update(bar, completed=task.progress, status=shown_status(task))

    return update


def shown_status(task: Task) -> str:
    """The status, with the place in the queue and the ETA while queued ("queued #3, ~95 s")."""
    if task.status != "queued" or task.queue_position is None:
        return task.status
    eta = f", ~{task.eta_seconds} s" if task.eta_seconds is not None else ""
    return f"queued #{task.queue_position}{eta}"
