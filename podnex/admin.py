"""What administrators read across users: podcast statistics, users with their usage, and
podcasts of every user. Read-only: an administrator's changes are `podnex.accounts`
functions, audited there."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from podnex.models import AuditEvent, Podcast, Subscription, User
from podnex.reconcile import REPAIR_ACTION_PREFIX
from podnex.vocabulary import Plan, PodcastStatus

TOP_FAILURES = 5
REASON_CHARS = 200

ACTIVE = (PodcastStatus.QUEUED, PodcastStatus.PROCESSING)


@dataclass(frozen=True)
class PodcastStats:
    today: dict[str, int]
    period: dict[str, int]
    top_failures: list[tuple[str, int]]
    minutes_by_plan_and_engine: list[tuple[str, str, float]]
    repairs: dict[str, int]
    """The reconciler's repairs this month, by kind (from the audit log)."""


def day_start(now: datetime) -> datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def month_start(now: datetime) -> datetime:
    return day_start(now).replace(day=1)


async def _by_status(session: AsyncSession, since: datetime) -> dict[str, int]:
    rows = await session.execute(
        select(Podcast.status, func.count())
        .where(Podcast.created_at >= since, Podcast.deleted_at.is_(None))
        .group_by(Podcast.status)
    )
    counts = {status.value: 0 for status in PodcastStatus}
    for status, count in rows:
        counts[PodcastStatus(status).value] = count
    return counts


async def podcast_stats(session: AsyncSession, now: datetime) -> PodcastStats:
    """Podcasts by status created today and this calendar month (UTC), this month's most
    frequent failure reasons, and this month's audio minutes by the owner's plan and the
    speech engine."""
    period = month_start(now)
    reason = func.left(Podcast.error, REASON_CHARS)
    failures = await session.execute(
        select(reason, func.count())
        .where(Podcast.status == PodcastStatus.FAILED, Podcast.created_at >= period)
        .group_by(reason)
        .order_by(func.count().desc(), reason)
        .limit(TOP_FAILURES)
    )
    minutes = await session.execute(
        select(Subscription.plan, Podcast.tts_provider, func.sum(Podcast.audio_duration))
        .join(Subscription, Subscription.user_id == Podcast.user_id)
        .where(Podcast.status == PodcastStatus.COMPLETED, Podcast.completed_at >= period)
        .group_by(Subscription.plan, Podcast.tts_provider)
        .order_by(Subscription.plan, Podcast.tts_provider)
    )
    action = AuditEvent.action
    repairs = await session.execute(
        select(action, func.count())
        .where(action.startswith(REPAIR_ACTION_PREFIX), AuditEvent.created_at >= period)
        .group_by(action)
    )
    return PodcastStats(
        repairs={name.removeprefix(REPAIR_ACTION_PREFIX): count for name, count in repairs},
        today=await _by_status(session, day_start(now)),
        period=await _by_status(session, period),
        top_failures=[(text or "(no reason)", count) for text, count in failures],
        minutes_by_plan_and_engine=[
            (Plan(plan).value, engine, round((seconds or 0.0) / 60.0, 2))
            for plan, engine, seconds in minutes
        ],
    )


async def list_users(
    session: AsyncSession,
    *,
    email: str | None,
    plan: Plan | None,
    offset: int,
    limit: int,
) -> tuple[list[tuple[User, Subscription]], int]:
    """Users (newest first) whose e-mail contains `email` and whose plan is `plan`."""
    conditions: list[ColumnElement[bool]] = []
    if email:
        escaped = email.strip().lower()
        for special in ("\\", "%", "_"):
            escaped = escaped.replace(special, "\\" + special)
        conditions.append(User.email.like(f"%{escaped}%", escape="\\"))
    if plan is not None:
        conditions.append(Subscription.plan == plan)
    joined = select(User, Subscription).join(Subscription, Subscription.user_id == User.id)
    total = await session.scalar(
        select(func.count())
        .select_from(User)
        .join(Subscription, Subscription.user_id == User.id)
        .where(*conditions)
    )
    rows = await session.execute(
        joined.where(*conditions)
        .order_by(User.created_at.desc(), User.id)
        .offset(offset)
        .limit(limit)
    )
    return [(user, subscription) for user, subscription in rows], total or 0


async def list_podcasts(
    session: AsyncSession,
    *,
    status: PodcastStatus | None,
    user_id: uuid.UUID | None,
    email: str | None,
    provider: str | None,
    offset: int,
    limit: int,
) -> tuple[list[tuple[Podcast, str]], int]:
    """Podcasts of every user (newest first, deleted ones left out) with their owner's
    e-mail, filtered by status, owner (id or exact e-mail) and speech engine."""
    conditions: list[ColumnElement[bool]] = [Podcast.deleted_at.is_(None)]
    if status is not None:
        conditions.append(Podcast.status == status)
    if user_id is not None:
        conditions.append(Podcast.user_id == user_id)
    if email:
        conditions.append(User.email == email.strip().lower())
    if provider:
        conditions.append(Podcast.tts_provider == provider)
    total = await session.scalar(
        select(func.count())
        .select_from(Podcast)
        .join(User, User.id == Podcast.user_id)
        .where(*conditions)
    )
    rows = await session.execute(
        select(Podcast, User.email)
        .join(User, User.id == Podcast.user_id)
        .where(*conditions)
        .order_by(Podcast.created_at.desc(), Podcast.id)
        .offset(offset)
        .limit(limit)
    )
    return [(podcast, owner) for podcast, owner in rows], total or 0


async def active_podcast_ids(session: AsyncSession, user_id: uuid.UUID) -> list[str]:
    """The user's podcasts still queued or being made."""
    rows = await session.scalars(
        select(Podcast.id).where(
            Podcast.user_id == user_id,
            Podcast.status.in_(ACTIVE),
            Podcast.deleted_at.is_(None),
        )
    )
    return [str(podcast_id) for podcast_id in rows]
