"""Mirror the run's state into the podcast's row: the workflow, not the API, writes it."""

from __future__ import annotations

from temporalio import activity

from activities.context import ActivityDeps, log, podcast_uuid
from activities.webhooks import start_deliveries
from podnex import podcasts, webhooks
from workflows.types import StatusUpdate


class StatusActivities:
    def __init__(self, deps: ActivityDeps) -> None:
        self.deps = deps

    @activity.defn(name="update_podcast_status")
    async def update_podcast_status(self, change: StatusUpdate) -> None:
        """Also, once the run has finished, records the webhook deliveries of its event and
        starts their workflows (each once, however often this activity runs). A re-render
        that did not publish leaves the podcast as it was: no event."""
        info = activity.info()
        deliveries = []
        async with self.deps.db.transaction() as session:
            await podcasts.mirror_run_state(
                session,
                podcast_uuid(change.podcast_id),
                change,
                workflow_id=info.workflow_id or "",
                run_id=info.workflow_run_id or "",
                now=self.deps.clock(),
            )
            if change.status.finished and not change.keep_results:
                deliveries = await webhooks.record_deliveries(
                    session,
                    podcast_uuid(change.podcast_id),
                    run_id=info.workflow_run_id or "",
                    now=self.deps.clock(),
                )
        log().info("status mirrored", status=change.status.value, progress=change.progress)
        if deliveries:
            await start_deliveries(activity.client(), info.task_queue, deliveries)
