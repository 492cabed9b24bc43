"""`GET /metrics`: Prometheus text format (API.md §3), optionally behind a bearer token
(`VGEN_METRICS_TOKEN`). Gauges about the task table are read from the store at scrape time,
so every API process reports the same numbers whichever of them is scraped."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response

from vgen.api.deps import ServicesDep
from vgen.domain.errors import AuthenticationFailed
from vgen.domain.states import TaskState
from vgen.metrics import QUEUE_DEPTH, TASKS

router = APIRouter()


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request, services: ServicesDep) -> Response:
    token = services.settings.metrics_token
    if token is not None:
        presented = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(presented.encode(), token.encode()):
            raise AuthenticationFailed(
                "A valid metrics token is required (Authorization: Bearer ...)."
            )
    counts = await services.store.tasks.count_by_state_and_engine()
    TASKS.clear()
    for (state, engine), count in counts.items():
        TASKS.labels(state, engine).set(count)
    QUEUE_DEPTH.set(sum(n for (state, _), n in counts.items() if state == TaskState.QUEUED))
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
