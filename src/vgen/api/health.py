"""Liveness and readiness probes (no auth, API.md §3)."""

from __future__ import annotations

import logging

from fastapi import APIRouter
from starlette.responses import Response

from vgen.api.deps import ServicesDep
from vgen.api.veo import json_response
from vgen.domain.errors import StorageUnavailable

log = logging.getLogger(__name__)

router = APIRouter()


@router.get("/healthz")
async def healthz() -> Response:
    """The process is up."""
    return json_response({"status": "ok"})


@router.get("/readyz")
async def readyz(services: ServicesDep) -> Response:
    """The database answers and the archive (local disk or bucket) is reachable and writable."""
    checks = {"database": True, "storage": True}
    try:
        await services.store.tasks.count_by_state()
    except Exception:  # any failure means not ready; the probe must answer, not raise
        checks["database"] = False
    try:
        await services.storage.check()
    except StorageUnavailable as exc:
        log.warning("readiness: %s", exc.message)
        checks["storage"] = False
    ready = all(checks.values())
    body = {"status": "ok" if ready else "unavailable", "checks": checks}
    response = json_response(body)
    response.status_code = 200 if ready else 503
    return response
