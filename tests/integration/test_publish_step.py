"""The run's last step (`publish_podcast`) retried after it has done all its work.

It uploads, charges (a re-render: settles) and completes in one transaction, then removes a
re-render's previous version. A worker that loses the answer after all of that (the
worst case: every part already done) makes Temporal run the whole step again; the
podcast must still be published once, charged once and read COMPLETED.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.worker import ExecuteActivityInput

from api.temporal_client import run_input_for, start_podcast_run
from podnex.db import Database
from podnex.models import Podcast, PodcastStatus
from podnex.podcasts import script_of
from podnex.script.types import ScriptLine
from podnex.settings import Settings
from tests.conftest import ApiUser
from tests.integration.podcasts import billing_of, stored_podcast
from tests.integration.workers import AfterEachActivity, ScriptedEngine, worker_with

pytestmark = pytest.mark.timeout(120)


class LoseTheFirstAnswer(AfterEachActivity):
    """The first attempt of each ``publish_podcast`` does its work, then fails as if its
    worker had lost the answer: Temporal retries the whole step."""

    def __init__(self) -> None:
        self.attempts: list[int] = []

    async def after(self, input: ExecuteActivityInput, result: Any) -> Any:
        info = activity.info()
        if info.activity_type == "publish_podcast":
            self.attempts.append(info.attempt)
            if info.attempt == 1:
                raise ApplicationError("the answer was lost", type="LostAnswer")
        return result


def published(settings: Settings, podcast: Podcast) -> list[str]:
    storage: Path = settings.resolved_storage_dir
    return sorted(
        path.name
        for path in storage.rglob("audio*.mp3")
        if str(podcast.id) in str(path) and path.is_file()
    )


async def test_a_publish_retried_after_its_work_publishes_and_charges_once(
    settings: Settings, db: Database, temporal_client: Client, user: ApiUser
) -> None:
    lose = LoseTheFirstAnswer()
    podcast = await stored_podcast(db, user, "Published once")
    async with worker_with(settings, temporal_client, ScriptedEngine(), [lose]) as queue:
        _, handle = await start_podcast_run(
            temporal_client, queue, run_input_for(podcast, speech_concurrency=2), summary="p"
        )
        result = await handle.result()
    assert lose.attempts == [1, 2]
    assert result["status"] == "COMPLETED"
    row, usage, subscription = await billing_of(db, podcast)
    assert row.status is PodcastStatus.COMPLETED, row.error
    assert row.audio_key == result["audio_key"] and row.audio_size_bytes
    assert row.audio_duration == pytest.approx(result["audio_duration"])
    assert len(usage) == 1 and usage[0].amount == pytest.approx(row.audio_duration)
    assert subscription.current_seconds_used == pytest.approx(row.audio_duration)
    assert row.transcript and len(row.transcript) == len(script_of(row))
    assert published(settings, podcast) == ["audio.mp3"]


async def test_a_rerender_publish_retried_after_its_work_settles_once(
    settings: Settings, db: Database, temporal_client: Client, user: ApiUser
) -> None:
    """Version 2 published, the usage settled to its duration once, version 1 removed."""
    podcast = await stored_podcast(db, user, "Re-rendered once")
    lose = LoseTheFirstAnswer()
    async with worker_with(settings, temporal_client, ScriptedEngine(), [lose]) as queue:
        _, first = await start_podcast_run(
            temporal_client, queue, run_input_for(podcast, speech_concurrency=2), summary="v1"
        )
        await first.result()
        row, _, _ = await billing_of(db, podcast)
        lines = script_of(row)
        edited = [*lines, ScriptLine(speaker="guest", text="And one more thing, said slowly.")]
        _, handle = await start_podcast_run(
            temporal_client,
            queue,
            run_input_for(row, speech_concurrency=2, script=edited),
            summary="v2",
        )
        result = await handle.result()
    assert lose.attempts == [1, 2, 1, 2]
    assert result["status"] == "COMPLETED"
    row, usage, subscription = await billing_of(db, podcast)
    assert row.status is PodcastStatus.COMPLETED and row.version == 2, (row.status, row.error)
    assert row.audio_key is not None and row.audio_key.endswith("audio-v2.mp3")
    assert script_of(row) == edited
    assert len(usage) == 1 and usage[0].amount == pytest.approx(row.audio_duration)
    assert subscription.current_seconds_used == pytest.approx(row.audio_duration)
    assert published(settings, podcast) == ["audio-v2.mp3"]
