"""The run's last step: publish the audio, charge it and complete the podcast, at once."""

from __future__ import annotations

from temporalio import activity

from activities.context import ActivityDeps
from activities.storage import delete_previous_audio, publish_audio
from activities.usage import record_usage, settle_usage
from workflows.types import CleanupRequest, PublishPodcastRequest, PublishResult, UsageRequest


class PublishActivities:
    def __init__(self, deps: ActivityDeps) -> None:
        self.deps = deps

    @activity.defn(name="publish_podcast")
    async def publish_podcast(self, request: PublishPodcastRequest) -> PublishResult:
        """Upload (the point of no return mirrored first), then charge the seconds (a
        re-render: settle them) and mirror COMPLETED in the same transaction, then remove
        a re-render's previous version.

        One activity for what were three steps of their own (`upload_audio`,
        `record_usage` or `settle_usage`, `delete_previous_audio`): each part is safe to
        repeat, so a retry after any of them redoes nothing twice (the upload finds its
        audio published, the charge is recorded once, a deleted version stays deleted).
        """
        upload = request.upload
        published = await publish_audio(self.deps, upload)
        usage = UsageRequest(
            podcast_id=upload.podcast_id,
            seconds=upload.duration_seconds,
            final_state=request.final_state.with_audio(published),
        )
        if request.rerender:
            await settle_usage(self.deps, usage)
            await delete_previous_audio(
                self.deps, CleanupRequest(podcast_id=upload.podcast_id, version=upload.version)
            )
        else:
            await record_usage(self.deps, usage)
        return published
