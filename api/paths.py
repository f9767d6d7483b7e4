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

PUBLIC_PATHS = [
    f"^{HEALTH_PATH}",
    f"^{READY_PATH}",
    f"^{SCHEMA_PATH}",
    f"^{FILES_PATH}/",
    f"^{METRICS_PATH}$",
]
"""Paths answered without an API key: probes, the API documentation, signed file links
and metrics (block `/metrics` at the proxy in production)."""

UNLIMITED_PATHS = [f"^{HEALTH_PATH}", f"^{READY_PATH}", f"^{SCHEMA_PATH}", f"^{METRICS_PATH}$"]
"""Paths never rate limited: probes, metrics and the API documentation."""

AUDIO_PATHS = [f"^{FILES_PATH}/"]
"""Paths that answer with audio: never compressed, readable across origins."""

EVENT_STREAM_PATHS = [r"^/api/v1/podcasts/[^/]+/events$"]
"""Server-sent event streams: never compressed (a compressor buffers, so progress would
arrive late or all at once)."""

UNCOMPRESSED_PATHS = AUDIO_PATHS + EVENT_STREAM_PATHS
"""Paths the compression middleware leaves alone."""
