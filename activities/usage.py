"""Charge a completed podcast's actual seconds, once."""

from __future__ import annotations

from temporalio import activity

from activities.context import ActivityDeps, log, podcast_uuid
from podnex import quota
from workflows.types import UsageRequest


class UsageActivities:
    def __init__(self, deps: ActivityDeps) -> None:
        self.deps = deps

    @activity.defn(name="record_usage")
    async def record_usage(self, request: UsageRequest) -> bool:
        async with self.deps.db.transaction() as session:
            charged = await quota.charge_usage(
                session, podcast_uuid(request.podcast_id), request.seconds
            )
        log().info("usage recorded", seconds=round(request.seconds, 2), charged=charged)
        return charged
