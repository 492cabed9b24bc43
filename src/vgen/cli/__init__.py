"""The `vgen` command line: server commands and client commands on top of `vgen.client`."""

from __future__ import annotations

import typer

from vgen.cli import batch, keys, models, server, tasks, usage

app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="vgen: self-hosted video generation."
)
app.command()(server.serve)
app.command()(server.worker)
app.command()(server.engines)
app.command()(tasks.generate)
app.command()(tasks.status)
app.command(name="list")(tasks.list_tasks)
app.command()(tasks.download)
app.command()(tasks.cancel)
app.command()(batch.batch)
app.command()(usage.usage)
app.command()(models.models)
app.add_typer(keys.app, name="keys")


def main() -> None:
    app()
