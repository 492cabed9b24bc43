"""Admin API: manage API keys over HTTP (admin keys only; others get 403).

`POST /v1/admin/keys`, `GET /v1/admin/keys`, `POST /v1/admin/keys/{id}/revoke` (also
`DELETE /v1/admin/keys/{id}`), and the same under `/v1/keys`. The operations of `vgen keys`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from vgen.api.body import parse_json, read_limited
from vgen.api.deps import Services, ServicesDep
from vgen.api.veo import json_response
from vgen.domain.errors import InvalidRequest
from vgen.domain.keys import DEFAULT_WEIGHT, ApiKey, KeyLimits
from vgen.service.key_body import created_key_body, key_body
from vgen.service.keys import CreatedKey, KeyRequest

MAX_BODY_BYTES = 64 * 1024
_FIELDS = {
    "name",
    "tenant_id",
    "admin",
    "rate_per_minute",
    "max_inflight",
    "daily_seconds",
    "webhook_url",
    "weight",
    "daily_budget",
    "monthly_budget",
}


async def admin_key(request: Request) -> ApiKey:
    services: Services = request.app.state.services
    return await services.auth.authenticate_admin(request.headers.get("authorization"))


AdminDep = Annotated[ApiKey, Depends(admin_key)]
router = APIRouter()


@router.post("/keys")
async def create_key(request: Request, _admin: AdminDep, services: ServicesDep) -> Response:
    """Create a key. The answer carries `key` and `webhook_secret`, shown only this once."""
    body = parse_json(await read_limited(request, max_bytes=MAX_BODY_BYTES))
    created = await services.keys.create(parse_key_request(body))
    return json_response(created_body(created))


@router.get("/keys")
async def list_keys(_admin: AdminDep, services: ServicesDep) -> Response:
    """Every key, without secrets."""
    keys = await services.keys.list()
    return json_response({"object": "list", "data": [key_body(k) for k in keys]})


@router.post("/keys/{key_id}/revoke")
@router.delete("/keys/{key_id}")
async def revoke_key(key_id: str, _admin: AdminDep, services: ServicesDep) -> Response:
    """Revoke a key: every request with it is refused from now on."""
    return json_response(key_body(await services.keys.revoke(key_id)))


def parse_key_request(body: Any) -> KeyRequest:
    if not isinstance(body, Mapping):
        raise InvalidRequest("The request body must be a JSON object.", code="invalid_json")
    unknown = sorted(set(body) - _FIELDS)
    if unknown:
        raise InvalidRequest(f"Unknown field '{unknown[0]}'.", param=unknown[0])
    name = body.get("name")
    if not isinstance(name, str):
        raise InvalidRequest("name is required and must be a string.", param="name")
    return KeyRequest(
        name=name,
        tenant_id=_optional(body, "tenant_id", str),
        is_admin=bool(_optional(body, "admin", bool) or False),
        limits=KeyLimits(
            rate_per_minute=_optional(body, "rate_per_minute", int),
            max_inflight=_optional(body, "max_inflight", int),
            daily_seconds=_optional_number(body, "daily_seconds"),
            daily_budget=_optional_number(body, "daily_budget"),
            monthly_budget=_optional_number(body, "monthly_budget"),
        ),
        webhook_url=_optional(body, "webhook_url", str),
        weight=_weight(body),
    )


def _weight(body: Mapping[str, Any]) -> float:
    weight = _optional_number(body, "weight")
    return DEFAULT_WEIGHT if weight is None else weight


def _optional(body: Mapping[str, Any], field: str, kind: type) -> Any:
    value = body.get(field)
    if value is None:
        return None
    if type(value) is not kind:  # bool is an int subclass: `True` is not a rate
        raise InvalidRequest(f"{field} must be a {kind.__name__}.", param=field)
    return value


def _optional_number(body: Mapping[str, Any], field: str) -> float | None:
    value = body.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidRequest(f"{field} must be a number.", param=field)
    return float(value)


def created_body(created: CreatedKey) -> dict[str, Any]:
    return created_key_body(
        created.key, secret=created.secret, webhook_secret=created.webhook_secret
    )
