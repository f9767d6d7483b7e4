"""Mirror the run's state into the podcast's row: the workflow, not the API, writes it."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio import activity

from activities.context import ActivityDeps, log, podcast_uuid
from activities.webhooks import start_deliveries
from podnex import podcasts, webhooks
from workflows.types import StatusUpdate


async def mirror(
    deps: ActivityDeps, session: AsyncSession, change: StatusUpdate
) -> list[uuid.UUID]:
    """Write ``change`` into the podcast's row in ``session``'s transaction; once the run
    has finished (and published, or failed), also record the webhook deliveries of its
    event, each once however often this runs. Returns them for `announce` after commit."""
    info = activity.info()
    await podcasts.mirror_run_state(
        session,
        podcast_uuid(change.podcast_id),
        change,
        workflow_id=info.workflow_id or "",
        run_id=info.workflow_run_id or "",
        now=deps.clock(),
    )
    log().info("status mirrored", status=change.status.value, progress=change.progress)
    if not change.status.finished or change.keep_results:
        return []
    return await webhooks.record_deliveries(
        session,
        podcast_uuid(change.podcast_id),
        run_id=info.workflow_run_id or "",
        now=deps.clock(),
    )


async def announce(deliveries: list[uuid.UUID]) -> None:
    """Start the workflows of deliveries `mirror` recorded (after their transaction)."""
    if deliveries:
        await start_deliveries(activity.client(), activity.info().task_queue, deliveries)


class StatusActivities:
    def __init__(self, deps: ActivityDeps) -> None:
        self.deps = deps

    @activity.defn(name="update_podcast_status")
    async def update_podcast_status(self, change: StatusUpdate) -> None:
        """Also, once the run has finished, records the webhook deliveries of its event and
        starts their workflows (each once, however often this activity runs). A re-render
        that did not publish leaves the podcast as it was: no event."""
        async with self.deps.db.transaction() as session:
            deliveries = await mirror(self.deps, session, change)
        await announce(deliveries)
