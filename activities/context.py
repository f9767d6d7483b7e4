"""What every activity shares: its dependencies, a bound logger and a heartbeat loop."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import structlog
from temporalio import activity

from podnex.db import Database
from podnex.script.base import ScriptWriter
from podnex.speech.base import SpeechEngine
from podnex.storage import Storage


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class ActivityDeps:
    """Opened once by the worker and handed to every activity class."""

    db: Database
    storage: Storage
    writer: ScriptWriter
    engines: Mapping[str, SpeechEngine]
    clock: Callable[[], datetime] = field(default=utcnow)


def retry_delay(seconds: float | None) -> timedelta | None:
    """A provider's requested wait (Retry-After) as the next retry's delay, when it gave one."""
    return timedelta(seconds=seconds) if seconds else None


def log() -> structlog.stdlib.BoundLogger:
    """A logger bound to the running activity's workflow id, run id, name and attempt."""
    info = activity.info()
    return structlog.get_logger("podnex.activity").bind(
        workflow_id=info.workflow_id,
        run_id=info.workflow_run_id,
        activity=info.activity_type,
        attempt=info.attempt,
    )


def podcast_uuid(podcast_id: str) -> uuid.UUID:
    return uuid.UUID(podcast_id)


@asynccontextmanager
async def heartbeating(interval_seconds: float = 1.0) -> AsyncIterator[None]:
    """Heartbeat in the background while a long step runs, so cancellation reaches it."""

    async def beat() -> None:
        while True:
            activity.heartbeat()
            await asyncio.sleep(interval_seconds)

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
