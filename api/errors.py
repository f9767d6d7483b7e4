"""Every error leaves the API in the seed's envelope: success false, error, code, details."""

from __future__ import annotations

from collections.abc import Callable, Mapping
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
from litestar.status_codes import (
    HTTP_400_BAD_REQUEST,
    HTTP_500_INTERNAL_SERVER_ERROR,
    HTTP_503_SERVICE_UNAVAILABLE,
)
from sqlalchemy.exc import DataError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

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


WWW_AUTHENTICATE = 'Bearer realm="podnex"'
"""How to authenticate, on every 401 (RFC 9110 section 11.6.1, RFC 6750)."""


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
        headers.setdefault("WWW-Authenticate", WWW_AUTHENTICATE)
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


DATABASE_RETRY_AFTER_SECONDS = 5
"""What a 503 for an unavailable database tells the client to wait (`Retry-After`)."""

DATABASE_UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeoutError)
"""SQLAlchemy's errors for a database that does not answer: connection refused or lost,
server shutting down, no free pooled connection within DATABASE_POOL_TIMEOUT_SECONDS."""


def database_unavailable_response() -> Response[Any]:
    """503 with `Retry-After`: the database is not answering (nothing about why)."""
    return Response(
        envelope(
            "Service unavailable: the database is not answering; try again shortly",
            "SERVICE_UNAVAILABLE",
        ),
        status_code=HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
    )


def handle_database_unavailable(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """A database outage is temporary and not the request's fault: 503 + Retry-After."""
    cause = getattr(exc, "orig", None) or exc
    reason = (str(cause).strip().splitlines() or [""])[0]
    log.warning(
        "database unavailable",
        path=request.url.path,
        method=request.method,
        error=f"{type(cause).__name__}: {reason}" if reason else type(cause).__name__,
    )
    return database_unavailable_response()


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("unhandled error", path=request.url.path, method=request.method)
    return Response(
        envelope("Internal server error", "INTERNAL_ERROR"),
        status_code=HTTP_500_INTERNAL_SERVER_ERROR,
    )


EXCEPTION_HANDLERS: dict[
    type[Exception], Callable[[Request[Any, Any, Any], Any], Response[Any]]
] = {
    HTTPException: handle_http_exception,
    DataError: handle_unstorable_data,
    OperationalError: handle_database_unavailable,
    InterfaceError: handle_database_unavailable,
    PoolTimeoutError: handle_database_unavailable,
    Exception: handle_unexpected,
}
