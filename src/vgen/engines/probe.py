"""What `vgen engines` and start-up say about each engine target: reachable, credentials
accepted, and whether the upstream still serves the models routed to it (read-only calls)."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import anyio
import httpx

from vgen.config import TargetConfig
from vgen.domain.errors import UpstreamRejected, UpstreamUnavailable
from vgen.engines.base import Engine
from vgen.engines.gemini import (
    DEFAULT_GEMINI_BASE_URL,
    DEFAULT_GEMINI_MODELS,
    GeminiEngine,
    list_gemini_models,
)
from vgen.engines.gemini_omni import DEFAULT_OMNI_MODELS, GeminiOmniEngine
from vgen.engines.google_credentials import GoogleCredentials
from vgen.engines.vertex import DEFAULT_VERTEX_LOCATION, DEFAULT_VERTEX_MODELS, vertex_base_url

_log = logging.getLogger("vgen.engines")
_STARTUP_CHECK_S = 10.0


@dataclass(frozen=True)
class TargetReport:
    """`status` is `ok` or why the target cannot be used; `models` maps each routed public model
    to its upstream name and whether the upstream lists it (`✓`, `missing`, `?` unknown)."""

    status: str
    models: Mapping[str, str] = field(default_factory=dict)


async def probe_target(
    target: TargetConfig, client: httpx.AsyncClient, *, routed: Sequence[str] = ()
) -> TargetReport:
    if target.type == "local":
        return TargetReport("ok")
    if target.type in ("gemini", "gemini_omni"):
        return await _probe_gemini(target, client, routed)
    if target.type == "vertex":
        return await _probe_vertex(target, client, routed)
    key = target.resolved_api_key()
    path = "/v1/veo/videos" if target.type == "relay" else "/models"
    request = client.build_request(
        "GET",
        f"{(target.base_url or '').rstrip('/')}{path}",
        params={"limit": 1} if target.type == "relay" else None,
        headers={"Authorization": f"Bearer {key}"} if key else {},
    )
    try:
        response = await client.send(request)
    except httpx.HTTPError as exc:
        return TargetReport(f"unreachable ({exc.__class__.__name__})")
    return TargetReport(_status_of(response.status_code))


def _status_of(status: int) -> str:
    if status in (401, 403):
        return f"credentials refused (HTTP {status})"
    return f"answered HTTP {status}" if status >= 400 else "ok"


async def _probe_gemini(
    target: TargetConfig, client: httpx.AsyncClient, routed: Sequence[str]
) -> TargetReport:
    defaults = DEFAULT_GEMINI_MODELS if target.type == "gemini" else DEFAULT_OMNI_MODELS
    mapping = {**defaults, **target.models}
    headers = {"x-goog-api-key": target.resolved_api_key() or ""}
    base = target.base_url or DEFAULT_GEMINI_BASE_URL
    try:
        served = await list_gemini_models(client, base, headers=headers)
    except UpstreamUnavailable as exc:
        return TargetReport(f"unreachable ({exc})")
    except UpstreamRejected as exc:
        return TargetReport(f"credentials refused ({exc})")
    models = {}
    for public in routed:
        upstream = mapping.get(public, public)
        models[public] = f"{upstream} {'✓' if upstream in served else 'missing'}"
    return TargetReport("ok", models)


async def _probe_vertex(
    target: TargetConfig, client: httpx.AsyncClient, routed: Sequence[str]
) -> TargetReport:
    credentials = GoogleCredentials(key_file=target.credentials_file, clock=time.time)
    try:
        token = await credentials.token()
    except (UpstreamRejected, UpstreamUnavailable) as exc:
        return TargetReport(f"no token ({exc})")
    mapping = {**DEFAULT_VERTEX_MODELS, **target.models}
    location = target.location or DEFAULT_VERTEX_LOCATION
    base = (target.base_url or vertex_base_url(location)).rstrip("/")
    status, models = "ok", {}
    for public in routed:
        upstream = mapping.get(public, public)
        # Model Garden's publisher model: Google's own models, the same in every project.
        url = f"{base}/v1/publishers/google/models/{upstream}"
        try:
            response = await client.get(url, headers={"Authorization": f"Bearer {token}"})
        except httpx.HTTPError as exc:
            return TargetReport(f"unreachable ({exc.__class__.__name__})")
        code = response.status_code
        mark = "✓" if code < 400 else "missing" if code == 404 else "?"
        models[public] = f"{upstream} {mark}"
        if code in (401, 403) or code >= 500:
            status = _status_of(code)
    return TargetReport(status, models)


async def log_missing_models(
    engines: Mapping[str, Engine], routes: Mapping[str, Sequence[str]]
) -> None:
    """At start-up: warn about every routed model a Gemini target's key cannot use (never
    fails start-up; an unreachable upstream is only logged)."""
    for name, engine in engines.items():
        if not isinstance(engine, GeminiEngine | GeminiOmniEngine):
            continue
        routed = sorted(model for model, targets in routes.items() if name in targets)
        with anyio.move_on_after(_STARTUP_CHECK_S):
            try:
                served = await engine.available_models()
            except (UpstreamRejected, UpstreamUnavailable) as exc:
                _log.warning("engine %s: could not list its models: %s", name, exc)
                continue
            for public in routed:
                if public != "*" and engine.model_for(public) not in served:
                    _log.warning(
                        "engine %s: the Gemini API does not serve %s (routed from %s); tasks "
                        "for it will fail. Set VGEN_VERTEX_PROJECT (Veo) or map it in vgen.toml.",
                        name,
                        engine.model_for(public),
                        public,
                    )
