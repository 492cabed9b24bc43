"""Model discovery (API.md §3): `GET /v1/models` (OpenAI-style list) and `GET /v1/videos/models`
answer the same body, so the `openai` SDK's `models.list()` and vgen's own clients read one list."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from vgen.api.deps import KeyDep, ServicesDep
from vgen.api.veo import json_response

router = APIRouter(tags=["Models"])


@router.get("/models")
@router.get("/videos/models")
async def list_models(_key: KeyDep, services: ServicesDep) -> Response:
    """Every model this server offers: `id`, `description`, `resolutions`, `aspect_ratios`,
    `durations` (seconds), `image_modes`, `price` (per video-second and resolution, or null),
    `typical_seconds` (median observed job time, or null), `available`, and `targets` (the
    engine targets it routes to, in order, with their status)."""
    return json_response({"object": "list", "data": await services.models.list_all()})
