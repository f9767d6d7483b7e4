"""Every way a run ends is counted once, through Temporal's meter, replays included.

A real worker (`build_worker`) whose client's runtime buffers its metrics runs podcasts to
each end: completed, failed (speech refused, counted as a provider error too), cancelled,
refused by the plan. It keeps no run in memory (WORKER_MAX_CACHED_WORKFLOWS=0), so every
workflow task replays the run's history from the start, and a query after the end replays
it all once more: still one count per run.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import update
from temporalio.client import Client, WorkflowFailureError
from temporalio.runtime import MetricBuffer, Runtime, TelemetryConfig

import worker as worker_module
from api.temporal_client import run_input_for, start_podcast_run
from podnex import metrics
from podnex.db import Database
from podnex.models import Subscription
from podnex.plans import Plan
from podnex.settings import Settings
from podnex.temporal import connect
from tests.conftest import make_user
from tests.integration.podcasts import stored_podcast
from tests.integration.workers import ScriptedEngine
from workflows.types import PodcastResult


@dataclass
class Metered:
    client: Client
    buffer: MetricBuffer
    totals: Counter[tuple[str, str]]

    def collect(self) -> Counter[tuple[str, str]]:
        """Running totals of podnex's counters, keyed by (name, podnex's own label value)."""
        for update_ in self.buffer.retrieve_updates():
            name = update_.metric.name
            if name == metrics.PODCASTS_FINISHED:
                self.totals[(name, str(update_.attributes["outcome"]))] += int(update_.value)
            elif name == metrics.PROVIDER_ERRORS:
                key = f"{update_.attributes['step']}/{update_.attributes['kind']}"
                self.totals[(name, key)] += int(update_.value)
        return self.totals


@pytest.fixture(scope="module")
async def metered(settings: Settings) -> Metered:
    buffer = MetricBuffer(100_000)
    runtime = Runtime(telemetry=TelemetryConfig(metrics=buffer))
    return Metered(await connect(settings, runtime=runtime), buffer, Counter())


@pytest.fixture
async def uncached_worker(
    settings: Settings, metered: Metered, request: pytest.FixtureRequest
) -> AsyncIterator[str]:
    engine: ScriptedEngine = request.param
    queue = f"outcomes-metered-{uuid.uuid4().hex[:8]}"
    own = settings.model_copy(
        update={"temporal_task_queue": queue, "worker_max_cached_workflows": 0}
    )
    deps = worker_module.build_deps(own)
    deps.engines = {engine.name: engine}
    async with worker_module.build_worker(metered.client, own, deps):
        yield queue
    await deps.db.dispose()


async def replay_by_query(client: Client, workflow_id: str) -> None:
    """A query on an uncached run replays its whole history on the worker."""
    progress = await client.get_workflow_handle(workflow_id).query("progress")
    assert progress["status"] in {"COMPLETED", "FAILED", "CANCELLED"}, progress


@pytest.mark.parametrize("uncached_worker", [ScriptedEngine()], indirect=True)
async def test_a_completed_run_counts_once(
    uncached_worker: str, metered: Metered, db: Database
) -> None:
    before = metered.collect().copy()
    podcast = await stored_podcast(db, await make_user(db))
    admission, handle = await start_podcast_run(
        metered.client,
        uncached_worker,
        run_input_for(podcast, speech_concurrency=4),
        summary="metrics",
    )
    assert admission is not None and admission.admitted
    assert (await handle.result())["status"] == "COMPLETED"
    await replay_by_query(metered.client, handle.id)
    await replay_by_query(metered.client, handle.id)
    totals = metered.collect()
    assert (
        totals[(metrics.PODCASTS_FINISHED, "completed")]
        - before[(metrics.PODCASTS_FINISHED, "completed")]
        == 1
    ), totals


@pytest.mark.parametrize("uncached_worker", [ScriptedEngine(fail_after=0)], indirect=True)
async def test_a_failed_run_counts_once_with_its_provider_error(
    uncached_worker: str, metered: Metered, db: Database
) -> None:
    before = metered.collect().copy()
    podcast = await stored_podcast(db, await make_user(db))
    _, handle = await start_podcast_run(
        metered.client,
        uncached_worker,
        run_input_for(podcast, speech_concurrency=4),
        summary="metrics",
    )
    with pytest.raises(WorkflowFailureError):
        await handle.result()
    await replay_by_query(metered.client, handle.id)
    totals = metered.collect()
    assert (
        totals[(metrics.PODCASTS_FINISHED, "failed")]
        - before[(metrics.PODCASTS_FINISHED, "failed")]
        == 1
    ), totals
    assert (
        totals[(metrics.PROVIDER_ERRORS, "speech/refused")]
        > before[(metrics.PROVIDER_ERRORS, "speech/refused")]
    ), totals


@pytest.mark.parametrize("uncached_worker", [ScriptedEngine(delay=0.5)], indirect=True)
async def test_a_cancelled_run_counts_once(
    uncached_worker: str, metered: Metered, db: Database
) -> None:
    before = metered.collect().copy()
    podcast = await stored_podcast(db, await make_user(db))
    _, handle = await start_podcast_run(
        metered.client,
        uncached_worker,
        run_input_for(podcast, speech_concurrency=2),
        summary="metrics",
    )
    await asyncio.sleep(1.0)
    await handle.signal("cancel")
    typed = metered.client.get_workflow_handle(handle.id, result_type=PodcastResult)
    assert (await typed.result()).status == "CANCELLED"
    await replay_by_query(metered.client, handle.id)
    totals = metered.collect()
    assert (
        totals[(metrics.PODCASTS_FINISHED, "cancelled")]
        - before[(metrics.PODCASTS_FINISHED, "cancelled")]
        == 1
    ), totals


@pytest.mark.parametrize("uncached_worker", [ScriptedEngine()], indirect=True)
async def test_a_refused_run_counts_as_refused(
    uncached_worker: str, metered: Metered, db: Database
) -> None:
    before = metered.collect().copy()
    owner = await make_user(db, Plan.FREE)
    async with db.transaction() as session:
        await session.execute(
            update(Subscription)
            .where(Subscription.user_id == owner.id)
            .values(current_podcast_count=5)
        )
    podcast = await stored_podcast(db, owner)
    admission, handle = await start_podcast_run(
        metered.client,
        uncached_worker,
        run_input_for(podcast, speech_concurrency=4),
        summary="metrics",
    )
    assert admission is not None and not admission.admitted
    assert (await handle.result())["status"] == "FAILED"
    await replay_by_query(metered.client, handle.id)
    totals = metered.collect()
    assert (
        totals[(metrics.PODCASTS_FINISHED, "refused")]
        - before[(metrics.PODCASTS_FINISHED, "refused")]
        == 1
    ), totals
    assert (
        totals[(metrics.PODCASTS_FINISHED, "failed")]
        == before[(metrics.PODCASTS_FINISHED, "failed")]
    )
