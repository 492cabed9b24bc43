"""`open_runtime`: the composition root. Opens every adapter the settings name (store, archive,
HTTP clients, engines, routing, URL signer) and closes them in reverse order.

`vgen serve` (through `create_app`'s lifespan) and `vgen worker` both enter it, so the two
shapes are wired by one piece of code and the worker side never needs `vgen.api`.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from functools import partial

import anyio
import anyio.to_thread

from vgen.config import Settings, load_routing
from vgen.domain.catalog import ModelCatalog
from vgen.domain.prices import NO_PRICES, PriceTable, parse_prices
from vgen.domain.routing import Routing
from vgen.engines.base import Engine
from vgen.engines.probe import log_missing_models
from vgen.engines.registry import (
    build_catalog,
    build_engines,
    build_routing,
    engine_http_client,
    routing_for_given,
)
from vgen.service.bootstrap import load_signing_secret
from vgen.storage.base import ArchiveStorage
from vgen.storage.factory import open_storage
from vgen.storage.signing import UrlSigner
from vgen.store.store import Store
from vgen.wire.veo_task_body import TaskBodies
from vgen.worker.runner import Worker
from vgen.worker.sweeper import Sweeper
from vgen.worker.upstream_cancels import UpstreamCanceller
from vgen.worker.webhooks import WebhookDeliverer, webhook_http_client

Clock = Callable[[], float]


@dataclass(frozen=True)
class Runtime:
    """The open adapters, and the background jobs built from them."""

    settings: Settings
    clock: Clock
    store: Store
    storage: ArchiveStorage
    engines: Mapping[str, Engine]
    routing: Routing
    catalog: ModelCatalog
    signer: UrlSigner
    task_bodies: TaskBodies
    """The §1.2 task object with a freshly signed `video_url` (routes and webhooks alike)."""
    worker: Worker
    sweeper: Sweeper
    webhooks: WebhookDeliverer
    upstream_cancels: UpstreamCanceller
    prices: PriceTable = NO_PRICES
    """The `[prices]` table: what each task costs when it completes, and reserves at create."""

    async def run_jobs(self) -> None:
        """Run the worker and its chores (sweeper, webhook delivery, upstream cancels) until
        cancelled."""
        async with anyio.create_task_group() as group:
            listener = self.store.runnable_listener(lambda _engine: self.worker.wake())
            if listener is not None:  # tasks made claimable by other processes wake us now
                group.start_soon(listener.run)
            group.start_soon(self.sweeper.run)
            group.start_soon(self.webhooks.run)
            group.start_soon(self.upstream_cancels.run)
            await self.worker.run()

    async def drain(self) -> None:
        """One pass of everything, for `vgen worker --drain` and tests: end overdue tasks,
        run tasks until none is claimable, then send the webhooks and cancels now due."""
        await self.sweeper.sweep_once()
        await self.worker.run_until_idle()
        await self.webhooks.deliver_due()
        await self.upstream_cancels.cancel_due()


@asynccontextmanager
async def open_runtime(
    settings: Settings,
    *,
    store: Store | None = None,
    engines: Mapping[str, Engine] | None = None,
    storage: ArchiveStorage | None = None,
    clock: Clock | None = None,
) -> AsyncIterator[Runtime]:
    """Open what `settings` describe; adapters passed in (tests) are used as they are and
    left open for their owner to close."""
    clock = clock or time.time
    async with AsyncExitStack() as stack:
        if store is None:
            # Opening runs migrations: blocking work, kept off the event loop.
            store = await anyio.to_thread.run_sync(
                partial(
                    Store.open,
                    settings.resolved_database_url(),
                    pool_size=settings.database_pool_size,
                )
            )
            stack.push_async_callback(store.close)
        storage = storage or open_storage(settings)
        routing_config = load_routing(settings)
        if engines is None:
            engine_http = await stack.enter_async_context(engine_http_client())
            engines = build_engines(routing_config, settings, http_client=engine_http)
            for engine in engines.values():
                stack.push_async_callback(engine.aclose)
            routing = build_routing(routing_config, settings)
            await log_missing_models(engines, routing.routes)
        else:
            routing = routing_for_given(engines)
        catalog = build_catalog(routing_config)
        prices = parse_prices(routing_config.prices)
        signer = UrlSigner(
            load_signing_secret(settings.signing_secret, settings.data_dir),
            public_url=settings.resolved_public_url(),
        )
        task_bodies = TaskBodies(
            signer=signer,
            ttl_s=settings.signed_url_ttl_seconds,
            presign=lambda key, expires_at: storage.presigned_url(key, expires_at=expires_at),
        )
        webhook_http = await stack.enter_async_context(webhook_http_client())
        yield Runtime(
            settings=settings,
            clock=clock,
            store=store,
            storage=storage,
            engines=engines,
            routing=routing,
            catalog=catalog,
            signer=signer,
            task_bodies=task_bodies,
            worker=Worker(
                store=store,
                engines=engines,
                storage=storage,
                settings=settings,
                clock=clock,
                signer=signer,
                routing=routing,
                catalog=catalog,
                prices=prices,
            ),
            sweeper=Sweeper(
                store=store,
                storage=storage,
                clock=clock,
                interval_s=settings.sweep_interval_seconds,
            ),
            webhooks=WebhookDeliverer(
                store=store,
                client=webhook_http,
                render=task_bodies,
                clock=clock,
                allow_private=settings.allow_private_urls,
            ),
            upstream_cancels=UpstreamCanceller(store=store, engines=engines, clock=clock),
            prices=prices,
        )
