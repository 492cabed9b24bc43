"""The web dashboard (API.md §8): `GET /` and its static assets under `/dashboard/`, served
without auth under a strict Content-Security-Policy, plus `GET /dashboard/session.json`, which
needs a key like every API call the page makes (the dashboard never weakens the API's auth)."""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter
from starlette.responses import Response

from vgen.api.deps import KeyDep, ServicesDep
from vgen.api.veo import json_response
from vgen.domain.errors import NotFound
from vgen.service.key_body import key_body

# Videos and thumbnails are fetched from `/v1/videos/{id}/content` with the Bearer header and
# played from blob: URLs, so the page needs no other origin even when `video_url` is presigned.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
_MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}

router = APIRouter(include_in_schema=False)


@router.get("/")
async def index() -> Response:
    return _asset("index.html")


@router.get("/dashboard/session.json")
async def session(key: KeyDep, services: ServicesDep) -> Response:
    """Who the key is (never its secret) and the model catalog the create form offers."""
    models = [
        {
            "id": spec.name,
            "description": spec.description,
            "resolutions": sorted(r.value for r in spec.resolutions),
            "aspect_ratios": ["16:9", "9:16"],
            "durations": sorted(spec.durations_s),
            "default_duration": spec.default_duration_s,
            "image_modes": sorted(m.value for m in spec.modes),
        }
        for spec in services.tasks.catalog.models.values()
    ]
    return json_response({"key": key_body(key), "models": models}, headers=_HEADERS)


@router.get("/dashboard/{name}")
async def asset(name: str) -> Response:
    return _asset(name)


def _asset(name: str) -> Response:
    suffix = name[name.rfind(".") :] if "." in name else ""
    static = resources.files("vgen.dashboard").joinpath("static")
    # Only plain file names of known types: no path can climb out of the package's folder.
    if "/" in name or name.startswith(".") or suffix not in _MEDIA_TYPES:
        raise NotFound(f"No dashboard asset '{name}'.")
    file = static.joinpath(name)
    if not file.is_file():
        raise NotFound(f"No dashboard asset '{name}'.")
    return Response(file.read_bytes(), media_type=_MEDIA_TYPES[suffix], headers=_HEADERS)
