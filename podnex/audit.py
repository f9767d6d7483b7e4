"""The audit log: every change to an account, who made it, and what changed.

Written by the payment webhooks (`podnex.billing`, actor `dodo`), the CLI (`cli`),
administrators (`admin:<e-mail>`, with their user id) and the reconciler's repairs
(`reconciler`, `podnex.reconcile`); listed by `GET /api/v1/admin/audit`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from podnex.models import AuditEvent


def record_change(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    target_user_id: uuid.UUID | None,
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    actor_user_id: uuid.UUID | None = None,
    event_id: str | None = None,
) -> AuditEvent | None:
    """Record what changed (each field as [before, after]); None when nothing did."""
    changes = {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}
    if not changes:
        return None
    event = AuditEvent(
        actor=actor,
        actor_user_id=actor_user_id,
        action=action,
        target_user_id=target_user_id,
        details=changes,
        event_id=event_id,
    )
    session.add(event)
    return event


async def list_events(
    session: AsyncSession,
    *,
    offset: int,
    limit: int,
    target_user_id: uuid.UUID | None = None,
    actor_user_id: uuid.UUID | None = None,
    action: str | None = None,
) -> tuple[list[AuditEvent], int]:
    """A page of the log, newest first, and how many entries match in all."""
    conditions = []
    if target_user_id is not None:
        conditions.append(AuditEvent.target_user_id == target_user_id)
    if actor_user_id is not None:
        conditions.append(AuditEvent.actor_user_id == actor_user_id)
    if action is not None:
        conditions.append(AuditEvent.action == action)
    total = await session.scalar(select(func.count()).select_from(AuditEvent).where(*conditions))
    rows = await session.scalars(
        select(AuditEvent)
        .where(*conditions)
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id)
        .offset(offset)
        .limit(limit)
    )
    return list(rows), total or 0
