"""Podcast records: creation and owner-scoped reads."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from podnex.models import Podcast, PodcastDuration, PodcastStatus
from podnex.temporal import workflow_id_for


@dataclass(frozen=True)
class NewPodcast:
    note_content: str
    duration: PodcastDuration
    title: str | None
    note_id: str | None
    host_voice: str
    guest_voice: str
    tts_provider: str
    language: str | None = None
    instructions: str | None = None
    idempotency_key: str | None = None
    request_fingerprint: str | None = None


def parse_id(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


async def create_podcast(session: AsyncSession, user_id: uuid.UUID, new: NewPodcast) -> Podcast:
    podcast_id = uuid.uuid4()
    podcast = Podcast(
        id=podcast_id,
        user_id=user_id,
        note_content=new.note_content,
        duration=new.duration,
        title=new.title,
        note_id=new.note_id,
        host_voice=new.host_voice,
        guest_voice=new.guest_voice,
        tts_provider=new.tts_provider,
        language=new.language,
        instructions=new.instructions,
        idempotency_key=new.idempotency_key,
        request_fingerprint=new.request_fingerprint,
        status=PodcastStatus.QUEUED,
        progress=0,
        current_step="Queued",
        retry_count=0,
        quota_reserved=False,
        workflow_id=workflow_id_for(str(podcast_id)),
    )
    session.add(podcast)
    await session.flush()
    await session.refresh(podcast)
    return podcast


async def get_for_user(
    session: AsyncSession, user_id: uuid.UUID, podcast_id: str, *, for_update: bool = False
) -> Podcast | None:
    """The user's podcast, or None when it is missing, deleted or someone else's."""
    parsed = parse_id(podcast_id)
    if parsed is None:
        return None
    query = select(Podcast).where(
        Podcast.id == parsed, Podcast.user_id == user_id, Podcast.deleted_at.is_(None)
    )
    if for_update:
        query = query.with_for_update()
    return await session.scalar(query)


async def find_by_idempotency_key(
    session: AsyncSession, user_id: uuid.UUID, key: str
) -> Podcast | None:
    """The podcast this user created with this Idempotency-Key, deleted or not."""
    return await session.scalar(
        select(Podcast).where(Podcast.user_id == user_id, Podcast.idempotency_key == key)
    )


def reset_for_retry(podcast: Podcast) -> None:
    """Back to QUEUED for a new run, results of the previous run cleared.

    `retry_count` is left to the caller, to count once the new run was started.
    """
    podcast.status = PodcastStatus.QUEUED
    podcast.progress = 0
    podcast.current_step = "Queued for retry"
    podcast.error = None
    podcast.audio_key = None
    podcast.audio_duration = None
    podcast.audio_size_bytes = None
    podcast.transcript = None
    podcast.started_at = None
    podcast.completed_at = None


async def list_for_user(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    page: int,
    limit: int,
    status: PodcastStatus | None,
    sort: Literal["createdAt", "updatedAt"],
    order: Literal["asc", "desc"],
) -> tuple[list[Podcast], int]:
    conditions = [Podcast.user_id == user_id, Podcast.deleted_at.is_(None)]
    if status is not None:
        conditions.append(Podcast.status == status)
    column = Podcast.created_at if sort == "createdAt" else Podcast.updated_at
    ordering = column.asc() if order == "asc" else column.desc()
    total = await session.scalar(select(func.count()).select_from(Podcast).where(*conditions))
    rows = await session.scalars(
        select(Podcast)
        .where(*conditions)
        .order_by(ordering, Podcast.id)
        .offset((page - 1) * limit)
        .limit(limit)
    )
    return list(rows), int(total or 0)
