"""Server-side commands: `vgen serve` (API + worker) and `vgen worker` (worker only)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any

import typer

from vgen.config import Settings

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", help="vgen.toml with engine targets, routes and models [VGEN_CONFIG]."
    ),
]
DataDirOption = Annotated[
    Path | None, typer.Option("--data-dir", help="Where the database, archive and keys live.")
]


def _configure_logging() -> None:
    from vgen.logs import configure_logging

    settings = Settings()
    configure_logging(settings.log_format, settings.log_level)


def _settings(**overrides: Any) -> Settings:
    settings = Settings()
    changes = {k: v for k, v in overrides.items() if v is not None}
    return settings.model_copy(update=changes) if changes else settings


async def _bootstrap(settings: Settings) -> str | None:
    from vgen.service.bootstrap import ensure_admin_key, load_signing_secret
    from vgen.store.store import Store

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    load_signing_secret(settings.signing_secret, settings.data_dir)
    store = Store.open(settings.resolved_database_url())
    try:
        return await ensure_admin_key(store, settings.data_dir, clock=time.time)
    finally:
        await store.close()


def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
    no_worker: Annotated[
        bool, typer.Option("--no-worker", help="Serve the API only; run `vgen worker` elsewhere.")
    ] = False,
) -> None:
    """Run the API server (and, by default, the worker) in one process."""
    import uvicorn

    from vgen.api.app import create_app

    _configure_logging()
    settings = _settings(host=host, port=port, data_dir=data_dir, config=config)
    if no_worker:
        settings = settings.model_copy(update={"run_worker": False})
    admin_key = asyncio.run(_bootstrap(settings))
    if admin_key:
        typer.echo(
            f"Created the admin API key (saved to {settings.data_dir / 'admin.key'}):\n"
            f"  {admin_key}\nIt is shown only this once. Its webhook signing secret is in "
            f"{settings.data_dir / 'admin.webhook-secret'}."
        )
    typer.echo(f"vgen listening on http://{settings.host}:{settings.port}")
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level="warning",
        log_config=None,  # keep vgen's handlers (JSON lines) for uvicorn's messages too
        timeout_graceful_shutdown=5,
    )


def worker(
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
    drain: Annotated[
        bool, typer.Option("--drain", help="Exit when no task is left to claim.")
    ] = False,
) -> None:
    """Run only the worker: claim queued tasks and render them."""
    _configure_logging()
    settings = _settings(data_dir=data_dir, config=config)
    _run_on_fastest_loop(_run_worker(settings, drain=drain))


def _run_on_fastest_loop(main: Coroutine[Any, Any, None]) -> None:
    """uvloop when installed (`uvicorn[standard]` brings it, and `vgen serve` runs on it through
    uvicorn), else asyncio's own loop. A worker is event-loop bound: every poll is a few socket
    round trips, which uvloop makes noticeably cheaper."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
        return
    uvloop.run(main)


async def _run_worker(settings: Settings, *, drain: bool) -> None:
    import anyio

    from vgen.runtime import open_runtime

    async with open_runtime(settings) as runtime:
        logging.getLogger("vgen.worker").info(
            "worker started", extra={"event_loop": type(asyncio.get_running_loop()).__module__}
        )
        if drain:
            await runtime.drain()
            return
        async with anyio.create_task_group() as group:
            group.start_soon(_stop_on_signal, group.cancel_scope)
            await runtime.run_jobs()


async def _stop_on_signal(scope: Any) -> None:
    """SIGTERM/SIGINT: stop claiming and cancel the running tasks, which hands each back at
    once (still `processing`, claimable now by any worker) instead of holding its lease until
    it lapses; the process then exits 0 (API.md §7)."""
    import logging
    import signal

    import anyio

    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for received in signals:
            logging.getLogger("vgen.worker").info(
                "%s received: handing back running tasks", signal.Signals(received).name
            )
            scope.cancel()
            return


def engines(
    config: ConfigOption = None,
    check: Annotated[
        bool, typer.Option(help="Probe each target: reachable, credentials, upstream models.")
    ] = True,
) -> None:
    """List engine targets, the models routed to each, whether their credentials work, and
    whether the upstream still serves each routed model."""
    from rich.console import Console
    from rich.table import Table

    from vgen.config import TargetConfig, load_routing
    from vgen.domain.routing import LOCAL_TARGET
    from vgen.engines.registry import build_routing, engine_http_client

    settings = _settings(config=config)
    routing_config = load_routing(settings)
    routing = build_routing(routing_config, settings)
    targets = {LOCAL_TARGET: TargetConfig(type="local"), **routing_config.targets}
    routed = {
        name: sorted(m for m, route in routing.routes.items() if name in route and m != "*")
        for name in targets
    }
    reports = asyncio.run(_probe_all(targets, routed, engine_http_client)) if check else {}
    table = Table("target", "type", "base url", "models", "max jobs", "status", "upstream models")
    for name, target in targets.items():
        served = list(routed[name])
        if name == routing.first_target("*"):
            served.append("(every other model)")
        report = reports.get(name)
        upstream = report.models if report is not None else {}
        table.add_row(
            name,
            target.type,
            target.base_url or "",
            ", ".join(served),
            str(target.max_concurrent or "-"),
            report.status if report is not None else "not checked",
            ", ".join(f"{public} → {state}" for public, state in upstream.items()),
        )
    Console().print(table)


async def _probe_all(
    targets: dict[str, Any], routed: dict[str, list[str]], make_client: Any
) -> dict[str, Any]:
    from vgen.engines.probe import probe_target

    async with make_client() as client:
        return {
            name: await probe_target(target, client, routed=routed[name])
            for name, target in targets.items()
        }
