"""The administrators' use cases: platform statistics, users (find, change plan or role,
disable), podcasts of every user, and the audit log.

One `AdminService` per request, for the authenticated administrator (the routes' guard
checks the role). Reads come from `podnex.admin`, changes go through `podnex.accounts`
(audited there with who made them), Temporal through `api.temporal_client`, and a disabled
user's podcasts are cancelled through `PodcastService.cancel`, the path users cancel by.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog

from api.errors import ApiError
from api.podcast_service import PodcastService
from api.state import AppState
from api.temporal_client import QueueState, WorkflowServiceUnavailable
from podnex import accounts, admin, audit
from podnex.admin import PodcastStats
from podnex.models import AuditEvent, Podcast, Subscription, User
from podnex.vocabulary import Plan, PodcastStatus, Role
from workflows.types import speech_task_queue

log = structlog.get_logger("podnex.api")


@dataclass(frozen=True)
class Stats:
    podcasts: PodcastStats
    period_start: datetime
    runs: dict[str, int] | None
    queues: list[QueueState] | None
    temporal_error: str | None


@dataclass(frozen=True)
class UserChange:
    user: User
    subscription: Subscription
    cancelled: list[str]
    not_cancelled: list[tuple[str, str]]


def parse_id(value: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise ApiError(404, f"{what} not found") from None


class AdminService:
    """What one administrator may see and do across users."""

    def __init__(self, state: AppState, admin_user: User) -> None:
        self.state = state
        self.admin = admin_user

    # -- statistics -------------------------------------------------------------------------

    def task_queues(self) -> list[str]:
        """The main task queue and each enabled speech engine's own."""
        settings = self.state.settings
        main = settings.temporal_task_queue
        return [main, *(speech_task_queue(main, name) for name in settings.tts_providers)]

    async def stats(self, user_id: str | None = None) -> Stats:
        """Podcast counts from Postgres; runs and queues from Temporal (None, with the
        reason, when Temporal does not answer: the rest is still shown)."""
        now = datetime.now(UTC)
        async with self.state.db.transaction() as session:
            podcasts = await admin.podcast_stats(session, now)
        runs: dict[str, int] | None = None
        queues: list[QueueState] | None = None
        error = None
        try:
            runs = await self.state.runs.count_podcast_runs(user_id)
            queues = await self.state.runs.describe_queues(self.task_queues())
        except WorkflowServiceUnavailable as exc:
            error = str(exc) or "Temporal is unavailable"
        return Stats(podcasts, admin.month_start(now), runs, queues, error)

    # -- users ------------------------------------------------------------------------------

    async def users(
        self, *, email: str | None, plan: Plan | None, page: int, limit: int
    ) -> tuple[list[tuple[User, Subscription]], int]:
        async with self.state.db.transaction() as session:
            return await admin.list_users(
                session, email=email, plan=plan, offset=(page - 1) * limit, limit=limit
            )

    async def update_user(
        self,
        user_id: str,
        *,
        plan: Plan | None,
        disabled: bool | None,
        role: Role | None,
    ) -> UserChange:
        """Change a user's plan, role or disabled state (audited). Disabling refuses the
        user's keys from the next request on and cancels their podcasts in progress."""
        target_id = parse_id(user_id, "User")
        if target_id == self.admin.id and (disabled or role is Role.USER):
            raise ApiError(
                409, "Administrators cannot disable or demote themselves", code="CONFLICT"
            )
        async with self.state.db.transaction() as session:
            user = await accounts.admin_update_user(
                session, target_id, admin=self.admin, plan=plan, disabled=disabled, role=role
            )
            if user is None:
                raise ApiError(404, "User not found")
            subscription = await accounts.get_subscription(session, target_id)
            running = await admin.active_podcast_ids(session, target_id) if disabled else []
        assert subscription is not None
        cancelled, refused = await self._cancel_all(user, running)
        log.info(
            "admin changed user",
            target_user_id=str(target_id),
            plan=plan,
            disabled=disabled,
            role=role,
            cancelled=len(cancelled),
        )
        return UserChange(user, subscription, cancelled, refused)

    async def _cancel_all(
        self, user: User, podcast_ids: list[str]
    ) -> tuple[list[str], list[tuple[str, str]]]:
        service = PodcastService(self.state, user)

        async def cancel(podcast_id: str) -> str | None:
            try:
                await service.cancel(podcast_id)
            except ApiError as exc:
                return str(exc.detail)
            return None

        results = await asyncio.gather(*(cancel(podcast_id) for podcast_id in podcast_ids))
        cancelled = [pid for pid, why in zip(podcast_ids, results, strict=True) if why is None]
        refused = [
            (pid, why) for pid, why in zip(podcast_ids, results, strict=True) if why is not None
        ]
        return cancelled, refused

    # -- podcasts ---------------------------------------------------------------------------

    async def podcasts(
        self,
        *,
        status: PodcastStatus | None,
        user_id: str | None,
        email: str | None,
        provider: str | None,
        page: int,
        limit: int,
    ) -> tuple[list[tuple[Podcast, str]], int]:
        owner = parse_id(user_id, "User") if user_id else None
        async with self.state.db.transaction() as session:
            return await admin.list_podcasts(
                session,
                status=status,
                user_id=owner,
                email=email,
                provider=provider,
                offset=(page - 1) * limit,
                limit=limit,
            )

    def temporal_url(self, podcast: Podcast) -> str | None:
        """The podcast's run in the Temporal Web UI, when TEMPORAL_UI_URL is set."""
        base = self.state.settings.temporal_ui_url
        if not base or not podcast.workflow_id:
            return None
        namespace = self.state.settings.temporal_namespace
        url = f"{base.rstrip('/')}/namespaces/{namespace}/workflows/{podcast.workflow_id}"
        if podcast.workflow_run_id:
            url += f"/{podcast.workflow_run_id}/history"
        return url

    # -- audit ------------------------------------------------------------------------------

    async def audit_log(
        self,
        *,
        target_user_id: str | None,
        action: str | None,
        page: int,
        limit: int,
    ) -> tuple[list[AuditEvent], int]:
        target = parse_id(target_user_id, "User") if target_user_id else None
        async with self.state.db.transaction() as session:
            return await audit.list_events(
                session,
                offset=(page - 1) * limit,
                limit=limit,
                target_user_id=target,
                action=action,
            )
