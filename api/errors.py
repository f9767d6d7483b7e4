"""Every error leaves the API in the seed's envelope: success false, error, code, details."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog
from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    TooManyRequestsException,
    ValidationException,
)
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.handlers import HTTPRouteHandler
from litestar.status_codes import HTTP_400_BAD_REQUEST, HTTP_500_INTERNAL_SERVER_ERROR
from sqlalchemy.exc import DataError

log = structlog.get_logger("podnex.api")

CODES: dict[int, str] = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    416: "RANGE_NOT_SATISFIABLE",
    422: "UNPROCESSABLE_ENTITY",
    429: "RATE_LIMITED",
    503: "SERVICE_UNAVAILABLE",
}


class ApiError(HTTPException):
    """An error with a stable machine-readable code and optional details."""

    def __init__(
        self,
        status_code: int,
        message: str,
        *,
        code: str | None = None,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail=message, status_code=status_code, headers=headers)
        self.code = code or CODES.get(status_code, "ERROR")
        self.details = details


def envelope(message: str, code: str, details: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"success": False, "error": message, "code": code}
    if details is not None:
        body["details"] = details
    return body


def _field_name(key: str) -> str:
    return key.removeprefix("body.").removeprefix("query.")


def validation_details(exc: ValidationException) -> list[dict[str, str]]:
    """Litestar's validation extras as [{"field", "message"}]."""
    details = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if isinstance(item, dict):
            field = str(item.get("key") or item.get("loc") or "body")
            details.append({"field": _field_name(field), "message": str(item.get("message"))})
    return details


def retry_after_seconds(headers: Mapping[str, str]) -> int:
    """Seconds until the rate-limit window resets, from Litestar's `RateLimit-Reset` header."""
    try:
        return max(1, int(headers.get("RateLimit-Reset", "")))
    except ValueError:
        return 60


def handle_http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    headers = dict(exc.headers or {})
    if isinstance(exc, ApiError):
        body = envelope(exc.detail, exc.code, exc.details)
    elif isinstance(exc, ValidationException):
        details = validation_details(exc)
        summary = "; ".join(f"{d['field']}: {d['message']}" for d in details) or exc.detail
        body = envelope(f"Validation failed: {summary}", "VALIDATION_ERROR", details or None)
    elif isinstance(exc, NotAuthorizedException):
        body = envelope(exc.detail or "Unauthorized", "UNAUTHORIZED")
    elif isinstance(exc, TooManyRequestsException):
        wait = retry_after_seconds(headers)
        headers["Retry-After"] = str(wait)
        body = envelope(f"Too many requests; try again in {wait} seconds", "RATE_LIMITED")
    elif isinstance(exc, RequestEntityTooLarge):
        handler = request.scope.get("route_handler")
        limit = (
            handler.resolve_request_max_body_size()
            if isinstance(handler, HTTPRouteHandler)
            else None
        )
        body = envelope(
            "Request body too large", "PAYLOAD_TOO_LARGE", {"maxBytes": limit} if limit else None
        )
    else:
        body = envelope(exc.detail, CODES.get(status, "ERROR"))
    return Response(body, status_code=status, headers=headers)


def handle_unstorable_data(request: Request[Any, Any, Any], exc: DataError) -> Response[Any]:
    """A value the database cannot store is the request's fault: 400, not 500.

    Postgres text cannot hold NUL (U+0000) characters, which JSON strings can carry; any
    route that stores text answers this way rather than failing.
    """
    log.warning("unstorable request data", path=request.url.path, error=str(exc.orig))
    reason = (
        "text must not contain NUL (U+0000) characters"
        if "NUL" in str(exc.orig)
        else "a value cannot be stored"
    )
    return Response(
        envelope(f"Validation failed: {reason}", "VALIDATION_ERROR"),
        status_code=HTTP_400_BAD_REQUEST,
    )


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("unhandled error", path=request.url.path, method=request.method)
    return Response(
        envelope("Internal server error", "INTERNAL_ERROR"),
        status_code=HTTP_500_INTERNAL_SERVER_ERROR,
    )


EXCEPTION_HANDLERS = {
    HTTPException: handle_http_exception,
    DataError: handle_unstorable_data,
    Exception: handle_unexpected,
}
