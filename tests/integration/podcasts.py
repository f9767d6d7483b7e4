"""Podcast rows for tests, stored directly (no workflow run)."""

from __future__ import annotations

from sqlalchemy import select

from podnex.db import Database
from podnex.models import Podcast, PodcastDuration, Subscription, UsageRecord
from podnex.podcasts import NewPodcast, create_podcast
from podnex.spec import PodcastSpec
from tests.conftest import ApiUser
from tests.integration.notes import NOTES
from workflows.types import workflow_id_for


async def stored_podcast(db: Database, owner: ApiUser, title: str | None = None) -> Podcast:
    """A QUEUED SHORT podcast of the sample notes, owned by `owner`."""
    async with db.transaction() as session:
        return await create_podcast(
            session,
            owner.id,
            NewPodcast(
                spec=PodcastSpec(
                    note_content=NOTES,
                    duration=PodcastDuration.SHORT,
                    title=title,
                    host_voice="host",
                    guest_voice="guest",
                    tts_provider="espeak",
                )
            ),
            workflow_id_for=workflow_id_for,
        )


async def billing_of(
    db: Database, podcast: Podcast
) -> tuple[Podcast, list[UsageRecord], Subscription]:
    """The podcast's row as stored now, its usage records and its owner's subscription."""
    async with db.transaction() as session:
        row = await session.get(Podcast, podcast.id)
        usage = list(
            (
                await session.scalars(
                    select(UsageRecord).where(UsageRecord.podcast_id == podcast.id)
                )
            ).all()
        )
        subscription = await session.scalar(
            select(Subscription).where(Subscription.user_id == podcast.user_id)
        )
    assert row is not None and subscription is not None
    return row, usage, subscription
