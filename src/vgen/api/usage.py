"""`GET /v1/usage?from=&to=`: the caller's tenant's video-seconds, task counts and cost per model
and day (API.md §3). Days are UTC; `from`/`to` are dates (`YYYY-MM-DD`) or Unix seconds; costs
are in the price table's `currency`."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from vgen.api.deps import ClockDep, KeyDep, ServicesDep
from vgen.api.veo import json_response
from vgen.domain.errors import InvalidRequest
from vgen.store.usage import utc_day

DEFAULT_DAYS = 30
MAX_DAYS = 366

router = APIRouter()


@router.get("/usage")
async def usage(
    key: KeyDep,
    services: ServicesDep,
    clock: ClockDep,
    from_: Annotated[str | None, Query(alias="from")] = None,
    to: str | None = None,
) -> Response:
    """Video-seconds produced, tasks ended and their cost (in `currency`; failed and cancelled
    tasks cost nothing), per day and model, for the caller's tenant."""
    last = _day(to, "to") if to else dt.date.fromisoformat(utc_day(clock()))
    first = _day(from_, "from") if from_ else last - dt.timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise InvalidRequest("from must not be after to.", param="from")
    if (last - first).days >= MAX_DAYS:
        raise InvalidRequest(f"Ask for at most {MAX_DAYS} days at once.", param="from")
    rows = await services.store.usage.for_tenant(
        key.tenant_id, first_day=first.isoformat(), last_day=last.isoformat()
    )
    data = [
        {
            "day": r.day,
            "model": r.model,
            "video_seconds": round(r.video_seconds, 3),
            "tasks": r.completed + r.failed + r.cancelled,
            "completed": r.completed,
            "failed": r.failed,
            "cancelled": r.cancelled,
            "cost": round(r.cost, 6),
        }
        for r in rows
    ]
    total = {
        "video_seconds": round(sum(r.video_seconds for r in rows), 3),
        "tasks": sum(r.completed + r.failed + r.cancelled for r in rows),
        "completed": sum(r.completed for r in rows),
        "failed": sum(r.failed for r in rows),
        "cancelled": sum(r.cancelled for r in rows),
        "cost": round(sum(r.cost for r in rows), 6),
    }
    return json_response(
        {
            "object": "usage",
            "from": first.isoformat(),
            "to": last.isoformat(),
            "currency": services.currency,
            "data": data,
            "total": total,
        }
    )


def _day(value: str, param: str) -> dt.date:
    try:
        if value.isdigit():
            return dt.date.fromisoformat(utc_day(float(value)))
        return dt.date.fromisoformat(value)
    except (ValueError, OverflowError, OSError):
        raise InvalidRequest(
            f"{param} must be a date (YYYY-MM-DD) or Unix seconds.", param=param
        ) from None
