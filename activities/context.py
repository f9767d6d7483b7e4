"""What every activity shares: its dependencies, a bound logger, its log context and a
heartbeat loop."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy.exc
import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

from podnex.db import Database
from podnex.script.base import ScriptWriter
from podnex.speech.base import SpeechEngine
from podnex.storage import Storage
from podnex.webhooks import WebhookPolicy


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
    webhooks: WebhookPolicy = field(default_factory=WebhookPolicy)


def retry_delay(seconds: float | None) -> timedelta | None:
    """A provider's requested wait (Retry-After) as the next retry's delay, when it gave one."""
    return timedelta(seconds=seconds) if seconds else None


def log_context(info: activity.Info) -> dict[str, Any]:
    """The fields every log line of an activity carries."""
    return {
        "workflow_id": info.workflow_id,
        "run_id": info.workflow_run_id,
        "activity": info.activity_type,
        "attempt": info.attempt,
    }


def log() -> structlog.stdlib.BoundLogger:
    """A logger bound to the running activity's workflow id, run id, name and attempt."""
    return structlog.get_logger("podnex.activity").bind(**log_context(activity.info()))


class ActivityLogContext(Interceptor):
    """Worker interceptor: binds `log_context` into structlog's contextvars while each
    activity runs, so every line logged meanwhile carries it: podnex's domain code, the
    libraries it calls and the SDK's own activity messages (failures, retries) included."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _BindLogContext(next)


class _BindLogContext(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        with structlog.contextvars.bound_contextvars(**log_context(activity.info())):
            return await self.next.execute_activity(input)


_DETERMINISTIC_DATABASE_ERRORS = (
    sqlalchemy.exc.DataError,
    sqlalchemy.exc.IntegrityError,
    sqlalchemy.exc.ProgrammingError,
)


class DatabaseUnavailable(Interceptor):
    """Worker interceptor: an activity that cannot reach Postgres fails with a short,
    retryable ``DatabaseUnavailable`` naming the driver's reason; any other database error
    fails it with a short ``DatabaseError`` that names no SQL and no value.

    The driver's own exception chain (SQLAlchemy over psycopg, with tracebacks) runs to
    several kilobytes, past what Temporal keeps of a pending activity's last failure, so
    the Web UI would show only "Failure exceeds size limit"; and its text (statements,
    values, constraint names) is no message for the podcast's owner. The whole chain still
    goes to the worker's log.
    """

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _ShortDatabaseFailures(next)


class _ShortDatabaseFailures(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        try:
            return await self.next.execute_activity(input)
        except (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError) as exc:
            reason = str(exc.orig or exc).strip().splitlines()[0]
            structlog.get_logger("podnex.activity").warning(
                "database unavailable", reason=reason, exc_info=True
            )
            raise ApplicationError(
                f"database unavailable: {reason}", type="DatabaseUnavailable"
            ) from None
        except sqlalchemy.exc.SQLAlchemyError as exc:
            structlog.get_logger("podnex.activity").error(
                "database error", error_type=type(exc).__name__, exc_info=True
            )
            raise ApplicationError(
                f"A database error stopped the step {activity.info().activity_type!r}",
                type="DatabaseError",
                # The same statement with the same values fails the same way again.
                non_retryable=isinstance(exc, _DETERMINISTIC_DATABASE_ERRORS),
            ) from None


def podcast_uuid(podcast_id: str) -> uuid.UUID:
    return uuid.UUID(podcast_id)


@asynccontextmanager
async def heartbeating(
    interval_seconds: float = 1.0, details: Callable[[], Sequence[Any]] | None = None
) -> AsyncIterator[None]:
    """Heartbeat in the background while a long step runs, so cancellation reaches it;
    each beat carries ``details()`` when given (a checkpoint a retry resumes from).

    The first beat comes after ``interval_seconds``, not at once: a step that ends sooner
    costs the server no heartbeat (a retry still gets the details its previous attempt
    recorded last), and a cancel reaches a longer one at the same beat as before."""

    async def beat() -> None:
        while True:
            await asyncio.sleep(interval_seconds)
            activity.heartbeat(*(details() if details else ()))

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
