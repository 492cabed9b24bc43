"""Cheap credential checks for engine targets (`vgen engines`): one read-only request each."""

from __future__ import annotations

import httpx

from vgen.config import TargetConfig
from vgen.engines.gemini import DEFAULT_GEMINI_BASE_URL


async def probe_target(target: TargetConfig, client: httpx.AsyncClient) -> str:
    """`ok`, or a short reason the target cannot be used."""
    if target.type == "local":
        return "ok"
    key = target.resolved_api_key()
    if target.type == "gemini":
        base = (target.base_url or DEFAULT_GEMINI_BASE_URL).rstrip("/")
        request = client.build_request(
            "GET",
            f"{base}/v1beta/models",
            params={"pageSize": 1},
            headers={"x-goog-api-key": key or ""},
        )
    elif target.type == "relay":
        request = client.build_request(
            "GET",
            f"{(target.base_url or '').rstrip('/')}/v1/veo/videos",
            params={"limit": 1},
            headers={"Authorization": f"Bearer {key}"} if key else {},
        )
    else:
        request = client.build_request(
            "GET",
            f"{(target.base_url or '').rstrip('/')}/models",
            headers={"Authorization": f"Bearer {key}"} if key else {},
        )
    try:
        response = await client.send(request)
    except httpx.HTTPError as exc:
        return f"unreachable ({exc.__class__.__name__})"
    if response.status_code in (401, 403):
        return f"credentials refused (HTTP {response.status_code})"
    if response.status_code >= 400:
        return f"answered HTTP {response.status_code}"
    return "ok"
