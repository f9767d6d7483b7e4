"""Podcast rows for tests, stored directly (no workflow run)."""

from __future__ import annotations

from podnex.db import Database
from podnex.models import Podcast, PodcastDuration
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
