"""The API's paths that cross-cutting concerns treat specially, declared once.

Authentication, rate limiting, compression and security headers all decide by these.
"""

from __future__ import annotations

HEALTH_PATH = "/api/health"
READY_PATH = "/api/ready"
SCHEMA_PATH = "/schema"
METRICS_PATH = "/metrics"
FILES_PATH = "/api/v1/files"
"""Audio served through signed links (the link is the credential)."""
FEEDS_PATH = "/feeds"
"""Each user's private podcast feed and its files (`/feeds/{token}.xml`): the token in the
path is the credential (`api.controllers.feeds`)."""
PAGE_PATH = "/"
"""The page to try the API in a browser (`api.controllers.page`)."""
STATIC_PATH = "/static"
"""The page's script and style, and the vendored API reference UI (files of `api/static`)."""

STREAM_SIGNED_PATH = r"^/api/v1/podcasts/[^/]+/stream/[^/]+/[^/]+$"
"""A podcast's stream (playlist, chunks) through a signed token in the path (#15)."""
STREAM_PATHS = [r"^/api/v1/podcasts/[^/]+/stream\.m3u8$", STREAM_SIGNED_PATH]
"""The stream's playlists and chunks: audio and growing playlists, never compressed."""

BILLING_WEBHOOK_PATH = "/api/v1/billing/webhooks/dodo"
"""The payment provider's webhooks: authenticated by their signature, not an API key."""

PUBLIC_PATHS = [
    f"^{HEALTH_PATH}",
    f"^{READY_PATH}",
    f"^{SCHEMA_PATH}",
    f"^{FILES_PATH}/",
    f"^{FEEDS_PATH}/",
    STREAM_SIGNED_PATH,
    f"^{METRICS_PATH}$",
    f"^{PAGE_PATH}$",
    f"^{STATIC_PATH}/",
    f"^{BILLING_WEBHOOK_PATH}$",
]
"""Paths answered without an API key: probes, the API documentation, signed file and stream
links, the private feeds (their token authorises them; the per-address rate limit
applies), metrics (block `/metrics` at the proxy in production), the page with its static
files (the page asks for the key and sends it itself), and the payment provider's webhooks
(each verified by its Standard Webhooks signature)."""

UNLIMITED_PATHS = [
    f"^{HEALTH_PATH}",
    f"^{READY_PATH}",
    f"^{SCHEMA_PATH}",
    f"^{METRICS_PATH}$",
    f"^{PAGE_PATH}$",
    f"^{STATIC_PATH}/",
]
"""Paths never rate limited: probes, metrics, the API documentation and the page with its
static files (files from the package: counting them in Postgres would cost more than
serving them, and the page must load to explain a 503; every API call it makes is
limited as usual)."""

FEED_AUDIO_PATHS = [rf"^{FEEDS_PATH}/[^/]+/[^/]+/v\d+\.mp3$"]
"""A private feed's enclosures."""

AUDIO_PATHS = [f"^{FILES_PATH}/", *FEED_AUDIO_PATHS, *STREAM_PATHS]
"""Paths that answer with audio: never compressed, readable across origins."""

EVENT_STREAM_PATHS = [r"^/api/v1/podcasts/[^/]+/events$"]
"""Server-sent event streams: never compressed (a compressor buffers, so progress would
arrive late or all at once)."""

UNCOMPRESSED_PATHS = AUDIO_PATHS + EVENT_STREAM_PATHS
"""Paths the compression middleware leaves alone."""
