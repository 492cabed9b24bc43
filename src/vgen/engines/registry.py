"""Build the engines, the routing and the catalog from the routing configuration.

Targets come from vgen.toml or the `VGEN_VERTEX_*` / `VGEN_GEMINI_*` / `VGEN_RELAY_*` shortcuts
(`config.load_routing`); `local` always exists. Every task records the target that serves it,
and responses show it, so nobody mistakes the local renderer for Veo.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from vgen.config import RoutingConfig, Settings, TargetConfig
from vgen.domain.catalog import Mode, ModelCatalog, ModelSpec, Resolution
from vgen.domain.routing import LOCAL_TARGET, Routing
from vgen.engines.base import Engine
from vgen.engines.calls import count_request


def build_engines(
    routing: RoutingConfig, settings: Settings, *, http_client: httpx.AsyncClient
) -> dict[str, Engine]:
    from vgen.engines.local import LocalEngine

    engines: dict[str, Engine] = {LOCAL_TARGET: LocalEngine(processes=settings.local_processes)}
    for name, target in routing.targets.items():
        engines[name] = _remote_engine(name, target, http_client)
    return engines


def _remote_engine(name: str, target: TargetConfig, client: httpx.AsyncClient) -> Engine:
    timing = {
        k: v
        for k, v in {
            "poll_interval_s": target.poll_interval_seconds,
            "first_poll_s": target.first_poll_seconds,
        }.items()
        if v is not None
    }
    key = target.resolved_api_key()
    if target.type == "relay":
        from vgen.engines.relay import RelayEngine

        if not target.base_url:
            raise ValueError(f"target {name}: a relay needs base_url")
        return RelayEngine(
            name=name,
            base_url=target.base_url,
            api_key=key,
            client=client,
            model_map=target.models,
            **timing,
        )
    if target.type in ("gemini", "gemini_omni"):
        from vgen.engines.gemini import DEFAULT_GEMINI_BASE_URL, GeminiEngine
        from vgen.engines.gemini_omni import GeminiOmniEngine

        if not key:
            raise ValueError(f"target {name}: {target.type} needs an api_key or api_key_env")
        kind = GeminiEngine if target.type == "gemini" else GeminiOmniEngine
        return kind(
            name=name,
            api_key=key,
            client=client,
            base_url=target.base_url or DEFAULT_GEMINI_BASE_URL,
            model_map=target.models or None,
            **timing,
        )
    if target.type == "vertex":
        return _vertex_engine(name, target, client, timing)
    if target.type == "openai":
        from vgen.engines.openai_videos import OpenAIVideosEngine

        if not target.base_url:
            raise ValueError(f"target {name}: an openai target needs base_url")
        return OpenAIVideosEngine(
            name=name,
            base_url=target.base_url,
            api_key=key,
            client=client,
            model_map=target.models,
            **timing,
        )
    raise ValueError(f"target {name}: type {target.type!r} cannot be configured twice")


def _vertex_engine(
    name: str, target: TargetConfig, client: httpx.AsyncClient, timing: dict[str, float]
) -> Engine:
    import time

    from vgen.engines.google_credentials import GoogleCredentials
    from vgen.engines.vertex import DEFAULT_STORAGE_BASE_URL, DEFAULT_VERTEX_LOCATION, VertexEngine

    if not target.project:
        raise ValueError(f"target {name}: vertex needs a project")
    return VertexEngine(
        name=name,
        project=target.project,
        location=target.location or DEFAULT_VERTEX_LOCATION,
        credentials=GoogleCredentials(key_file=target.credentials_file, clock=time.time),
        client=client,
        base_url=target.base_url,
        storage_uri=target.storage_uri,
        storage_base_url=target.storage_base_url or DEFAULT_STORAGE_BASE_URL,
        model_map=target.models or None,
        **timing,
    )


def routing_for_given(engines: Mapping[str, Engine]) -> Routing:
    """Routing for engines handed in directly (tests, embedding): every model goes to `local`
    if it is there, else to the first engine given."""
    names = list(engines)
    return Routing(routes={"*": (LOCAL_TARGET if LOCAL_TARGET in names else names[0],)})


def build_routing(routing: RoutingConfig, settings: Settings) -> Routing:
    limits = {n: t.max_concurrent for n, t in routing.targets.items() if t.max_concurrent}
    # Local renders beyond the pool's processes would only wait inside the pool while looking
    # `processing`; keep them `queued` instead, and keep worker slots free for remote polls.
    limits.setdefault(LOCAL_TARGET, settings.local_processes)
    return Routing(
        routes={model: tuple(targets) for model, targets in routing.routes.items() if targets},
        max_concurrent=limits,
        deadlines_s={
            n: t.task_deadline_seconds
            for n, t in routing.targets.items()
            if t.task_deadline_seconds
        },
        min_poll_s={
            n: t.min_poll_interval_seconds
            for n, t in routing.targets.items()
            if t.min_poll_interval_seconds is not None
        },
    )


def build_catalog(routing: RoutingConfig) -> ModelCatalog:
    extra = [
        ModelSpec(
            name=m.name,
            description=m.description or m.name,
            resolutions=frozenset(_resolution(r) for r in m.resolutions),
            modes=frozenset(Mode(mode) for mode in m.modes),
            durations_s=frozenset(m.durations),
            default_duration_s=min(m.durations),
            typical_seconds=m.typical_seconds,
            min_seconds=m.min_seconds,
        )
        for m in routing.models
    ]
    return ModelCatalog.with_builtins(extra)


def _resolution(value: str) -> Resolution:
    parsed = Resolution.parse(value)
    if parsed is None:
        raise ValueError(f"unknown resolution {value!r} in the model catalog")
    return parsed


def engine_http_client() -> httpx.AsyncClient:
    """One client for all upstream calls: generous read timeouts for video downloads."""
    return httpx.AsyncClient(
        event_hooks={"request": [count_request]},
        timeout=httpx.Timeout(60.0, connect=10.0),
        follow_redirects=True,
        limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
    )
