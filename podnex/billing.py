"""Paid plans: the payment provider's subscription events applied to a user's plan.

Every write of a payment webhook is a function here (the API's `api.billing_service` only
verifies the signature and calls `apply_event`). The rules:

- each event is applied at most once, by its `webhook-id` (`billing_events`);
- events are ordered by their own timestamp: one older than the newest applied to the
  subscription is recorded as `stale` and changes nothing;
- an upgrade takes effect at once; a downgrade or a cancellation at the end of the period
  (`pending_plan`, applied when the period rolls over: `apply_pending_plan`);
- a failed renewal (`on_hold`) keeps the plan until the provider gives up (`expired`,
  or `failed` for the subscription in use);
- once a paid subscription exists, the usage period follows its billing period;
- every change is recorded in `audit_events` with the event that caused it.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from podnex.audit import record_change
from podnex.models import BillingEvent, Subscription
from podnex.vocabulary import Plan, SubscriptionStatus

PROVIDER = "dodo"
"""The actor of changes made by payment webhooks in the audit log."""

PLAN_RANK = {Plan.FREE: 0, Plan.STARTER: 1, Plan.PRO: 2, Plan.BUSINESS: 3}

SUBSCRIPTION_EVENTS = frozenset(
    {
        "subscription.active",
        "subscription.renewed",
        "subscription.plan_changed",
        "subscription.updated",
        "subscription.on_hold",
        "subscription.failed",
        "subscription.cancelled",
        "subscription.expired",
    }
)
"""The events that change a plan; any other event is recorded as `ignored`."""

USER_METADATA_KEY = "podnex_user_id"
"""The metadata key (customer and checkout) naming the podnex user."""


class Outcome(enum.StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    STALE = "stale"
    IGNORED = "ignored"
    UNMATCHED = "unmatched"


class InvalidEvent(ValueError):
    """The payload is not a provider event podnex can read."""


class _Customer(BaseModel):
    model_config = ConfigDict(extra="ignore")
    customer_id: str | None = None


class _Data(BaseModel):
    model_config = ConfigDict(extra="ignore")
    subscription_id: str | None = None
    product_id: str | None = None
    status: str | None = None
    customer: _Customer | None = None
    metadata: dict[str, Any] | None = None
    previous_billing_date: datetime | None = None
    next_billing_date: datetime | None = None
    cancel_at_next_billing_date: bool = False


class _Event(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: str
    timestamp: datetime
    data: _Data


@dataclass(frozen=True)
class ProviderEvent:
    """One webhook of the provider, as far as a plan is concerned."""

    webhook_id: str
    type: str
    at: datetime
    subscription_id: str | None
    customer_id: str | None
    product_id: str | None
    user_id: uuid.UUID | None
    period_start: datetime | None
    period_end: datetime | None
    cancel_at_period_end: bool
    payload: dict[str, Any]


def parse_event(webhook_id: str, payload: dict[str, Any]) -> ProviderEvent:
    """The event in a verified webhook body; InvalidEvent when it has no type or timestamp."""
    try:
        event = _Event.model_validate(payload)
    except ValidationError as exc:
        raise InvalidEvent(str(exc)) from exc
    data = event.data
    user_id = None
    raw_user = (data.metadata or {}).get(USER_METADATA_KEY)
    if isinstance(raw_user, str):
        try:
            user_id = uuid.UUID(raw_user)
        except ValueError:
            user_id = None
    return ProviderEvent(
        webhook_id=webhook_id,
        type=event.type,
        at=event.timestamp,
        subscription_id=data.subscription_id,
        customer_id=data.customer.customer_id if data.customer else None,
        product_id=data.product_id,
        user_id=user_id,
        period_start=data.previous_billing_date,
        period_end=data.next_billing_date,
        cancel_at_period_end=data.cancel_at_next_billing_date,
        payload=payload,
    )


def renews(subscription: Subscription) -> bool:
    """Whether a paid subscription renews at the end of its period (False on FREE)."""
    return (
        subscription.provider_subscription_id is not None
        and subscription.plan is not Plan.FREE
        and subscription.status is SubscriptionStatus.ACTIVE
        and not subscription.cancel_at_period_end
        and subscription.pending_plan is None
    )


def apply_pending_plan(subscription: Subscription) -> None:
    """A new period began: a downgrade or cancellation waiting for it takes effect."""
    if subscription.pending_plan is not None:
        subscription.plan = subscription.pending_plan
        subscription.pending_plan = None


def _snapshot(subscription: Subscription) -> dict[str, Any]:
    return {
        "plan": subscription.plan.value,
        "status": subscription.status.value,
        "pendingPlan": subscription.pending_plan.value if subscription.pending_plan else None,
        "cancelAtPeriodEnd": subscription.cancel_at_period_end,
        "periodEnd": subscription.current_period_end.isoformat(),
        "providerSubscriptionId": subscription.provider_subscription_id,
    }


async def _find_subscription(session: AsyncSession, event: ProviderEvent) -> Subscription | None:
    conditions = []
    if event.user_id is not None:
        conditions.append(Subscription.user_id == event.user_id)
    if event.subscription_id:
        conditions.append(Subscription.provider_subscription_id == event.subscription_id)
    if event.customer_id:
        conditions.append(Subscription.provider_customer_id == event.customer_id)
    for condition in conditions:
        found = await session.scalar(select(Subscription).where(condition).with_for_update())
        if found is not None:
            return found
    return None


def _follow_period(subscription: Subscription, event: ProviderEvent, *, adopted: bool) -> bool:
    """The usage period becomes the subscription's billing period; True when a new period
    began (counters start again at zero and a pending plan takes effect): a subscription
    new to this user, or a billing period starting after the current one."""
    start, end = event.period_start, event.period_end
    if start is None or end is None or end <= start:
        return False
    if adopted or start > subscription.current_period_start:
        subscription.current_period_start = start
        subscription.current_period_end = end
        subscription.current_podcast_count = 0
        subscription.current_seconds_used = 0.0
        subscription.current_seconds_reserved = 0.0
        apply_pending_plan(subscription)
        return True
    if start == subscription.current_period_start:
        subscription.current_period_end = end
    return False


def _apply(subscription: Subscription, event: ProviderEvent, plan: Plan | None) -> Outcome:
    kind = event.type.removeprefix("subscription.")
    tracked = subscription.provider_subscription_id
    same = tracked is not None and tracked == event.subscription_id
    if kind in {"active", "renewed", "plan_changed", "updated"}:
        if kind == "updated" and event.payload.get("data", {}).get("status") != "active":
            return Outcome.IGNORED
        if plan is None:
            return Outcome.IGNORED  # a product that is not one of the paid plans
        if tracked is not None and not same and kind != "active":
            return Outcome.IGNORED  # an event of a subscription replaced since
        adopted = not same
        subscription.provider_subscription_id = event.subscription_id
        if event.customer_id and subscription.provider_customer_id is None:
            subscription.provider_customer_id = event.customer_id
        new_period = _follow_period(subscription, event, adopted=adopted)
        if new_period or PLAN_RANK[plan] >= PLAN_RANK[subscription.plan]:
            subscription.plan = plan  # an upgrade (or a new period): at once
            subscription.pending_plan = None
        else:
            subscription.pending_plan = plan  # a downgrade: at the end of the period
        subscription.status = SubscriptionStatus.ACTIVE
        subscription.cancel_at_period_end = event.cancel_at_period_end
        return Outcome.APPLIED
    if not same:
        return Outcome.IGNORED  # about a subscription this user no longer (or never) uses
    if kind == "on_hold":
        subscription.status = SubscriptionStatus.PAST_DUE  # the plan stays for now
    elif kind == "cancelled":
        subscription.status = SubscriptionStatus.CANCELLED
        subscription.cancel_at_period_end = True
        subscription.pending_plan = Plan.FREE  # paid for until the period ends
    elif kind in {"expired", "failed"}:
        subscription.plan = Plan.FREE  # the provider gave up: the paid plan ends now
        subscription.pending_plan = None
        subscription.status = SubscriptionStatus.CANCELLED
        subscription.cancel_at_period_end = False
    return Outcome.APPLIED


async def apply_event(
    session: AsyncSession, event: ProviderEvent, products: Mapping[str, Plan]
) -> Outcome:
    """Apply one verified provider event once; `products` maps product ids to plans."""
    recorded = await session.scalar(
        insert(BillingEvent)
        .values(
            id=event.webhook_id,
            event_type=event.type[:60],
            event_at=event.at,
            provider_subscription_id=event.subscription_id,
            outcome=Outcome.IGNORED.value,
            payload=event.payload,
        )
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(BillingEvent.id)
    )
    if recorded is None:
        return Outcome.DUPLICATE
    row = await session.get(BillingEvent, event.webhook_id)
    assert row is not None
    outcome = Outcome.IGNORED
    if event.type in SUBSCRIPTION_EVENTS:
        subscription = await _find_subscription(session, event)
        if subscription is None:
            outcome = Outcome.UNMATCHED
        else:
            row.user_id = subscription.user_id
            if (
                subscription.billing_event_at is not None
                and event.at < subscription.billing_event_at
            ):
                outcome = Outcome.STALE
            else:
                before = _snapshot(subscription)
                plan = products.get(event.product_id or "")
                outcome = _apply(subscription, event, plan)
                if outcome is Outcome.APPLIED:
                    subscription.billing_event_at = event.at
                    record_change(
                        session,
                        actor=PROVIDER,
                        action=event.type,
                        target_user_id=subscription.user_id,
                        before=before,
                        after=_snapshot(subscription),
                        event_id=event.webhook_id,
                    )
    row.outcome = outcome.value
    await session.flush()
    return outcome


async def remember_customer(
    session: AsyncSession, user_id: uuid.UUID, customer_id: str
) -> str | None:
    """Keep the provider's customer id of the user (created at the first checkout); the id
    kept, which is an earlier one if a concurrent checkout recorded one first."""
    subscription = await session.scalar(
        select(Subscription).where(Subscription.user_id == user_id).with_for_update()
    )
    if subscription is None:
        return None
    if subscription.provider_customer_id is None:
        subscription.provider_customer_id = customer_id
        await session.flush()
    return subscription.provider_customer_id
