"""Mirror the run's state into the podcast's row: the workflow, not the API, writes it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from temporalio import activity

from activities.context import ActivityDeps, log, podcast_uuid
from podnex.models import Podcast, PodcastStatus
from workflows.types import StatusUpdate


class StatusActivities:
    def __init__(self, deps: ActivityDeps) -> None:
        self.deps = deps

    @activity.defn(name="update_podcast_status")
    async def update_podcast_status(self, change: StatusUpdate) -> None:
        info = activity.info()
        now = self.deps.clock()
        status = PodcastStatus(change.status)
        values: dict[str, Any] = {
            "status": status,
            "progress": change.progress,
            "current_step": change.current_step,
            "error": change.error,
            "workflow_id": info.workflow_id,
            "workflow_run_id": info.workflow_run_id,
        }
        if status is PodcastStatus.PROCESSING and change.progress <= 5:
            values["started_at"] = now
            values["completed_at"] = None
        if status.finished:
            values["completed_at"] = now
        if change.title is not None:
            values["title"] = change.title
        if status is PodcastStatus.COMPLETED:
            values["audio_key"] = change.audio_key
            values["audio_duration"] = change.audio_duration
            values["audio_size_bytes"] = change.audio_size_bytes
            values["transcript"] = (
                [line.model_dump() for line in change.transcript] if change.transcript else None
            )
        elif status.finished:
            values.update(audio_key=None, audio_duration=None, audio_size_bytes=None)
        async with self.deps.db.transaction() as session:
            await session.execute(
                update(Podcast)
                .where(Podcast.id == podcast_uuid(change.podcast_id))
                .values(**values)
            )
        log().info("status mirrored", status=status.value, progress=change.progress)
