"""Charge a completed podcast's actual seconds, once; settle a re-render's, once."""

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

    @activity.defn(name="settle_usage")
    async def settle_usage(self, request: UsageRequest) -> float:
        """A published re-render: the podcast's usage follows its new duration."""
        async with self.deps.db.transaction() as session:
            delta = await quota.settle_rerender_usage(
                session, podcast_uuid(request.podcast_id), request.seconds
            )
        log().info("re-render usage settled", seconds=round(request.seconds, 2), delta=delta)
        return delta
