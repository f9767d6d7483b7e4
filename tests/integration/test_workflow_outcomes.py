"""Runs that do not complete leave nothing behind: no charge, no reservation, no audio."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError

from api.temporal_client import run_input_for, start_podcast_run
from podnex.db import Database
from podnex.models import Podcast, PodcastStatus, Subscription
from podnex.plans import Plan
from podnex.settings import Settings
from tests.conftest import ApiUser, LiveApi, make_user
from tests.integration.notes import NOTES
from tests.integration.podcasts import billing_of, stored_podcast
from tests.integration.workers import ScriptedEngine, worker_with
from workflows.types import PodcastResult


async def assert_left_nothing(db: Database, settings: Settings, podcast: Podcast) -> Podcast:
    row, usage, subscription = await billing_of(db, podcast)
    assert not row.quota_reserved
    assert subscription.current_podcast_count == 0
    assert subscription.current_seconds_used == 0
    assert usage == []
    assert row.audio_key is None
    storage: Path = settings.resolved_storage_dir
    leftovers = [p for p in storage.rglob("*") if str(podcast.id) in str(p) and p.is_file()]
    assert leftovers == []
    return row


async def test_permanent_speech_failure_fails_cleanly(
    settings: Settings, db: Database, temporal_client: Client, user: ApiUser
) -> None:
    podcast = await stored_podcast(db, user, "Outcome test")
    async with worker_with(settings, temporal_client, ScriptedEngine(fail_after=3)) as queue:
        admission, handle = await start_podcast_run(
            temporal_client,
            queue,
            run_input_for(podcast, speech_concurrency=2),
            summary="failure test",
        )
        assert admission is not None and admission.admitted
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
    assert "voice model rejected the text" in str(failure.value.cause)
    row = await assert_left_nothing(db, settings, podcast)
    assert row.status is PodcastStatus.FAILED
    assert row.error == "voice model rejected the text"


@pytest.mark.parametrize("how", ["signal", "temporal-cancel"])
async def test_cancelled_run_cleans_up(
    settings: Settings, db: Database, temporal_client: Client, user: ApiUser, how: str
) -> None:
    podcast = await stored_podcast(db, user, "Outcome test")
    engine = ScriptedEngine(delay=0.5)
    async with worker_with(settings, temporal_client, engine) as queue:
        admission, handle = await start_podcast_run(
            temporal_client, queue, run_input_for(podcast, speech_concurrency=2), summary="cancel"
        )
        assert admission is not None and admission.admitted
        while engine.calls < 2:
            await asyncio.sleep(0.05)
        if how == "signal":
            await handle.signal("cancel")
            typed = temporal_client.get_workflow_handle(handle.id, result_type=PodcastResult)
            result = await typed.result()
            assert result.status == "CANCELLED"
            assert (await handle.describe()).status is WorkflowExecutionStatus.COMPLETED
        else:
            await handle.cancel()
            with pytest.raises(WorkflowFailureError):
                await handle.result()
            assert (await handle.describe()).status is WorkflowExecutionStatus.CANCELED
    row = await assert_left_nothing(db, settings, podcast)
    assert row.status is PodcastStatus.CANCELLED
    assert engine.calls < 12, "speech stopped once cancelled"


async def test_refused_when_plan_is_used_up(api: LiveApi, db: Database, worker: object) -> None:
    owner = await make_user(db, Plan.FREE)
    async with db.transaction() as session:
        await session.execute(
            update(Subscription)
            .where(Subscription.user_id == owner.id)
            .values(current_podcast_count=5, current_seconds_used=600)
        )
    headers = {**owner.headers, "Idempotency-Key": "refused-once"}
    for _ in range(2):  # a refused request is refused again, never replayed as a success
        response = await api.client.post(
            "/api/v1/podcasts", headers=headers, json={"noteContent": NOTES}
        )
        assert response.status_code == 403, response.text
    assert response.json() == {
        "success": False,
        "error": "Subscription limit reached",
        "code": "SUBSCRIPTION_LIMIT_REACHED",
        "details": {
            "reason": "Monthly podcast limit reached (5)",
            "current": {"podcasts": 5, "minutes": 10.0},
            "limits": {"podcasts": 5, "minutes": 25},
        },
    }
    async with db.transaction() as session:
        subscription = await session.scalar(
            select(Subscription).where(Subscription.user_id == owner.id)
        )
        rows = (await session.scalars(select(Podcast).where(Podcast.user_id == owner.id))).all()
    assert subscription is not None and subscription.current_podcast_count == 5
    assert rows == []  # a refused create leaves no podcast behind
    listed = await api.client.get("/api/v1/podcasts", headers=owner.headers)
    assert listed.json()["data"] == []


async def test_admission_not_answered_in_time_leaves_the_run_pending(
    db: Database, temporal_client: Client, user: ApiUser
) -> None:
    podcast = await stored_podcast(db, user, "Outcome test")
    nobody_polls = f"idle-{uuid.uuid4().hex[:8]}"
    admission, handle = await start_podcast_run(
        temporal_client,
        nobody_polls,
        run_input_for(podcast, speech_concurrency=2),
        summary="no worker",
        admission_timeout=timedelta(seconds=2),
    )
    assert admission is None
    assert (await handle.describe()).status is WorkflowExecutionStatus.RUNNING
    await handle.terminate("test over")
