"""Limit check (reserve one podcast of the plan) and its compensation (give it back)."""

from __future__ import annotations

from temporalio import activity

from activities.context import ActivityDeps, log, podcast_uuid
from podnex import podcasts, quota
from podnex.spec import RunState
from podnex.vocabulary import PodcastStatus
from workflows.types import (
    Admission,
    CleanupRequest,
    LimitRequest,
    ProgressBands,
    RerenderLimitRequest,
)

ADMITTED_STATE = RunState(
    status=PodcastStatus.PROCESSING,
    progress=ProgressBands.ADMITTED,
    current_step="Admitted",
    admitted=True,
)
"""What the workflow mirrors next (`_set(..., "Admitted", admitted=True)`), written here
with the reservation."""

RERENDER_ADMITTED_STATE = ADMITTED_STATE.model_copy(update={"current_step": "Re-render admitted"})


class LimitActivities:
    def __init__(self, deps: ActivityDeps) -> None:
        self.deps = deps

    @activity.defn(name="check_limits")
    async def check_limits(self, request: LimitRequest) -> Admission:
        """Reserve the podcast's share of the plan; when admitted, the podcast reads as
        admitted in the same transaction, so the API's 201 already shows it."""
        info = activity.info()
        podcast_id = podcast_uuid(request.podcast_id)
        async with self.deps.db.transaction() as session:
            now = self.deps.clock()
            reservation = await quota.reserve_podcast(session, podcast_id, now)
            if reservation.admitted:
                await podcasts.mirror_run_state(
                    session,
                    podcast_id,
                    ADMITTED_STATE,
                    workflow_id=info.workflow_id or "",
                    run_id=info.workflow_run_id or "",
                    now=now,
                )
        log().info("limits checked", admitted=reservation.admitted, reason=reservation.reason)
        return Admission(
            admitted=reservation.admitted,
            reason=reservation.reason,
            current_podcasts=reservation.current.podcasts,
            current_minutes=reservation.current.minutes,
            limit_podcasts=reservation.limits.podcasts,
            limit_minutes=reservation.limits.minutes,
        )

    @activity.defn(name="check_rerender")
    async def check_rerender(self, request: RerenderLimitRequest) -> Admission:
        """A re-render's plan check (minutes only: it counts no new podcast and reserves
        nothing); when admitted, the podcast reads as being re-rendered in the same
        transaction. Its previous audio stays published meanwhile."""
        info = activity.info()
        podcast_id = podcast_uuid(request.podcast_id)
        async with self.deps.db.transaction() as session:
            now = self.deps.clock()
            check = await quota.check_rerender(session, podcast_id, request.words, now)
            if check.admitted:
                await podcasts.mirror_run_state(
                    session,
                    podcast_id,
                    RERENDER_ADMITTED_STATE,
                    workflow_id=info.workflow_id or "",
                    run_id=info.workflow_run_id or "",
                    now=now,
                )
        log().info("re-render checked", admitted=check.admitted, reason=check.reason)
        return Admission(
            admitted=check.admitted,
            reason=check.reason,
            current_podcasts=check.current.podcasts,
            current_minutes=check.current.minutes,
            limit_podcasts=check.limits.podcasts,
            limit_minutes=check.limits.minutes,
        )

    @activity.defn(name="release_podcast")
    async def release_podcast(self, request: CleanupRequest) -> bool:
        async with self.deps.db.transaction() as session:
            released = await quota.release_podcast(session, podcast_uuid(request.podcast_id))
        log().info("reservation released", released=released)
        return released
