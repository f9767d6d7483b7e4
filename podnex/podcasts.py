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
    session: AsyncSession, user_id: uuid.UUID, podcast_id: str
) -> Podcast | None:
    """The user's podcast, or None when it is missing, deleted or someone else's."""
    parsed = parse_id(podcast_id)
    if parsed is None:
        return None
    return await session.scalar(
        select(Podcast).where(
            Podcast.id == parsed, Podcast.user_id == user_id, Podcast.deleted_at.is_(None)
        )
    )


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
