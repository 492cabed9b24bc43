"""The only mapping from errors to HTTP responses: status + the contract's error body (API.md §0).

`{"error": {"message": str, "type": str, "code": str|null, "param": str|null}}`. FastAPI's own
422 validation shape never reaches a client; an unexpected exception is a logged 500.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from vgen.domain.errors import (
    AuthenticationFailed,
    BudgetExceeded,
    EngineError,
    IdempotencyConflict,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    QuotaExceeded,
    RateLimited,
    ServiceUnavailable,
    StorageUnavailable,
    StoreError,
    TaskFinished,
    UnsupportedMedia,
    VgenError,
    VideoNotReady,
)

log = logging.getLogger(__name__)

# Most specific first: the first matching class decides.
_STATUS: tuple[tuple[type[VgenError], int, str, str | None], ...] = (
    (PayloadTooLarge, 413, "invalid_request_error", "payload_too_large"),
    (UnsupportedMedia, 415, "invalid_request_error", "unsupported_media_type"),
    (InvalidRequest, 400, "invalid_request_error", "invalid_value"),
    (AuthenticationFailed, 401, "authentication_error", "invalid_api_key"),
    (PermissionDenied, 403, "permission_error", "forbidden"),
    (NotFound, 404, "not_found_error", "not_found"),
    (IdempotencyConflict, 409, "invalid_request_error", "idempotency_conflict"),
    (VideoNotReady, 409, "invalid_request_error", "video_not_ready"),
    (TaskFinished, 409, "invalid_request_error", "task_finished"),
    (QuotaExceeded, 429, "insufficient_quota", "quota_exceeded"),
    (BudgetExceeded, 429, "insufficient_quota", "budget_exceeded"),
    (RateLimited, 429, "rate_limit_error", "rate_limit_exceeded"),
    (ServiceUnavailable, 503, "service_unavailable_error", "engine_unavailable"),
    (StoreError, 503, "service_unavailable_error", "database_unavailable"),
    (StorageUnavailable, 503, "service_unavailable_error", "storage_unavailable"),
    # Engines run in the worker, so in the API an EngineError only comes from decoding an
    # archived video (`variant=thumbnail`): the worker probed it before completing the task,
    # so the archive copy is damaged. To the client that is a video the archive no longer holds
    # usably — the documented 404 for content past retention — and the code says why. Not a
    # 5xx: SDKs retry those, and no retry can repair the file; the operator gets a logged error.
    (EngineError, 404, "not_found_error", "video_undecodable"),
)

_HTTP_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
}


def error_response(
    status: int,
    message: str,
    *,
    type_: str,
    code: str | None = None,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body = {"error": {"message": message, "type": type_, "code": code, "param": param}}
    return Response(
        orjson.dumps(body), status_code=status, media_type="application/json", headers=headers
    )


def response_for(exc: VgenError) -> Response:
    for cls, status, type_, default_code in _STATUS:
        if isinstance(exc, cls):
            code = getattr(exc, "code", None) or default_code
            param = getattr(exc, "param", None)
            message = exc.message
            if isinstance(exc, StoreError | StorageUnavailable):
                log.error("%s", exc.message, exc_info=exc)
            if isinstance(exc, EngineError):
                log.error("an archived video does not decode: %s", exc.message)
                message = "The archived video cannot be decoded, so it cannot be served."
            return error_response(
                status, message, type_=type_, code=code, param=param, headers=_headers(exc, status)
            )
    log.error("unmapped domain error %r", exc)
    return internal_error()


def _headers(exc: VgenError, status: int) -> dict[str, str] | None:
    if isinstance(exc, ServiceUnavailable | RateLimited):
        return {"Retry-After": str(max(1, round(exc.retry_after_s)))}
    if isinstance(exc, StoreError | StorageUnavailable):
        return {"Retry-After": "5"}
    if isinstance(exc, AuthenticationFailed):
        return {"WWW-Authenticate": "Bearer"}
    if status == 409:
        # Stainless SDKs (the openai SDK) retry a 409 unless told not to; a repeat of these
        # requests gets the same answer.
        return {"x-should-retry": "false"}
    return None


def internal_error() -> Response:
    return error_response(
        500, "The server had an error while processing your request.", type_="server_error"
    )


async def _on_vgen_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, VgenError)
    return response_for(exc)


async def _on_validation_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    first: dict[str, Any] = exc.errors()[0] if exc.errors() else {}
    location = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path")]
    param = ".".join(location) or None
    message = (
        f"Invalid value for '{param}': {first.get('msg', 'invalid')}."
        if param
        else "Invalid request."
    )
    return error_response(
        400, message, type_="invalid_request_error", code="invalid_value", param=param
    )


async def _on_http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code if exc.status_code < 500 else 500
    return error_response(
        status,
        str(exc.detail),
        type_=_HTTP_TYPES.get(status, "invalid_request_error"),
        headers=dict(exc.headers) if exc.headers else None,
    )


async def _on_unexpected(_request: Request, exc: Exception) -> Response:
    log.exception("unhandled error", exc_info=exc)
    return internal_error()


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(VgenError, _on_vgen_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(Exception, _on_unexpected)
