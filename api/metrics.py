"""The API's Prometheus metrics (prometheus_client), served at `GET /metrics` on the API port
(default registry, so the process collector's CPU, memory and file-descriptor series come too):

- `podnex_http_requests_total{method, route, status}`: requests by route template
- `podnex_http_request_duration_seconds{method, route}`: latency histogram
- `podnex_podcasts_created_total`: podcasts the API accepted (201 on create)

The worker's domain metrics are in `podnex.metrics`.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest

from api.paths import METRICS_PATH

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "CREATE_ROUTE",
    "METRICS_PATH",
    "HttpMetricsMiddleware",
    "render_latest",
    "route_template",
]

HTTP_REQUESTS = "podnex_http_requests"
HTTP_DURATION = "podnex_http_request_duration_seconds"
PODCASTS_CREATED = "podnex_podcasts_created"

UNMATCHED_ROUTE = "<unmatched>"
"""The route label of a request no route matched (a 404 for an unknown path)."""


def route_template(scope: Scope) -> str:
    """The template of the route that answered (`/api/v1/podcasts/{podcast_id:str}`), which
    Litestar writes into the scope while routing; `UNMATCHED_ROUTE` when none matched."""
    return str(scope.get("path_template") or UNMATCHED_ROUTE)  # type: ignore[attr-defined]


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

http_requests = Counter(
    HTTP_REQUESTS,
    "HTTP requests answered, by method, route template and status code",
    ["method", "route", "status"],
)
http_duration = Histogram(
    HTTP_DURATION,
    "Time from a request's arrival to the end of its response, by method and route template",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
podcasts_created = Counter(PODCASTS_CREATED, "Podcasts accepted by the API (201 on create)")

CREATE_ROUTE = ("POST", "/api/v1/podcasts")
"""The request that creates a podcast: its 201s count in `podnex_podcasts_created_total`."""


class HttpMetricsMiddleware:
    """Count every HTTP request by route template (never the raw path: bounded labels).

    Wraps the whole application, outside routing, so refusals before a handler runs (401,
    404, 413, 429) count too; Litestar writes the matched route's template into the scope
    while routing, which this reads once the response is sent.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            method = str(scope.get("method", "OTHER"))
            method = method if method in _METHODS else "OTHER"
            route = route_template(scope)
            http_requests.labels(method, route, str(status)).inc()
            http_duration.labels(method, route).observe(time.perf_counter() - started)
            if (method, route) == CREATE_ROUTE and status == 201:
                podcasts_created.inc()


def render_latest() -> tuple[bytes, str]:
    """The API process's metrics in Prometheus' text format, and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
