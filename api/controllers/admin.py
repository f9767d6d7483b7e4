"""/api/v1/admin: HTTP for the administrators' use cases of `api.admin_service`.

Every route is guarded (`api.auth.admin_guard`: 403 for users who are not administrators)
and left out of the published OpenAPI document (`include_in_schema=False`): `/schema` is
public, so it cannot differ per caller; the README documents these routes instead.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any

from litestar import Controller, Request, get, patch
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from api.admin_service import AdminService
from api.auth import admin_guard
from api.schemas import (
    AdminPodcastOut,
    AdminStatsOut,
    AdminUpdateUserRequest,
    AdminUserOut,
    AdminUserUpdatedOut,
    AudioMinutesOut,
    AuditEventOut,
    Envelope,
    FailureReasonOut,
    NotCancelledOut,
    PageEnvelope,
    Pagination,
    QueueOut,
)
from api.state import state_of
from podnex import accounts
from podnex.models import Podcast, Subscription, User
from podnex.vocabulary import Plan, PodcastStatus

Service = NamedDependency[AdminService]
Page = Annotated[int, QueryParameter(ge=1)]
Limit = Annotated[int, QueryParameter(ge=1, le=100)]


def provide_admin_service(request: Request[User, Any, Any]) -> AdminService:
    return AdminService(state_of(request), request.user)


def pagination(page: int, limit: int, total: int) -> Pagination:
    return Pagination(page=page, limit=limit, total=total, total_pages=math.ceil(total / limit))


def user_out(user: User, subscription: Subscription) -> AdminUserOut:
    view = accounts.subscription_view(subscription, datetime.now(UTC))
    return AdminUserOut(
        id=str(user.id),
        email=user.email,
        name=user.name,
        role=user.role,
        disabled=user.disabled_at is not None,
        disabled_at=user.disabled_at,
        plan=view.plan,
        status=view.status,
        podcasts_used=view.podcasts_used,
        minutes_used=view.minutes_used,
        period_end=view.period_end,
        created_at=user.created_at,
    )


def podcast_out(service: AdminService, podcast: Podcast, email: str) -> AdminPodcastOut:
    return AdminPodcastOut(
        id=str(podcast.id),
        user_id=str(podcast.user_id),
        user_email=email,
        title=podcast.title,
        status=podcast.status,
        progress=podcast.progress,
        tts_provider=podcast.tts_provider,
        duration=podcast.duration.value,
        error=podcast.error,
        created_at=podcast.created_at,
        completed_at=podcast.completed_at,
        workflow_id=podcast.workflow_id,
        temporal_url=service.temporal_url(podcast),
    )


class AdminController(Controller):
    path = "/api/v1/admin"
    tags = ["admin"]
    guards = [admin_guard]
    include_in_schema = False
    dependencies = {"service": Provide(provide_admin_service, sync_to_thread=False)}

    @get("/stats", operation_id="adminStats")
    async def stats(
        self,
        service: Service,
        user_id: Annotated[str | None, QueryParameter(name="userId")] = None,
    ) -> Envelope[AdminStatsOut]:
        stats = await service.stats(user_id)
        podcasts = stats.podcasts
        return Envelope(
            data=AdminStatsOut(
                podcasts_today=podcasts.today,
                podcasts_this_period=podcasts.period,
                period_start=stats.period_start,
                top_failures=[
                    FailureReasonOut(reason=reason, count=count)
                    for reason, count in podcasts.top_failures
                ],
                audio_minutes=[
                    AudioMinutesOut(plan=Plan(plan), engine=engine, minutes=minutes)
                    for plan, engine, minutes in podcasts.minutes_by_plan_and_engine
                ],
                runs=stats.runs,
                reconciler_repairs=podcasts.repairs,
                queues=None
                if stats.queues is None
                else [
                    QueueOut(name=q.name, kind=q.kind, backlog=q.backlog, pollers=q.pollers)
                    for q in stats.queues
                ],
                temporal_error=stats.temporal_error,
            )
        )

    @get("/users", operation_id="adminListUsers")
    async def users(
        self,
        service: Service,
        email: Annotated[str | None, QueryParameter(max_length=320)] = None,
        plan: FromQuery[Plan | None] = None,
        page: Page = 1,
        limit: Limit = 20,
    ) -> PageEnvelope[AdminUserOut]:
        rows, total = await service.users(email=email, plan=plan, page=page, limit=limit)
        return PageEnvelope(
            data=[user_out(user, subscription) for user, subscription in rows],
            pagination=pagination(page, limit, total),
        )

    @patch("/users/{user_id:str}", operation_id="adminUpdateUser")
    async def update_user(
        self, service: Service, user_id: FromPath[str], data: JSONBody[AdminUpdateUserRequest]
    ) -> Envelope[AdminUserUpdatedOut]:
        change = await service.update_user(
            user_id, plan=data.plan, disabled=data.disabled, role=data.role
        )
        return Envelope(
            data=AdminUserUpdatedOut(
                user=user_out(change.user, change.subscription),
                cancelled_podcasts=change.cancelled,
                not_cancelled=[
                    NotCancelledOut(podcast_id=pid, reason=why) for pid, why in change.not_cancelled
                ],
            )
        )

    @get("/podcasts", operation_id="adminListPodcasts")
    async def podcasts(
        self,
        service: Service,
        status: FromQuery[PodcastStatus | None] = None,
        user_id: Annotated[str | None, QueryParameter(name="userId")] = None,
        email: Annotated[str | None, QueryParameter(max_length=320)] = None,
        provider: Annotated[str | None, QueryParameter(max_length=50)] = None,
        page: Page = 1,
        limit: Limit = 20,
    ) -> PageEnvelope[AdminPodcastOut]:
        rows, total = await service.podcasts(
            status=status, user_id=user_id, email=email, provider=provider, page=page, limit=limit
        )
        return PageEnvelope(
            data=[podcast_out(service, podcast, email) for podcast, email in rows],
            pagination=pagination(page, limit, total),
        )

    @get("/audit", operation_id="adminAuditLog")
    async def audit_log(
        self,
        service: Service,
        user_id: Annotated[str | None, QueryParameter(name="userId")] = None,
        action: Annotated[str | None, QueryParameter(max_length=60)] = None,
        page: Page = 1,
        limit: Limit = 50,
    ) -> PageEnvelope[AuditEventOut]:
        rows, total = await service.audit_log(
            target_user_id=user_id, action=action, page=page, limit=limit
        )
        return PageEnvelope(
            data=[
                AuditEventOut(
                    id=str(row.id),
                    actor=row.actor,
                    actor_user_id=str(row.actor_user_id) if row.actor_user_id else None,
                    action=row.action,
                    target_user_id=str(row.target_user_id) if row.target_user_id else None,
                    details=row.details,
                    event_id=row.event_id,
                    created_at=row.created_at,
                )
                for row in rows
            ],
            pagination=pagination(page, limit, total),
        )
