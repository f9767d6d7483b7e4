"""/api/health: liveness."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from litestar import get


@get("/api/health", operation_id="health", summary="Liveness", tags=["health"])
async def health() -> dict[str, Any]:
    return {
        "success": True,
        "message": "API is running",
        "timestamp": datetime.now(UTC).isoformat(),
    }
