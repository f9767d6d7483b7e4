"""/api/health (liveness), /api/ready (readiness: Postgres and Temporal answer) and
/metrics (Prometheus; outside authentication, rate limiting and the OpenAPI schema)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from litestar import Request, Response, get
from sqlalchemy import text

from api.errors import ApiError
from api.metrics import render_latest
from api.openapi import error_responses
from api.paths import HEALTH_PATH, METRICS_PATH, READY_PATH
from api.schemas import ReadyOut
from api.state import AppState

log = structlog.get_logger("podnex.api")

CHECK_TIMEOUT_SECONDS = 2.0
"""How long each readiness check may take before it counts as failed."""


@get(HEALTH_PATH, operation_id="health", summary="Liveness", tags=["health"])
async def health() -> dict[str, Any]:
    return {
        "success": True,
        "message": "API is running",
        "timestamp": datetime.now(UTC).isoformat(),
    }


async def _database_answers(state: AppState) -> None:
    async with state.db.engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


async def _temporal_answers(state: AppState) -> None:
    if not await state.runs.healthy(timedelta(seconds=CHECK_TIMEOUT_SECONDS)):
        raise RuntimeError("Temporal reported itself not serving")


async def _run_check(name: str, check: Callable[[], Awaitable[None]]) -> str:
    """ "ok", or why the check failed ("timeout" / "error"); the cause goes to the log."""
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            await check()
    except TimeoutError:
        log.warning("readiness check timed out", check=name, seconds=CHECK_TIMEOUT_SECONDS)
        return "timeout"
    except Exception as exc:
        log.warning("readiness check failed", check=name, error=repr(exc))
        return "error"
    return "ok"


@get(
    READY_PATH,
    operation_id="ready",
    summary="Readiness",
    description=f"200 when Postgres answers `SELECT 1` and Temporal answers a health check, "
    f"each within {CHECK_TIMEOUT_SECONDS:g} s; otherwise 503 with `details` giving each "
    "dependency's state (`ok`, `timeout` or `error`).",
    tags=["health"],
    responses=error_responses(503, descriptions={503: "A dependency did not answer"}),
)
async def ready(request: Request[Any, Any, Any]) -> ReadyOut:
    state: AppState = request.app.state.podnex
    database, temporal = await asyncio.gather(
        _run_check("database", lambda: _database_answers(state)),
        _run_check("temporal", lambda: _temporal_answers(state)),
    )
    checks = {"database": database, "temporal": temporal}
    failed = [name for name, result in checks.items() if result != "ok"]
    if failed:
        raise ApiError(503, f"Not ready: {', '.join(failed)} unavailable", details=checks)
    return ReadyOut(checks={"database": "ok", "temporal": "ok"})


@get(METRICS_PATH, include_in_schema=False, sync_to_thread=False)
def metrics() -> Response[bytes]:
    """This API process's metrics in Prometheus' text format (see `api.metrics`)."""
    body, content_type = render_latest()
    return Response(content=body, media_type=content_type)
