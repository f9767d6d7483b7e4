"""Pure-ASGI middleware: request ids, log context, helmet-style headers (rate limits:
`api.ratelimit`).

`RequestContextMiddleware` and `SecurityHeadersMiddleware` wrap the whole application
(`wrap_application`), outside routing, so that every response carries their headers:
404s for unknown paths and CORS preflights included. `UserContextMiddleware` runs inside
a route, after authentication, to add the caller's user id to the log context.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import TYPE_CHECKING

import structlog

from api.metrics import HttpMetricsMiddleware, route_template
from api.paths import AUDIO_PATHS, METRICS_PATH, PAGE_PATH, SCHEMA_PATH

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Message, Receive, Scope, Send

access_log = structlog.get_logger("podnex.api.access")

REQUEST_ID_HEADER = "x-request-id"
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; base-uri 'self'; font-src 'self' https: data:; "
    "form-action 'self'; frame-ancestors 'self'; img-src 'self' data:; object-src 'none'; "
    "script-src 'self'; script-src-attr 'none'; style-src 'self' https: 'unsafe-inline'; "
    "upgrade-insecure-requests"
)
"""helmet's default Content-Security-Policy."""

SCHEMA_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; base-uri 'self'; font-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'self'; img-src 'self' data: blob: https:; "
    "object-src 'none'; script-src 'self' 'unsafe-eval'; "
    "script-src-attr 'none'; style-src 'self' 'unsafe-inline'; "
    "connect-src 'self' https:; worker-src 'self' blob:"
)
"""The policy of the OpenAPI pages under /schema: helmet's, relaxed only so that the Scalar
UI works: its bundle is served from this origin (`/static/vendor/…`, see
`api.controllers.page.OfflineScalarRenderPlugin`), it evaluates code at run time
(unsafe-eval), injects its styles at run time (style-src 'unsafe-inline'), may call a
server the reader types in (connect-src https:) and uses blob: workers and images. No
upgrade-insecure-requests, so it also works on plain http://localhost."""


def page_content_security_policy(media_sources: tuple[str, ...] = ()) -> str:
    """The policy of the page at `/`: nothing inline (no script, no style, no attribute
    handlers or style attributes), every script, style and request from this origin; audio
    from this origin, `blob:` (the transcript track the page builds) and `media_sources`
    (where signed download links point when that is elsewhere: PUBLIC_BASE_URL, S3)."""
    media = " ".join(("'self'", "blob:", *media_sources))
    return (
        "default-src 'none'; base-uri 'none'; connect-src 'self'; font-src 'self'; "
        "form-action 'none'; frame-ancestors 'none'; img-src 'self' data:; "
        f"manifest-src 'self'; media-src {media}; object-src 'none'; script-src 'self'; "
        "script-src-attr 'none'; style-src 'self'; style-src-attr 'none'"
    )


PAGE_CONTENT_SECURITY_POLICY = page_content_security_policy()
"""The page's policy when signed links point at this origin (local storage)."""

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = tuple(
    (name.encode(), value.encode())
    for name, value in (
        ("cross-origin-opener-policy", "same-origin"),
        ("origin-agent-cluster", "?1"),
        ("referrer-policy", "no-referrer"),
        ("strict-transport-security", "max-age=31536000; includeSubDomains"),
        ("x-content-type-options", "nosniff"),
        ("x-dns-prefetch-control", "off"),
        ("x-download-options", "noopen"),
        ("x-frame-options", "SAMEORIGIN"),
        ("x-permitted-cross-domain-policies", "none"),
        ("x-xss-protection", "0"),
    )
)
"""helmet's other default headers (Content-Security-Policy and
Cross-Origin-Resource-Policy depend on the path)."""


def request_id_from(scope: Scope) -> str:
    """The caller's X-Request-ID when it is sane (1..128 of [A-Za-z0-9._-]), else a new one."""
    for name, value in scope.get("headers", ()):
        if name == REQUEST_ID_HEADER.encode():
            candidate = value.decode("latin-1")
            if _SANE_REQUEST_ID.fullmatch(candidate):
                return candidate
            break
    return uuid.uuid4().hex


class RequestContextMiddleware:
    """Give each HTTP request an id: echoed in `X-Request-ID`, bound into structlog's context.

    Every log line written while the request is handled carries `request_id` (and, once
    authenticated, `user_id`: `UserContextMiddleware`). When the response is sent, one
    access line: method, route template, path, status, duration, request id and user id.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(scope)
        header = (REQUEST_ID_HEADER.encode(), request_id.encode())
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = [h for h in message.get("headers", ()) if h[0].lower() != header[0]]
                message["headers"] = [*headers, header]
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                if scope["path"] != METRICS_PATH:
                    user = scope.get("user")
                    access_log.info(
                        "request",
                        method=scope.get("method"),
                        route=route_template(scope),
                        path=scope["path"],
                        status=status,
                        duration_ms=round((time.perf_counter() - started) * 1000, 1),
                        user_id=str(user.id) if user is not None else None,
                    )


class SecurityHeadersMiddleware:
    """helmet's default security headers on every HTTP response; X-Powered-By removed.

    Headers a handler set itself win. Audio (`api.paths.AUDIO_PATHS`) is served with
    `Cross-Origin-Resource-Policy: cross-origin` so that a player on another origin (the web
    app) can embed it; everything else is `same-origin`, as with helmet.
    """

    def __init__(self, app: ASGIApp, page_policy: str = PAGE_CONTENT_SECURITY_POLICY) -> None:
        self.app = app
        self.page_policy = page_policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path == PAGE_PATH:
            csp = self.page_policy
        elif _is_schema(path):
            csp = SCHEMA_CONTENT_SECURITY_POLICY
        else:
            csp = CONTENT_SECURITY_POLICY
        corp = "cross-origin" if _AUDIO.search(path) else "same-origin"
        extra = (
            *SECURITY_HEADERS,
            (b"content-security-policy", csp.encode()),
            (b"cross-origin-resource-policy", corp.encode()),
        )

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", ()) if h[0].lower() != b"x-powered-by"]
                present = {name.lower() for name, _ in headers}
                message["headers"] = headers + [h for h in extra if h[0] not in present]
            await send(message)

        await self.app(scope, receive, send_with_headers)


_AUDIO = re.compile("|".join(AUDIO_PATHS))


def _is_schema(path: str) -> bool:
    return path == SCHEMA_PATH or path.startswith(f"{SCHEMA_PATH}/")


NO_STORE = (b"cache-control", b"no-store")


class UserContextMiddleware:
    """For authenticated requests: bind the user's id into structlog's context for the rest
    of the request, and answer with `Cache-Control: no-store` (a shared cache must never
    keep one user's data; a handler's own Cache-Control wins).

    Placed after the authentication middleware; requests on unauthenticated routes carry
    no `user` and pass through unchanged (signed audio links keep their own caching).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        user = scope.get("user")
        if user is None:
            await self.app(scope, receive, send)
            return

        async def send_private(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                if not any(name.lower() == NO_STORE[0] for name, _ in headers):
                    message["headers"] = [*headers, NO_STORE]
            await send(message)

        with structlog.contextvars.bound_contextvars(user_id=str(user.id)):
            await self.app(scope, receive, send_private)


def wrap_application(app: ASGIApp, page_policy: str = PAGE_CONTENT_SECURITY_POLICY) -> ASGIApp:
    """`app` with request metrics, request ids, an access log line and security headers on
    every response it sends (`page_policy`: the Content-Security-Policy of the page at `/`)."""
    return HttpMetricsMiddleware(
        RequestContextMiddleware(SecurityHeadersMiddleware(app, page_policy))
    )
