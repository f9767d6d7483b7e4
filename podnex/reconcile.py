"""Find podcasts whose records disagree with their runs, and repair them.

The system's own guard against the next bug of the kind that strands a podcast: run on a
schedule (`workflows/reconcile.py`), it looks for

- ``stranded``: QUEUED or PROCESSING, untouched for a while, whose run has ended without
  finishing it or never started: its reservation goes back, its work files go, and it
  reads FAILED (CANCELLED when the run was cancelled);
- ``held_reservation``: FAILED or CANCELLED while still holding its plan reservation;
- ``charged_unfinished``: seconds charged to a podcast that did not complete;
- ``deleted_audio``: a deleted podcast whose audio was published after its deletion;

(a stranded re-render, whose podcast still has its published version, reads COMPLETED
again with that version), and it removes the stored segments of podcasts finished more
than `SEGMENT_RETENTION_DAYS` ago (`expire_segments`: housekeeping, not a repair);

and repairs each through the same domain functions the runs use. Whether a run is still
going is asked of the caller (`RunLookup`), so this module knows nothing of Temporal.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import structlog
from sqlalchemy import and_, select

from podnex import audit, podcasts, quota
from podnex.db import Database
from podnex.models import Podcast, UsageRecord
from podnex.storage import Storage, delete_podcast_objects
from podnex.storage.keys import audio_key, segment_prefix, work_prefix
from podnex.vocabulary import PodcastStatus

log = structlog.get_logger("podnex.reconcile")

RunState = Literal["running", "completed", "failed", "cancelled", "missing"]
RunLookup = Callable[[str], Awaitable[RunState]]
"""The state of the run with this workflow id."""

RepairKind = Literal["stranded", "held_reservation", "charged_unfinished", "deleted_audio"]
RECONCILER = "reconciler"
REPAIR_ACTION_PREFIX = "reconcile."
"""Audit actions of repairs: `reconcile.<kind>`."""


@dataclass(frozen=True)
class Repair:
    kind: RepairKind
    podcast_id: str
    detail: str


async def reconcile(
    db: Database,
    storage: Storage,
    run_state: RunLookup,
    *,
    now: datetime,
    grace: timedelta,
    limit: int = 200,
) -> list[Repair]:
    """One pass over each kind of disagreement (at most ``limit`` podcasts each); the
    repairs made. Podcasts changed within ``grace`` are left to their runs."""
    repairs: list[Repair] = []
    repairs += await _stranded(db, storage, run_state, now - grace, limit)
    repairs += await _held_reservations(db, run_state, now - grace, limit)
    repairs += await _charged_unfinished(db, now - grace, limit)
    repairs += await _deleted_audio(db, storage, limit)
    for repair in repairs:
        log.warning(
            "reconciler repaired a podcast",
            kind=repair.kind,
            podcast_id=repair.podcast_id,
            detail=repair.detail,
        )
    if repairs:
        await _record(db, repairs)
    return repairs


async def _record(db: Database, repairs: list[Repair]) -> None:
    """Each repair in the audit log (actor `reconciler`, action `reconcile.<kind>`), for
    the podcast's owner: the admin statistics count them."""
    ids = [uuid.UUID(repair.podcast_id) for repair in repairs]
    async with db.transaction() as session:
        found = await session.execute(
            select(Podcast.id, Podcast.user_id).where(Podcast.id.in_(ids))
        )
        owners = {podcast_id: owner for podcast_id, owner in found.all()}
        for repair in repairs:
            audit.record_change(
                session,
                actor=RECONCILER,
                action=f"{REPAIR_ACTION_PREFIX}{repair.kind}",
                target_user_id=owners.get(uuid.UUID(repair.podcast_id)),
                before={},
                after={"podcast_id": repair.podcast_id, "repair": repair.detail},
            )


async def _candidates(db: Database, limit: int, *conditions: object) -> list[Podcast]:
    async with db.transaction() as session:
        rows = await session.scalars(
            select(Podcast).where(*conditions).order_by(Podcast.updated_at).limit(limit)  # type: ignore[arg-type]
        )
        return list(rows)


async def _stranded(
    db: Database, storage: Storage, run_state: RunLookup, before: datetime, limit: int
) -> list[Repair]:
    repairs = []
    for podcast in await _candidates(
        db,
        limit,
        Podcast.status.in_([PodcastStatus.QUEUED, PodcastStatus.PROCESSING]),
        Podcast.updated_at < before,
    ):
        state = await run_state(podcast.workflow_id) if podcast.workflow_id else "missing"
        if state in ("running", "completed"):
            continue  # still going, or ended well (its own mirror will have told)
        status = PodcastStatus.CANCELLED if state == "cancelled" else PodcastStatus.FAILED
        reason = (
            "Could not start: the run was never created"
            if state == "missing"
            else f"The run ended ({state}) without finishing the podcast"
        )
        podcast_id = str(podcast.id)
        await storage.delete_prefix(work_prefix(podcast_id))
        if podcast.audio_key is not None:
            # A re-render that never published: the version it would have published goes,
            # the published one (and everything it was charged) stays.
            await storage.delete(audio_key(podcast_id, max(podcast.version, 1) + 1))
            async with db.transaction() as session:
                closed = await podcasts.close_stranded_rerender(session, podcast.id)
            if closed:
                repairs.append(
                    Repair(
                        "stranded",
                        podcast_id,
                        f"re-render {podcast.status} -> COMPLETED (version {podcast.version} "
                        f"kept): the run ended ({state})",
                    )
                )
            continue
        await storage.delete_prefix(segment_prefix(podcast_id))
        await storage.delete(audio_key(podcast_id))
        async with db.transaction() as session:
            await quota.release_podcast(session, podcast.id)
            closed = await podcasts.close_stranded(
                session, podcast.id, status, None if status is PodcastStatus.CANCELLED else reason
            )
        if closed:
            repairs.append(
                Repair("stranded", podcast_id, f"{podcast.status} -> {status}: {reason}")
            )
    return repairs


async def _held_reservations(
    db: Database, run_state: RunLookup, before: datetime, limit: int
) -> list[Repair]:
    repairs = []
    for podcast in await _candidates(
        db,
        limit,
        Podcast.status.in_([PodcastStatus.FAILED, PodcastStatus.CANCELLED]),
        Podcast.quota_reserved.is_(True),
        Podcast.updated_at < before,
    ):
        if podcast.workflow_id and await run_state(podcast.workflow_id) == "running":
            continue
        async with db.transaction() as session:
            released = await quota.release_podcast(session, podcast.id)
        if released:
            repairs.append(Repair("held_reservation", str(podcast.id), f"{podcast.status}"))
    return repairs


async def _charged_unfinished(db: Database, before: datetime, limit: int) -> list[Repair]:
    async with db.transaction() as session:
        ids = list(
            await session.scalars(
                select(Podcast.id)
                .join(UsageRecord, and_(UsageRecord.podcast_id == Podcast.id))
                .where(
                    Podcast.status.in_([PodcastStatus.FAILED, PodcastStatus.CANCELLED]),
                    Podcast.updated_at < before,
                )
                .limit(limit)
            )
        )
    repairs = []
    for podcast_id in ids:
        async with db.transaction() as session:
            seconds = await quota.refund_usage(session, podcast_id)
        if seconds:
            repairs.append(Repair("charged_unfinished", str(podcast_id), f"{seconds:.1f} s"))
    return repairs


async def _deleted_audio(db: Database, storage: Storage, limit: int) -> list[Repair]:
    repairs = []
    for podcast in await _candidates(
        db, limit, Podcast.deleted_at.is_not(None), Podcast.audio_key.is_not(None)
    ):
        removed = await delete_podcast_objects(storage, str(podcast.id))
        async with db.transaction() as session:
            await podcasts.forget_audio(session, podcast.id)
        repairs.append(Repair("deleted_audio", str(podcast.id), f"{removed} objects"))
    return repairs


async def expire_segments(
    db: Database, storage: Storage, *, now: datetime, retention: timedelta, limit: int = 200
) -> int:
    """Remove the stored segments of COMPLETED podcasts whose last run finished more than
    ``retention`` ago; how many podcasts' segments went. A later re-render of one of them
    synthesises its lines again (and says how many in its progress step)."""
    async with db.transaction() as session:
        ids = await podcasts.expired_segments(session, now - retention, now, limit)
    for podcast_id in ids:
        removed = await storage.delete_prefix(segment_prefix(str(podcast_id)))
        log.info("segments expired", podcast_id=str(podcast_id), objects=removed)
    return len(ids)
