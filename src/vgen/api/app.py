"""`create_app`: the FastAPI application. Its lifespan enters the runtime (`vgen.runtime`)
and builds the API's services on it.

With `settings.run_worker` the same process also runs the worker and its chores (the embedded
default shape of ARCHITECTURE.md).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import anyio
import httpx
from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from vgen import __version__
from vgen.api import (
    admin,
    dashboard,
    files,
    health,
    models,
    openai_videos,
    prometheus,
    usage,
    veo,
)
from vgen.api.auth import Authenticator
from vgen.api.deps import Services
from vgen.api.errors import install_error_handlers
from vgen.api.middleware.poll_fast_path import PollFastPath
from vgen.api.middleware.request_metrics import RequestMetrics
from vgen.config import Settings
from vgen.domain.ids import new_file_id, new_task_id
from vgen.engines.base import Engine
from vgen.media.image_check import ImageLimits
from vgen.runtime import Runtime, open_runtime
from vgen.service.artifacts import TaskArtifacts
from vgen.service.intake import ImageIntake
from vgen.service.keys import KeyService
from vgen.service.models import ModelDirectory
from vgen.service.queue_view import QueueView
from vgen.service.rate_limits import RequestRateLimiter
from vgen.service.tasks import TaskService
from vgen.storage.base import ArchiveStorage
from vgen.store.store import Store


def create_app(
    settings: Settings,
    *,
    store: Store | None = None,
    engines: Mapping[str, Engine] | None = None,
    storage: ArchiveStorage | None = None,
    clock: Callable[[], float] | None = None,
) -> FastAPI:
    clock = clock or time.time  # one clock for the runtime and the routes (`app.state.clock`)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with _running(
            app, settings, store=store, engines=engines, storage=storage, clock=clock
        ):
            yield

    app = VgenApp(
        title="vgen", version=__version__, lifespan=lifespan, docs_url="/docs", redoc_url=None
    )
    app.state.clock = clock
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(prometheus.router)
    for prefix in veo.PREFIXES:
        app.include_router(veo.router, prefix=prefix, include_in_schema=prefix == "/v1")
    app.include_router(files.router, prefix="/v1")
    app.include_router(usage.router, prefix="/v1")
    app.include_router(admin.router, prefix="/v1/admin")
    app.include_router(admin.router, prefix="/v1", include_in_schema=False)  # /v1/keys too
    app.include_router(models.router, prefix="/v1")  # before /v1/videos/{id} claims the path
    app.include_router(openai_videos.router, prefix="/v1")
    app.include_router(dashboard.router)
    # The last wrapped runs first: status polls are answered (and counted) before any other
    # layer; metrics count every other request.
    app.wrap(RequestMetrics)
    app.wrap(PollFastPath, state=app.state, paths=veo.poll_paths(), route=veo.POLL_ROUTE)
    return app


class VgenApp(FastAPI):
    """FastAPI, wrapped in vgen's own pure ASGI middlewares (`api/middleware/`).

    They wrap the whole app rather than going in through `add_middleware`, which would put them
    inside FastAPI's telemetry check and error layers: those cost a status poll ~10 µs, a third
    of what it costs otherwise (bench/api.py). Wrapped outside, metrics also see the 500s that
    FastAPI's error layer sends.
    """

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._outermost: ASGIApp = super().__call__

    def wrap(self, middleware: Callable[..., ASGIApp], **options: Any) -> None:
        self._outermost = middleware(self._outermost, **options)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._outermost(scope, receive, send)


@asynccontextmanager
async def _running(
    app: FastAPI,
    settings: Settings,
    *,
    store: Store | None,
    engines: Mapping[str, Engine] | None,
    storage: ArchiveStorage | None,
    clock: Callable[[], float] | None,
) -> AsyncIterator[None]:
    async with AsyncExitStack() as stack:
        runtime = await stack.enter_async_context(
            open_runtime(settings, store=store, engines=engines, storage=storage, clock=clock)
        )
        # Image fetching pins the validated IP, so no proxies from the environment (trust_env).
        image_http = await stack.enter_async_context(
            httpx.AsyncClient(
                follow_redirects=False,
                trust_env=False,
                timeout=settings.image_fetch_timeout_seconds,
            )
        )
        # Not the injected clock: `limits` keeps its windows in real time (in Redis too), so
        # the Retry-After it derives must be measured against real time as well.
        limiter = RequestRateLimiter(settings.redis_url)
        stack.push_async_callback(limiter.aclose)
        app.state.services = _services(runtime, image_http, limiter)
        app.state.runtime = runtime
        async with anyio.create_task_group() as group:
            if settings.run_worker:
                group.start_soon(runtime.run_jobs)
            yield
            group.cancel_scope.cancel()


def _services(
    runtime: Runtime, http_client: httpx.AsyncClient, limiter: RequestRateLimiter
) -> Services:
    settings, store, clock = runtime.settings, runtime.store, runtime.clock
    intake = ImageIntake(
        files=store.files,
        storage=runtime.storage,
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
    artifacts = TaskArtifacts(storage=runtime.storage)
    tasks = TaskService(
        store=store,
        catalog=runtime.catalog,
        intake=intake,
        artifacts=artifacts,
        routing=runtime.routing,
        deadline_s=settings.task_deadline_seconds,
        clock=clock,
        id_factory=new_task_id,
        # In the embedded shape the worker is in this process: wake it instead of waiting for
        # its next idle poll.
        on_enqueue=runtime.worker.wake if settings.run_worker else (lambda: None),
        prices=runtime.prices,
    )
    return Services(
        settings=settings,
        store=store,
        storage=runtime.storage,
        signer=runtime.signer,
        task_bodies=runtime.task_bodies,
        auth=Authenticator(keys=store.keys, polls=store.polls, limiter=limiter),
        tasks=tasks,
        intake=intake,
        artifacts=artifacts,
        keys=KeyService(keys=store.keys, clock=clock),
        queue=QueueView(store, runtime.routing, clock),
        models=ModelDirectory(
            catalog=runtime.catalog,
            routing=runtime.routing,
            prices=runtime.prices,
            engines=runtime.engines.keys(),
            store=store,
            loaded_at=clock(),
        ),
        currency=runtime.prices.currency,
    )
