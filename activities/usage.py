"""Charge a completed podcast's actual seconds, once; settle a re-render's, once."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio import activity

from activities.context import ActivityDeps, log, podcast_uuid
from activities.status import announce, mirror
from podnex import quota
from workflows.types import UsageRequest


class UsageActivities:
    def __init__(self, deps: ActivityDeps) -> None:
        self.deps = deps

    @activity.defn(name="record_usage")
    async def record_usage(self, request: UsageRequest) -> bool:
        """Charge the podcast's seconds once (`record_usage`); runs started before the
        publish step (`publish_podcast`) call this after the upload."""
        return await record_usage(self.deps, request)

    @activity.defn(name="settle_usage")
    async def settle_usage(self, request: UsageRequest) -> float:
        """A published re-render's usage (`settle_usage`), for runs started before the
        publish step."""
        return await settle_usage(self.deps, request)


async def record_usage(deps: ActivityDeps, request: UsageRequest) -> bool:
    """Charge the podcast's seconds once (and, when asked, mirror its final state in the
    same transaction, then start the webhook deliveries of its event)."""
    async with deps.db.transaction() as session:
        charged = await quota.charge_usage(
            session, podcast_uuid(request.podcast_id), request.seconds
        )
        deliveries = await _final_state(deps, session, request)
    log().info("usage recorded", seconds=round(request.seconds, 2), charged=charged)
    await announce(deliveries)
    return charged


async def settle_usage(deps: ActivityDeps, request: UsageRequest) -> float:
    """A published re-render: the podcast's usage follows its new duration, once (and,
    when asked, its final state is mirrored in the same transaction)."""
    async with deps.db.transaction() as session:
        delta = await quota.settle_rerender_usage(
            session, podcast_uuid(request.podcast_id), request.seconds
        )
        deliveries = await _final_state(deps, session, request)
    log().info("re-render usage settled", seconds=round(request.seconds, 2), delta=delta)
    await announce(deliveries)
    return delta


async def _final_state(
    deps: ActivityDeps, session: AsyncSession, request: UsageRequest
) -> list[uuid.UUID]:
    if request.final_state is None:
        return []
    return await mirror(deps, session, request.final_state)
