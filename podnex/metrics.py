"""Prometheus metrics: what the API counts (prometheus_client) and what the worker counts
(through Temporal's own meter, exported on the worker's one metrics port).

API process, `GET /metrics` on the API port (default registry, so the process collector's
CPU, memory and file-descriptor series come too):

- `podnex_http_requests_total{method, route, status}`: requests by route template
- `podnex_http_request_duration_seconds{method, route}`: latency histogram
- `podnex_podcasts_created_total`: podcasts the API accepted (201 on create)

Worker process, `http://<WORKER_BIND_HOST>:<WORKER_METRICS_PORT>/metrics`: the Temporal SDK's
own series (`temporal_*`: task latencies, slots, polls, failures) and podnex's domain series,
recorded with `workflow.metric_meter()` / `activity.metric_meter()`:

- `podnex_podcasts_finished_total{outcome}`: completed, failed, cancelled or refused
- `podnex_podcast_audio_seconds` (histogram; `_sum` is the seconds of audio produced)
- `podnex_speech_cache_total{result}`: hit or miss, per line synthesised
- `podnex_provider_errors_total{provider, step, kind}`: script writer and speech failures

Temporal's meter adds its own labels (namespace, task_queue, workflow_type or
activity_type). Workflow code records through `workflow.metric_meter()`, which records
nothing while a history is replayed, so a run counts once however often it is replayed.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Message, Receive, Scope, Send
    from temporalio.common import MetricMeter

# -- names shared with the tests and the README ---------------------------------------------

HTTP_REQUESTS = "podnex_http_requests"
HTTP_DURATION = "podnex_http_request_duration_seconds"
PODCASTS_CREATED = "podnex_podcasts_created"
PODCASTS_FINISHED = "podnex_podcasts_finished"
AUDIO_SECONDS = "podnex_podcast_audio_seconds"
SPEECH_CACHE = "podnex_speech_cache"
PROVIDER_ERRORS = "podnex_provider_errors"

# -- API (prometheus_client) ----------------------------------------------------------------

METRICS_PATH = "/metrics"
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


# -- worker (Temporal's meter) --------------------------------------------------------------


def count_finished(meter: MetricMeter, outcome: str) -> None:
    """One podcast run ended: `completed`, `failed`, `cancelled` or `refused` (limits)."""
    meter.create_counter(PODCASTS_FINISHED, "Podcast runs ended, by outcome").add(
        1, {"outcome": outcome}
    )


def record_audio(meter: MetricMeter, seconds: float) -> None:
    """A podcast's audio was published: its length in seconds."""
    meter.create_histogram_float(
        AUDIO_SECONDS, "Length of each published podcast (sum: seconds of audio produced)", "s"
    ).record(seconds)


def count_speech_cache(meter: MetricMeter, *, hit: bool) -> None:
    """A line's speech was found in storage (hit) or had to be synthesised (miss)."""
    meter.create_counter(SPEECH_CACHE, "Lines of speech looked up in the cache, by result").add(
        1, {"result": "hit" if hit else "miss"}
    )


def count_provider_error(meter: MetricMeter, *, provider: str, step: str, kind: str) -> None:
    """A script writer or speech engine failed: `step` is script or speech, `kind` why."""
    meter.create_counter(
        PROVIDER_ERRORS, "Script writer and speech engine failures, by provider, step and kind"
    ).add(1, {"provider": provider, "step": step, "kind": kind})
