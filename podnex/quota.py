"""Plan limits, enforced exactly: reservations under row locks, usage charged once."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from podnex.models import Podcast, Subscription, UsageRecord
from podnex.periods import current_period
from podnex.plans import PlanLimits, limits_for

USAGE_KIND_SECONDS = "generation_seconds"


class QuotaError(Exception):
    """The podcast or its owner's subscription does not exist."""


@dataclass(frozen=True)
class Usage:
    podcasts: int
    minutes: float


@dataclass(frozen=True)
class Reservation:
    admitted: bool
    reason: str | None
    current: Usage
    limits: PlanLimits


def minutes(seconds: float) -> float:
    """Seconds shown as minutes with two decimals."""
    return round(seconds / 60.0, 2)


def _roll_over(subscription: Subscription, now: datetime) -> None:
    if now < subscription.current_period_end:
        return
    start, end = current_period(
        subscription.current_period_start, subscription.current_period_end, now
    )
    subscription.current_period_start = start
    subscription.current_period_end = end
    subscription.current_podcast_count = 0
    subscription.current_seconds_used = 0.0


async def _lock_podcast(session: AsyncSession, podcast_id: uuid.UUID) -> Podcast:
    podcast = await session.scalar(
        select(Podcast).where(Podcast.id == podcast_id).with_for_update()
    )
    if podcast is None:
        raise QuotaError(f"podcast {podcast_id} does not exist")
    return podcast


async def _lock_subscription(session: AsyncSession, user_id: uuid.UUID) -> Subscription:
    subscription = await session.scalar(
        select(Subscription).where(Subscription.user_id == user_id).with_for_update()
    )
    if subscription is None:
        raise QuotaError(f"user {user_id} has no subscription")
    return subscription


def _usage(subscription: Subscription) -> Usage:
    return Usage(
        podcasts=subscription.current_podcast_count,
        minutes=minutes(subscription.current_seconds_used),
    )


async def reserve_podcast(
    session: AsyncSession, podcast_id: uuid.UUID, now: datetime
) -> Reservation:
    """Reserve one podcast of the owner's monthly allowance, or refuse with the reason.

    Idempotent: a podcast that already holds a reservation is admitted again without a
    second reservation. The subscription row lock makes concurrent requests exact.
    """
    podcast = await _lock_podcast(session, podcast_id)
    subscription = await _lock_subscription(session, podcast.user_id)
    _roll_over(subscription, now)
    limits = limits_for(subscription.plan)
    if podcast.quota_reserved:
        return Reservation(True, None, _usage(subscription), limits)

    reason = None
    if limits.podcasts is not None and subscription.current_podcast_count >= limits.podcasts:
        reason = f"Monthly podcast limit reached ({limits.podcasts})"
    elif limits.minutes is not None and subscription.current_seconds_used >= limits.minutes * 60:
        reason = f"Monthly minutes limit reached ({limits.minutes})"
    if reason is not None:
        return Reservation(False, reason, _usage(subscription), limits)

    subscription.current_podcast_count += 1
    podcast.quota_reserved = True
    podcast.quota_period_start = subscription.current_period_start
    await session.flush()
    return Reservation(True, None, _usage(subscription), limits)


async def release_podcast(session: AsyncSession, podcast_id: uuid.UUID) -> bool:
    """Give a failed or cancelled podcast's reservation back. True if one was released."""
    podcast = await _lock_podcast(session, podcast_id)
    if not podcast.quota_reserved:
        return False
    subscription = await _lock_subscription(session, podcast.user_id)
    if podcast.quota_period_start == subscription.current_period_start:
        # Only the period that holds the reservation gives it back: after a roll-over the
        # count belongs to a new period the podcast never used.
        subscription.current_podcast_count = max(subscription.current_podcast_count - 1, 0)
    podcast.quota_reserved = False
    podcast.quota_period_start = None
    await session.flush()
    return True


async def charge_usage(session: AsyncSession, podcast_id: uuid.UUID, seconds: float) -> bool:
    """Charge a completed podcast's actual seconds once. True if this call charged it."""
    podcast = await session.get(Podcast, podcast_id)
    if podcast is None:
        raise QuotaError(f"podcast {podcast_id} does not exist")
    subscription = await _lock_subscription(session, podcast.user_id)
    inserted = await session.scalar(
        insert(UsageRecord)
        .values(
            id=uuid.uuid4(),
            subscription_id=subscription.id,
            podcast_id=podcast_id,
            kind=USAGE_KIND_SECONDS,
            amount=seconds,
        )
        .on_conflict_do_nothing(constraint="uq_usage_records_podcast_kind")
        .returning(UsageRecord.id)
    )
    if inserted is None:
        return False
    subscription.current_seconds_used += seconds
    await session.flush()
    return True
