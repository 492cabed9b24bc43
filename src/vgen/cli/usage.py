"""`vgen usage`: your video-seconds, task counts and cost per model and day."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from vgen.cli.connection import ApiKeyOption, ServerOption, resolve
from vgen.cli.output import reported_errors, stdout


def usage(
    from_: Annotated[
        str | None, typer.Option("--from", help="First day, YYYY-MM-DD (default: 30 days ago).")
    ] = None,
    to: Annotated[str | None, typer.Option("--to", help="Last day (default: today, UTC).")] = None,
    server: ServerOption = None,
    api_key: ApiKeyOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Video-seconds produced, tasks ended and their cost, per day and model (your tenant)."""
    with reported_errors(), resolve(server, api_key).client() as client:
        report = client.usage(from_=from_, to=to)
    if as_json:
        stdout.print_json(json.dumps(report))
        return
    table = Table(
        "day",
        "model",
        "video s",
        "tasks",
        "completed",
        "failed",
        "cancelled",
        "cost",
        title=f"Usage {report['from']} – {report['to']} (UTC), cost in {report.get('currency')}",
    )
    for row in report["data"]:
        table.add_row(
            row["day"],
            row["model"],
            f"{row['video_seconds']:g}",
            *(str(row[k]) for k in ("tasks", "completed", "failed", "cancelled")),
            _money(row.get("cost")),
        )
    total = report["total"]
    table.add_row(
        "total",
        "",
        f"{total['video_seconds']:g}",
        *(str(total[k]) for k in ("tasks", "completed", "failed", "cancelled")),
        _money(total.get("cost")),
        style="bold",
    )
    stdout.print(table)


def _money(amount: float | None) -> str:
    """A cost to the cent, finer when it is under one (a few seconds of a cheap model)."""
    if amount is None:
        return "-"
    return f"{amount:.2f}" if amount == 0 or abs(amount) >= 1 else f"{amount:.4f}"
