"""Liveness and readiness probes (no auth, API.md §3)."""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import APIRouter
from starlette.responses import Response

from vgen.api.deps import ServicesDep
from vgen.api.veo import json_response

router = APIRouter()


@router.get("/healthz")
async def healthz() -> Response:
    """The process is up."""
    return json_response({"status": "ok"})


@router.get("/readyz")
async def readyz(services: ServicesDep) -> Response:
    """The database answers and the archive is writable."""
    checks = {"database": True, "storage": True}
    try:
        await services.store.tasks.count_by_state()
    except Exception:  # any failure means not ready; the probe must answer, not raise
        checks["database"] = False
    staging = services.storage.staging_dir()
    checks["storage"] = staging.is_dir() and _writable(staging)
    ready = all(checks.values())
    body = {"status": "ok" if ready else "unavailable", "checks": checks}
    response = json_response(body)
    response.status_code = 200 if ready else 503
    return response


def _writable(path: Path) -> bool:
    return os.access(path, os.W_OK)
