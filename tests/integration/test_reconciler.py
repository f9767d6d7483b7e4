"""The reconciler finds each kind of disagreement between a podcast and its run, made here
directly in the database and in Temporal, and repairs it; podcasts whose runs are going,
or that changed recently, are left alone. The worker keeps its Schedule."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from temporalio.client import Client, ScheduleIntervalSpec
from temporalio.service import RPCError, RPCStatusCode

import worker as worker_module
from api.temporal_client import run_input_for, start_podcast_run
from podnex import admin
from podnex.db import Database
from podnex.models import AuditEvent, Podcast, PodcastStatus, Subscription, UsageRecord
from podnex.plans import Plan
from podnex.settings import Settings
from podnex.storage import create_storage
from podnex.storage.keys import audio_key, segment_key
from tests.conftest import make_user
from tests.integration.podcasts import stored_podcast
from tests.integration.workers import ScriptedEngine, worker_with
from workflows.reconcile import ReconcileWorkflow
from workflows.types import (
    RECONCILE_SCHEDULE_ID,
    RECONCILE_WORKFLOW_TYPE,
    ReconcileRequest,
    ReconcileResult,
)

LONG_AGO = datetime.now(UTC) - timedelta(hours=2)


async def set_row(db: Database, podcast: Podcast, **values: Any) -> None:
    async with db.transaction() as session:
        await session.execute(
            update(Podcast).where(Podcast.id == podcast.id).values(updated_at=LONG_AGO, **values)
        )


async def row_of(db: Database, podcast: Podcast) -> Podcast:
    async with db.transaction() as session:
        row = await session.get(Podcast, podcast.id)
    assert row is not None
    return row


async def test_each_disagreement_is_repaired_and_the_rest_left_alone(
    settings: Settings, db: Database, temporal_client: Client
) -> None:
    owner = await make_user(db, Plan.FREE)
    storage = create_storage(settings)
    idle_queue = f"idle-{uuid.uuid4().hex[:8]}"  # no worker: runs there stay RUNNING

    # QUEUED, its run never created (the API died while Temporal was down), reserved.
    never_started = await stored_podcast(db, owner)
    await set_row(
        db,
        never_started,
        quota_reserved=True,
        quota_reserved_seconds=300.0,
        quota_period_start=(await subscription(db, owner)).current_period_start,
    )
    # PROCESSING, its run terminated from the Web UI mid-way, with work files.
    terminated = await stored_podcast(db, owner)
    # PROCESSING, its run cancelled while no worker ran its clean-up.
    cancelled = await stored_podcast(db, owner)
    # PROCESSING, its run going (on a queue nobody serves yet): left alone.
    going = await stored_podcast(db, owner)
    handles = {}
    for podcast in (terminated, cancelled, going):
        _, handles[podcast.id] = await start_podcast_run(
            temporal_client,
            idle_queue,
            run_input_for(podcast, speech_concurrency=2),
            summary="reconciler test",
            admission_timeout=timedelta(seconds=1),
        )
        await set_row(
            db,
            podcast,
            status=PodcastStatus.PROCESSING,
            quota_reserved=True,
            quota_reserved_seconds=300.0,
            quota_period_start=(await subscription(db, owner)).current_period_start,
        )
    await handles[terminated.id].terminate("operator")
    await handles[cancelled.id].cancel()
    await handles[cancelled.id].terminate("no worker to clean up")  # closes it, still stranded
    work_file = segment_key(str(terminated.id), "espeak", "host", "Hello")
    await storage.put(work_file, b"RIFF", content_type="audio/wav")
    # FAILED, still holding its reservation.
    held = await stored_podcast(db, owner)
    await set_row(db, held, status=PodcastStatus.FAILED, quota_reserved=True)
    # CANCELLED, yet charged 120 s.
    charged = await stored_podcast(db, owner)
    await set_row(db, charged, status=PodcastStatus.CANCELLED)
    async with db.transaction() as session:
        sub = await session.scalar(select(Subscription).where(Subscription.user_id == owner.id))
        assert sub is not None
        session.add(
            UsageRecord(
                id=uuid.uuid4(),
                subscription_id=sub.id,
                podcast_id=charged.id,
                kind="generation_seconds",
                amount=120.0,
            )
        )
        sub.current_seconds_used = 120.0
        sub.current_podcast_count = 5
        sub.current_seconds_reserved = 4 * 300.0
    # Deleted, but its audio was published after the deletion.
    deleted = await stored_podcast(db, owner)
    key = audio_key(str(deleted.id))
    await storage.put(key, b"ID3", content_type="audio/mpeg")
    await set_row(db, deleted, status=PodcastStatus.COMPLETED, audio_key=key, deleted_at=LONG_AGO)
    # QUEUED a moment ago, no run yet: within the grace period, left alone.
    fresh = await stored_podcast(db, owner)

    async with worker_with(settings, temporal_client, ScriptedEngine()) as queue:
        result = await temporal_client.execute_workflow(
            ReconcileWorkflow.run,
            ReconcileRequest(grace_seconds=60),
            id=f"reconcile-test-{uuid.uuid4().hex[:8]}",
            task_queue=queue,
            result_type=ReconcileResult,
        )
    kinds = sorted(line.split(" ", 1)[0] for line in result.repairs)
    assert kinds.count("stranded") >= 3 and "held_reservation" in kinds
    assert "charged_unfinished" in kinds and "deleted_audio" in kinds

    for podcast in (never_started, terminated):
        row = await row_of(db, podcast)
        assert row.status is PodcastStatus.FAILED and not row.quota_reserved, row.error
    assert (await row_of(db, never_started)).error == "Could not start: the run was never created"
    assert not await storage.exists(work_file)
    assert (await row_of(db, cancelled)).status in (PodcastStatus.CANCELLED, PodcastStatus.FAILED)
    assert not (await row_of(db, cancelled)).quota_reserved
    assert not (await row_of(db, held)).quota_reserved
    row = await row_of(db, going)
    assert row.status is PodcastStatus.PROCESSING and row.quota_reserved
    assert (await row_of(db, fresh)).status is PodcastStatus.QUEUED
    deleted_row = await row_of(db, deleted)
    assert deleted_row.audio_key is None and not await storage.exists(key)
    async with db.transaction() as session:
        charges = (
            await session.scalars(select(UsageRecord).where(UsageRecord.podcast_id == charged.id))
        ).all()
    assert charges == []
    sub = await subscription(db, owner)
    assert sub.current_seconds_used == 0
    # Reservations given back: never_started, terminated, cancelled, held; `going` keeps its.
    assert sub.current_seconds_reserved == 300.0
    await handles[going.id].terminate("test over")

    # Each repair is in the audit log, for the owner, and counted in the admin statistics.
    async with db.transaction() as session:
        logged = (
            await session.scalars(
                select(AuditEvent.action).where(
                    AuditEvent.actor == "reconciler", AuditEvent.target_user_id == owner.id
                )
            )
        ).all()
        stats = await admin.podcast_stats(session, datetime.now(UTC))
    mine = {
        str(p.id)
        for p in (never_started, terminated, cancelled, going, held, charged, deleted, fresh)
    }
    # (other tests' podcasts in the shared database may be repaired in the same pass)
    own_kinds = sorted(
        line.split(" ", 1)[0] for line in result.repairs if line.split(" ")[1].rstrip(":") in mine
    )
    assert sorted(action.removeprefix("reconcile.") for action in logged) == own_kinds
    assert own_kinds.count("stranded") == 3 and "held_reservation" in own_kinds
    assert stats.repairs["stranded"] >= 3 and stats.repairs["deleted_audio"] >= 1


async def subscription(db: Database, owner: Any) -> Subscription:
    async with db.transaction() as session:
        found = await session.scalar(select(Subscription).where(Subscription.user_id == owner.id))
    assert found is not None
    return found


async def test_the_worker_keeps_the_reconcile_schedule(
    settings: Settings, temporal_client: Client
) -> None:
    every_minute = settings.model_copy(update={"reconcile_interval_seconds": 60})
    await worker_module.keep_reconcile_schedule(temporal_client, every_minute)
    await worker_module.keep_reconcile_schedule(temporal_client, every_minute)  # idempotent
    described = await temporal_client.get_schedule_handle(RECONCILE_SCHEDULE_ID).describe()
    action = described.schedule.action
    assert getattr(action, "workflow", None) == RECONCILE_WORKFLOW_TYPE
    intervals = described.schedule.spec.intervals
    assert intervals == [ScheduleIntervalSpec(every=timedelta(seconds=60))]

    off = settings.model_copy(update={"reconcile_interval_seconds": 0})
    await worker_module.keep_reconcile_schedule(temporal_client, off)
    # Asked of the schedule itself: the list comes from visibility, which may lag a delete.
    with pytest.raises(RPCError) as gone:
        await temporal_client.get_schedule_handle(RECONCILE_SCHEDULE_ID).describe()
    assert gone.value.status is RPCStatusCode.NOT_FOUND
