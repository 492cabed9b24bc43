"""`vgen models`: the server's models, what each accepts, its price and typical duration."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from vgen.cli.connection import ApiKeyOption, ServerOption, resolve
from vgen.cli.output import reported_errors, stdout


def models(
    server: ServerOption = None,
    api_key: ApiKeyOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """The models you can ask for: resolutions, durations, input modes, price per video-second,
    typical time to make one, and the engine targets behind each."""
    with reported_errors(), resolve(server, api_key).client() as client:
        listed = client.models()
    if as_json:
        stdout.print_json(json.dumps({"object": "list", "data": listed}))
        return
    table = Table(
        "model", "resolutions", "seconds", "modes", "price / s", "typical", "targets",
        title="Models",
    )  # fmt: skip
    for model in listed:
        table.add_row(
            model["id"] + ("" if model.get("available", True) else " (unavailable)"),
            ", ".join(model.get("resolutions", [])),
            ", ".join(str(d) for d in model.get("durations", [])),
            ", ".join(model.get("image_modes", [])),
            _price(model.get("price")),
            "-" if model.get("typical_seconds") is None else f"{model['typical_seconds']:g} s",
            ", ".join(f"{t['name']} ({t['status']})" for t in model.get("targets", [])),
        )
    stdout.print(table)


def _price(price: dict[str, Any] | None) -> str:
    if not price:
        return "-"
    rates = price["per_second"]
    amounts = set(rates.values())
    if len(amounts) == 1:
        return f"{amounts.pop():g} {price['currency']}"
    return ", ".join(f"{res} {amount:g}" for res, amount in rates.items()) + f" {price['currency']}"
