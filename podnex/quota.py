"""Plan limits, enforced exactly: reservations under row locks, usage charged once.

Admission reserves one podcast and the expected minutes of its duration (`EXPECTED_SECONDS`),
so podcasts made at the same time cannot together pass the minutes limit; completion
settles the reservation to the actual seconds, and a failed or cancelled run gives both
back.
"""

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
from podnex.vocabulary import PodcastDuration

USAGE_KIND_SECONDS = "generation_seconds"

EXPECTED_SECONDS = {PodcastDuration.SHORT: 5 * 60.0, PodcastDuration.LONG: 15 * 60.0}
"""What a podcast of each duration is expected to last (the README's promise), reserved
against the minutes limit at admission."""


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
    subscription.current_seconds_reserved = 0.0
    if subscription.pending_plan is not None:
        # A downgrade or cancellation waited for the period's end (`podnex.billing`).
        subscription.plan = subscription.pending_plan
        subscription.pending_plan = None


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

    expected = EXPECTED_SECONDS[podcast.duration]
    reason = None
    if limits.podcasts is not None and subscription.current_podcast_count >= limits.podcasts:
        reason = f"Monthly podcast limit reached ({limits.podcasts})"
    elif limits.minutes is not None:
        allowed = limits.minutes * 60
        committed = subscription.current_seconds_used + subscription.current_seconds_reserved
        if subscription.current_seconds_used >= allowed:
            reason = f"Monthly minutes limit reached ({limits.minutes})"
        elif committed + expected > allowed:
            left = max(allowed - committed, 0.0)
            reason = (
                f"Not enough minutes left this month for a {podcast.duration.value} podcast "
                f"(about {minutes(expected):g} needed, {minutes(left):g} of "
                f"{limits.minutes} left)"
            )
    if reason is not None:
        return Reservation(False, reason, _usage(subscription), limits)

    subscription.current_podcast_count += 1
    subscription.current_seconds_reserved += expected
    podcast.quota_reserved = True
    podcast.quota_reserved_seconds = expected
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
    _give_back_minutes(podcast, subscription)
    podcast.quota_reserved = False
    podcast.quota_period_start = None
    await session.flush()
    return True


def _give_back_minutes(podcast: Podcast, subscription: Subscription) -> None:
    """The podcast's expected seconds no longer count as reserved (same-period rule)."""
    held = podcast.quota_reserved_seconds or 0.0
    if held and podcast.quota_period_start == subscription.current_period_start:
        subscription.current_seconds_reserved = max(
            subscription.current_seconds_reserved - held, 0.0
        )
    podcast.quota_reserved_seconds = None


async def charge_usage(session: AsyncSession, podcast_id: uuid.UUID, seconds: float) -> bool:
    """Charge a completed podcast's actual seconds once, settling its reserved minutes.
    True if this call charged it."""
    podcast = await _lock_podcast(session, podcast_id)
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
    _give_back_minutes(podcast, subscription)
    await session.flush()
    return True


async def refund_usage(session: AsyncSession, podcast_id: uuid.UUID) -> float:
    """Take back what was charged for a podcast that did not complete (the reconciler);
    the seconds refunded (0 when nothing was charged)."""
    podcast = await _lock_podcast(session, podcast_id)
    subscription = await _lock_subscription(session, podcast.user_id)
    record = await session.scalar(
        select(UsageRecord).where(
            UsageRecord.podcast_id == podcast_id, UsageRecord.kind == USAGE_KIND_SECONDS
        )
    )
    if record is None:
        return 0.0
    if record.created_at >= subscription.current_period_start:
        subscription.current_seconds_used = max(
            subscription.current_seconds_used - record.amount, 0.0
        )
    await session.delete(record)
    await session.flush()
    return record.amount
