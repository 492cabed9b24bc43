"""Which engines exist and which engine serves each model, from settings (ENGINES.md).

With `VGEN_RELAY_BASE_URL` (+ `VGEN_RELAY_API_KEY`) the Veo models go to that reseller (or
other vgen); otherwise to the offline `local` engine. Every task records the engine that
serves it, and responses show it, so nobody mistakes the local renderer for Veo.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import httpx

from vgen.config import Settings
from vgen.engines.base import Engine

LOCAL = "local"
RELAY = "relay"


def build_engines(settings: Settings, *, http_client: httpx.AsyncClient) -> dict[str, Engine]:
    from vgen.engines.local import LocalEngine
    from vgen.engines.relay import RelayEngine

    engines: dict[str, Engine] = {LOCAL: LocalEngine(processes=settings.local_processes)}
    if settings.relay_base_url:
        engines[RELAY] = RelayEngine(
            base_url=settings.relay_base_url,
            api_key=settings.relay_api_key,
            client=http_client,
            poll_interval_s=settings.relay_poll_interval_seconds,
            first_poll_s=settings.relay_first_poll_seconds,
        )
    return engines


def engine_router(engine_names: Iterable[str]) -> Callable[[str], str]:
    """Model name → engine name: the relay when one is configured, else local (or, for a
    custom set of engines, the first)."""
    names = list(engine_names)
    chosen = RELAY if RELAY in names else (LOCAL if LOCAL in names else names[0])
    return lambda _model: chosen


def engine_http_client() -> httpx.AsyncClient:
    """One client for all upstream calls: generous read timeouts for video downloads."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(60.0, connect=10.0),
        follow_redirects=True,
        limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
    )
