"""Limit check (reserve one podcast of the plan) and its compensation (give it back)."""

from __future__ import annotations

from temporalio import activity

from activities.context import ActivityDeps, log, podcast_uuid
from podnex import quota
from workflows.types import Admission, CleanupRequest, LimitRequest


class LimitActivities:
    def __init__(self, deps: ActivityDeps) -> None:
        self.deps = deps

    @activity.defn(name="check_limits")
    async def check_limits(self, request: LimitRequest) -> Admission:
        async with self.deps.db.transaction() as session:
            reservation = await quota.reserve_podcast(
                session, podcast_uuid(request.podcast_id), self.deps.clock()
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

    @activity.defn(name="release_podcast")
    async def release_podcast(self, request: CleanupRequest) -> bool:
        async with self.deps.db.transaction() as session:
            released = await quota.release_podcast(session, podcast_uuid(request.podcast_id))
        log().info("reservation released", released=released)
        return released
