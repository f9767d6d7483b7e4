"""Charge a completed podcast's actual seconds, once; settle a re-render's, once."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

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
    charged = await _in_final_transaction(deps, request, quota.charge_usage)
    log().info("usage recorded", seconds=round(request.seconds, 2), charged=charged)
    return charged


async def settle_usage(deps: ActivityDeps, request: UsageRequest) -> float:
    """A published re-render: the podcast's usage follows its new duration, once (and,
    when asked, its final state is mirrored in the same transaction)."""
    delta = await _in_final_transaction(deps, request, quota.settle_rerender_usage)
    log().info("re-render usage settled", seconds=round(request.seconds, 2), delta=delta)
    return delta


T = TypeVar("T")


async def _in_final_transaction(
    deps: ActivityDeps,
    request: UsageRequest,
    account: Callable[[AsyncSession, uuid.UUID, float], Awaitable[T]],
) -> T:
    """``account`` the podcast's seconds and mirror its final state (when given) in one
    transaction, then start the deliveries of its event."""
    async with deps.db.transaction() as session:
        result = await account(session, podcast_uuid(request.podcast_id), request.seconds)
        deliveries = (
            [] if request.final_state is None else await mirror(deps, session, request.final_state)
        )
    await announce(deliveries)
    return result
