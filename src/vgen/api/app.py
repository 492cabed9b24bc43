"""`create_app`: the FastAPI application; its lifespan opens every resource and closes it.

With `settings.run_worker` the same process also runs the worker and the sweeper (the embedded
default shape of ARCHITECTURE.md).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager

import anyio
import anyio.to_thread
import httpx
from fastapi import FastAPI

from vgen import __version__
from vgen.api import admin, files, health, openai_videos, prometheus, usage, veo
from vgen.api.auth import Authenticator
from vgen.api.deps import Services
from vgen.api.errors import install_error_handlers
from vgen.api.polling import VgenApp
from vgen.api.veo_wire import signed_task_body
from vgen.config import Settings, load_routing
from vgen.domain.catalog import ModelCatalog
from vgen.domain.ids import new_file_id, new_task_id
from vgen.domain.routing import Routing
from vgen.engines.base import Engine
from vgen.engines.registry import (
    build_catalog,
    build_engines,
    build_routing,
    engine_http_client,
    routing_for_given,
)
from vgen.media.image_check import ImageLimits
from vgen.service.artifacts import TaskArtifacts
from vgen.service.bootstrap import load_signing_secret
from vgen.service.intake import ImageIntake
from vgen.service.keys import KeyService
from vgen.service.rate_limits import RequestRateLimiter
from vgen.service.tasks import TaskService
from vgen.storage.base import ArchiveStorage
from vgen.storage.local_disk import LocalDiskStorage
from vgen.storage.signing import UrlSigner
from vgen.store.store import Store
from vgen.worker.runner import Worker
from vgen.worker.sweeper import Sweeper
from vgen.worker.upstream_cancels import UpstreamCanceller
from vgen.worker.webhooks import WebhookDeliverer, webhook_http_client

VEO_PREFIXES = ("/v1", "/kyyReactApiServer/v1", "")


def create_app(
    settings: Settings,
    *,
    store: Store | None = None,
    engines: Mapping[str, Engine] | None = None,
    storage: ArchiveStorage | None = None,
    clock: Callable[[], float] | None = None,
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with _running(
            app, settings, store=store, engines=engines, storage=storage, clock=clock or time.time
        ):
            yield

    app = VgenApp(
        title="vgen", version=__version__, lifespan=lifespan, docs_url="/docs", redoc_url=None
    )
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(prometheus.router)
    for prefix in VEO_PREFIXES:
        app.include_router(veo.router, prefix=prefix, include_in_schema=prefix == "/v1")
    app.include_router(files.router, prefix="/v1")
    app.include_router(usage.router, prefix="/v1")
    app.include_router(admin.router, prefix="/v1/admin")
    app.include_router(admin.router, prefix="/v1", include_in_schema=False)  # /v1/keys too
    app.include_router(openai_videos.router, prefix="/v1")
    return app


@asynccontextmanager
async def _running(
    app: FastAPI,
    settings: Settings,
    *,
    store: Store | None,
    engines: Mapping[str, Engine] | None,
    storage: ArchiveStorage | None,
    clock: Callable[[], float],
) -> AsyncIterator[None]:
    owns_store = store is None
    if store is None:
        store = await anyio.to_thread.run_sync(Store.open, settings.resolved_database_url())
    if storage is None:
        storage = LocalDiskStorage(settings.data_dir / "archive")
    engine_http = engine_http_client()
    routing_config = load_routing(settings)
    owns_engines = engines is None
    if engines is None:
        engines = build_engines(routing_config, settings, http_client=engine_http)
        routing = build_routing(routing_config, settings)
    else:
        routing = routing_for_given(engines)
    # Image fetching pins the validated IP, so no proxies from the environment (trust_env).
    http_client = httpx.AsyncClient(
        follow_redirects=False, trust_env=False, timeout=settings.image_fetch_timeout_seconds
    )
    signer = UrlSigner(
        load_signing_secret(settings.signing_secret, settings.data_dir),
        public_url=settings.resolved_public_url(),
    )
    catalog = build_catalog(routing_config)
    worker = None
    if settings.run_worker:
        worker = Worker(
            store=store,
            engines=engines,
            storage=storage,
            settings=settings,
            clock=clock,
            signer=signer,
            routing=routing,
            catalog=catalog,
        )
    limiter = RequestRateLimiter(settings.redis_url)
    app.state.services = _services(
        settings,
        store,
        storage,
        http_client,
        clock,
        worker,
        signer,
        catalog=catalog,
        routing=routing,
        limiter=limiter,
    )
    app.state.worker = worker
    webhook_http = webhook_http_client()
    try:
        async with anyio.create_task_group() as group:
            if worker is not None:
                group.start_soon(worker.run)
                sweeper = Sweeper(
                    store=store,
                    storage=storage,
                    clock=clock,
                    interval_s=settings.sweep_interval_seconds,
                )
                group.start_soon(sweeper.run)
                group.start_soon(
                    webhook_deliverer(store, settings, signer, webhook_http, clock).run
                )
                group.start_soon(UpstreamCanceller(store=store, engines=engines, clock=clock).run)
            yield
            group.cancel_scope.cancel()
    finally:
        await limiter.aclose()
        await webhook_http.aclose()
        await http_client.aclose()
        await engine_http.aclose()
        if owns_engines:
            for engine in engines.values():
                await engine.aclose()
        if owns_store:
            await store.close()


def webhook_deliverer(
    store: Store,
    settings: Settings,
    signer: UrlSigner,
    client: httpx.AsyncClient,
    clock: Callable[[], float],
) -> WebhookDeliverer:
    """The outbox's deliverer; events carry the §1.2 task body with a freshly signed URL."""
    ttl_s = settings.signed_url_ttl_seconds
    return WebhookDeliverer(
        store=store,
        client=client,
        render=lambda task, now: signed_task_body(task, signer=signer, ttl_s=ttl_s, now=now),
        clock=clock,
        allow_private=settings.allow_private_urls,
    )


def _services(
    settings: Settings,
    store: Store,
    storage: ArchiveStorage,
    http_client: httpx.AsyncClient,
    clock: Callable[[], float],
    worker: Worker | None,
    signer: UrlSigner,
    *,
    catalog: ModelCatalog,
    routing: Routing,
    limiter: RequestRateLimiter,
) -> Services:
    intake = ImageIntake(
        files=store.files,
        storage=storage,
        http_client=http_client,
        limits=ImageLimits(
            max_bytes=settings.max_image_bytes,
            min_side_px=settings.min_image_side_px,
            max_side_px=settings.max_image_side_px,
            fetch_timeout_s=settings.image_fetch_timeout_seconds,
        ),
        allow_private_urls=settings.allow_private_urls,
        clock=clock,
        id_factory=new_file_id,
    )
    artifacts = TaskArtifacts(storage=storage)
    tasks = TaskService(
        store=store,
        catalog=catalog,
        intake=intake,
        artifacts=artifacts,
        routing=routing,
        deadline_s=settings.task_deadline_seconds,
        clock=clock,
        id_factory=new_task_id,
        on_enqueue=worker.wake if worker is not None else (lambda: None),
    )
    return Services(
        settings=settings,
        store=store,
        storage=storage,
        signer=signer,
        auth=Authenticator(keys=store.keys, polls=store.polls, limiter=limiter),
        tasks=tasks,
        intake=intake,
        artifacts=artifacts,
        keys=KeyService(keys=store.keys, clock=clock),
    )
