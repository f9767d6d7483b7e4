"""/api/v1/user: the caller's profile, subscription and usage this period."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from litestar import Controller, Request, get, patch
from litestar.params import JSONBody

from api.errors import ApiError
from api.openapi import error_responses
from api.schemas import (
    CurrentPeriodUsage,
    Envelope,
    ProfileOut,
    SubscriptionOut,
    UpdatedProfileOut,
    UpdateProfileRequest,
    UsageOut,
    UsageSubscription,
)
from api.state import state_of
from podnex import accounts
from podnex.accounts import SubscriptionView
from podnex.models import User


class UserController(Controller):
    path = "/api/v1/user"
    tags = ["user"]
    security = [{"BearerAuth": []}]

    @get(
        "/profile",
        operation_id="getProfile",
        summary="Your profile",
        responses=error_responses(401, 429),
    )
    async def get_profile(self, request: Request[User, Any, Any]) -> Envelope[ProfileOut]:
        user = request.user
        return Envelope(
            data=ProfileOut(
                id=str(user.id),
                name=user.name,
                email=user.email,
                image=user.image,
                created_at=user.created_at,
            )
        )

    @patch(
        "/profile",
        operation_id="updateProfile",
        summary="Change your name or image",
        description="Fields left out stay as they are; null clears a field.",
        responses=error_responses(400, 401, 404, 413, 415, 429),
    )
    async def update_profile(
        self, request: Request[User, Any, Any], data: JSONBody[UpdateProfileRequest]
    ) -> Envelope[UpdatedProfileOut]:
        changes = {field: getattr(data, field) for field in data.model_fields_set}
        async with state_of(request).db.transaction() as session:
            user = await accounts.update_profile(session, request.user.id, changes)
        if user is None:
            raise ApiError(404, "User not found")
        return Envelope(
            data=UpdatedProfileOut(
                id=str(user.id), name=user.name, email=user.email, image=user.image
            )
        )

    @get(
        "/subscription",
        operation_id="getSubscription",
        summary="Your plan, its limits and this period's usage",
        description="With a paid plan: its status, the period's end, whether it renews, and "
        "the plan from the period's end after a downgrade or cancellation.",
        responses=error_responses(401, 404, 429),
    )
    async def subscription(self, request: Request[User, Any, Any]) -> Envelope[SubscriptionOut]:
        view = await self._view(request)
        return Envelope(
            data=SubscriptionOut(
                id=str(view.id),
                user_id=str(view.user_id),
                plan=view.plan,
                status=view.status,
                current_podcast_count=view.podcasts_used,
                current_minutes_used=view.minutes_used,
                monthly_podcast_limit=view.limits.podcasts,
                monthly_minutes_limit=view.limits.minutes,
                current_period_start=view.period_start,
                current_period_end=view.period_end,
                usage_reset_date=view.period_end,
                renews=view.renews,
                scheduled_plan=view.scheduled_plan,
                created_at=view.created_at,
                updated_at=view.updated_at,
            )
        )

    @get(
        "/usage",
        operation_id="getUsage",
        summary="This period's usage against your limits",
        responses=error_responses(401, 404, 429),
    )
    async def usage(self, request: Request[User, Any, Any]) -> Envelope[UsageOut]:
        view = await self._view(request)
        return Envelope(
            data=UsageOut(
                current_period=CurrentPeriodUsage(
                    podcasts_used=view.podcasts_used,
                    podcasts_limit=view.limits.podcasts,
                    minutes_used=view.minutes_used,
                    minutes_limit=view.limits.minutes,
                    reset_date=view.period_end,
                ),
                subscription=UsageSubscription(
                    plan=view.plan,
                    status=view.status,
                    current_period_start=view.period_start,
                    current_period_end=view.period_end,
                ),
            )
        )

    async def _view(self, request: Request[User, Any, Any]) -> SubscriptionView:
        async with state_of(request).db.transaction() as session:
            subscription = await accounts.get_subscription(session, request.user.id)
        if subscription is None:
            raise ApiError(404, "Subscription not found")
        return accounts.subscription_view(subscription, datetime.now(UTC))
