"""`vgen keys create|list|revoke` and `vgen usage`.

`vgen keys` works on the server's database directly (`--data-dir`, `VGEN_DATA_DIR`,
`VGEN_DATABASE_URL`), or, when a server is named (`--server` or `VGEN_BASE_URL`), through its
admin API with an admin key. Secrets are printed once, at creation.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer
from rich.table import Table

from vgen.cli.connection import ApiKeyOption, ServerOption, resolve
from vgen.cli.output import console, reported_errors, stdout
from vgen.cli.server import DataDirOption
from vgen.config import Settings
from vgen.domain.errors import VgenError
from vgen.domain.keys import DEFAULT_WEIGHT, KeyLimits
from vgen.service.key_body import created_key_body, key_body
from vgen.service.keys import CreatedKey, KeyRequest, KeyService

app = typer.Typer(no_args_is_help=True, help="Create, list and revoke API keys.")
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
T = TypeVar("T")

_RATE = re.compile(r"^\s*(\d+)\s*(?:/\s*(s|sec|second|m|min|minute)s?)?\s*$", re.IGNORECASE)


def parse_rate(value: str) -> int:
    """`60`, `60/min`, `60/minute` or `2/s` → requests per minute."""
    match = _RATE.match(value)
    if match is None or int(match.group(1)) < 1:
        raise typer.BadParameter("use a positive count per minute, e.g. 60/min (or 2/s)")
    per_second = (match.group(2) or "min").lower().startswith("s")
    return int(match.group(1)) * (60 if per_second else 1)


def created_json(created: CreatedKey) -> dict[str, Any]:
    return created_key_body(
        created.key, secret=created.secret, webhook_secret=created.webhook_secret
    )


def _local(data_dir: Any, action: Callable[[KeyService], Awaitable[T]]) -> T:
    from vgen.store.store import Store

    settings = Settings()
    if data_dir is not None:
        settings = settings.model_copy(update={"data_dir": data_dir})

    async def run() -> T:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        store = Store.open(settings.resolved_database_url())
        try:
            return await action(KeyService(keys=store.keys, clock=time.time))
        finally:
            await store.close()

    try:
        return asyncio.run(run())
    except VgenError as exc:
        console.print(f"[red]error:[/] {exc.message}")
        raise typer.Exit(1) from None


def _remote(server: str | None) -> str | None:
    return server or Settings().base_url


@app.command()
def create(
    name: Annotated[str, typer.Option("--name", help="A label for the key.")],
    admin: Annotated[bool, typer.Option("--admin", help="May manage keys.")] = False,
    rate: Annotated[
        str | None, typer.Option("--rate", help="Requests per minute, e.g. 60/min.")
    ] = None,
    max_inflight: Annotated[
        int | None, typer.Option("--max-inflight", min=1, help="Unfinished tasks at once.")
    ] = None,
    daily_seconds: Annotated[
        float | None, typer.Option("--daily-seconds", min=0.001, help="Video-seconds per day.")
    ] = None,
    webhook_url: Annotated[
        str | None, typer.Option("--webhook-url", help="Default webhook target of the key.")
    ] = None,
    weight: Annotated[
        float, typer.Option("--weight", help="Fair share of busy capacity (> 0; default 1).")
    ] = DEFAULT_WEIGHT,
    daily_budget: Annotated[
        float | None,
        typer.Option("--daily-budget", help="Cost per UTC day, in the price table's currency."),
    ] = None,
    monthly_budget: Annotated[
        float | None,
        typer.Option("--monthly-budget", help="Cost per UTC month, in that currency."),
    ] = None,
    tenant: Annotated[
        str | None, typer.Option("--tenant", help="Join this tenant (default: a new one).")
    ] = None,
    data_dir: DataDirOption = None,
    server: ServerOption = None,
    api_key: ApiKeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a key; its secret and webhook signing secret are shown only this once."""
    rate_per_minute = parse_rate(rate) if rate is not None else None
    request = KeyRequest(
        name=name,
        tenant_id=tenant,
        is_admin=admin,
        limits=KeyLimits(
            rate_per_minute, max_inflight, daily_seconds, daily_budget, monthly_budget
        ),
        webhook_url=webhook_url,
        weight=weight,
    )
    if _remote(server):
        body = {
            "name": name,
            "tenant_id": tenant,
            "admin": admin,
            "rate_per_minute": rate_per_minute,
            "max_inflight": max_inflight,
            "daily_seconds": daily_seconds,
            "webhook_url": webhook_url,
            "weight": weight,
            "daily_budget": daily_budget,
            "monthly_budget": monthly_budget,
        }
        with reported_errors(), resolve(server, api_key).client() as client:
            shown = client.create_key(**{k: v for k, v in body.items() if v is not None})
    else:
        shown = created_json(_local(data_dir, lambda keys: keys.create(request)))
    if as_json:
        stdout.print_json(json.dumps(shown))
        return
    stdout.print(f"Created key {shown['id']} ({shown['name']}, tenant {shown['tenant_id']}).")
    stdout.print("Shown only this once — store them now:", highlight=False)
    stdout.print(f"API key:        {shown['key']}", highlight=False, soft_wrap=True)
    stdout.print(f"Webhook secret: {shown['webhook_secret']}", highlight=False, soft_wrap=True)


@app.command(name="list")
def list_keys(
    data_dir: DataDirOption = None,
    server: ServerOption = None,
    api_key: ApiKeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Every key: name, tenant, limits, whether it is revoked (never the secrets)."""
    if _remote(server):
        with reported_errors(), resolve(server, api_key).client() as client:
            keys = client.list_keys()
    else:
        keys = [key_body(k) for k in _local(data_dir, lambda service: service.list())]
    if as_json:
        stdout.print_json(json.dumps({"object": "list", "data": keys}))
        return
    table = Table("id", "name", "tenant", "admin", "limits", "weight", "revoked")
    for key in keys:
        table.add_row(
            key["id"],
            key["name"],
            key["tenant_id"],
            "yes" if key["admin"] else "",
            _limits(key),
            f"{key.get('weight', DEFAULT_WEIGHT):g}",
            "revoked" if key["revoked_at"] else "",
        )
    stdout.print(table)


@app.command()
def revoke(
    key_id: Annotated[
        str, typer.Argument(help="The key's id (key_…, from `vgen keys list`) or its secret.")
    ],
    data_dir: DataDirOption = None,
    server: ServerOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Revoke a key: it is refused from now on."""
    if _remote(server):
        with reported_errors(), resolve(server, api_key).client() as client:
            client.revoke_key(key_id)
    else:
        _local(data_dir, lambda service: service.revoke(key_id))
    stdout.print(f"Revoked {key_id if not key_id.startswith('vgen-sk-') else 'the key'}.")


_LIMITS = (
    ("rate_per_minute", "{}/min"),
    ("max_inflight", "{} in flight"),
    ("daily_seconds", "{} s/day"),
    ("daily_budget", "budget {}/day"),
    ("monthly_budget", "budget {}/month"),
)


def _limits(key: dict[str, Any]) -> str:
    """The key's limits in one wrapping cell (a column each would not fit a terminal)."""
    shown = [form.format(f"{key[field]:g}") for field, form in _LIMITS if key.get(field)]
    return ", ".join(shown) or "-"
