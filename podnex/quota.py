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


def expected_rerender_seconds(podcast: Podcast, words: int) -> float:
    """How long an edited script of ``words`` words is expected to last: the episode's
    duration scaled by its words against the stored script's (the plan's expectation for
    its duration when there is nothing to scale)."""
    old_words = sum(len(str(line.get("text", "")).split()) for line in podcast.script or [])
    if not podcast.audio_duration or old_words == 0:
        return EXPECTED_SECONDS[podcast.duration]
    return podcast.audio_duration * words / old_words


async def check_rerender(
    session: AsyncSession, podcast_id: uuid.UUID, words: int, now: datetime
) -> Reservation:
    """Whether the plan has the minutes a re-render of ``words`` words is expected to add.

    A re-render counts no new podcast and reserves nothing: its minutes are settled once,
    when it publishes (`settle_rerender_usage`). Refused when the month's minutes are used
    up, or when the episode is expected to grow past what is left.
    """
    podcast = await _lock_podcast(session, podcast_id)
    subscription = await _lock_subscription(session, podcast.user_id)
    _roll_over(subscription, now)
    limits = limits_for(subscription.plan)
    reason = None
    if limits.minutes is not None:
        allowed = limits.minutes * 60
        charged = await _charged_this_period(session, podcast_id, subscription)
        growth = expected_rerender_seconds(podcast, words) - charged
        committed = subscription.current_seconds_used + subscription.current_seconds_reserved
        if subscription.current_seconds_used >= allowed:
            reason = f"Monthly minutes limit reached ({limits.minutes})"
        elif growth > 0 and committed + growth > allowed:
            left = max(allowed - committed, 0.0)
            reason = (
                f"Not enough minutes left this month for this re-render (about "
                f"{minutes(growth):g} more needed, {minutes(left):g} of {limits.minutes} left)"
            )
    await session.flush()
    return Reservation(reason is None, reason, _usage(subscription), limits)


async def _charged_this_period(
    session: AsyncSession, podcast_id: uuid.UUID, subscription: Subscription
) -> float:
    record = await _usage_record(session, podcast_id)
    if record is None or record.created_at < subscription.current_period_start:
        return 0.0
    return record.amount


async def _usage_record(session: AsyncSession, podcast_id: uuid.UUID) -> UsageRecord | None:
    return await session.scalar(
        select(UsageRecord).where(
            UsageRecord.podcast_id == podcast_id, UsageRecord.kind == USAGE_KIND_SECONDS
        )
    )


async def settle_rerender_usage(
    session: AsyncSession, podcast_id: uuid.UUID, seconds: float
) -> float:
    """A published re-render's minutes: the podcast's usage becomes the new episode's
    ``seconds`` (its one usage record changed, no new podcast counted); the change in
    seconds used, 0 when already settled (safe to run twice).

    When the episode was charged in an earlier period, only growth is charged to this one
    (a shorter episode gives no minutes of this month back for last month's).
    """
    podcast = await _lock_podcast(session, podcast_id)
    subscription = await _lock_subscription(session, podcast.user_id)
    record = await _usage_record(session, podcast_id)
    if record is None:
        await charge_usage(session, podcast_id, seconds)
        return seconds
    delta = seconds - record.amount
    if delta == 0:
        return 0.0
    if record.created_at < subscription.current_period_start:
        delta = max(delta, 0.0)
    subscription.current_seconds_used = max(subscription.current_seconds_used + delta, 0.0)
    record.amount = seconds
    await session.flush()
    return delta
