"""Temporal and Postgres stopped and started again mid fan-out: the podcast completes."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowHandle

from podnex.db import Database
from podnex.models import PodcastStatus
from podnex.settings import Settings
from tests.conftest import ApiUser
from tests.durability.checks import (
    SHORT_SCRIPT_LINES,
    activity_attempts,
    assert_completed_once,
    calls_per_line,
    events_of,
    eventually,
    start_podcast,
    until,
    wait_for_status,
)
from tests.durability.processes import Harness, RestartablePostgres, RestartableTemporal

FINISHED = {PodcastStatus.COMPLETED, PodcastStatus.FAILED, PodcastStatus.CANCELLED}
ALL_LINES = set(range(SHORT_SCRIPT_LINES))


def just_started(events: Path, done: int) -> bool:
    """At least ``done`` lines finished and a speech call began in the last half second."""
    if len(events_of(events, "done")) < done:
        return False
    return any(item["time"] > time.time() - 0.5 for item in events_of(events, "call"))


async def test_temporal_restart_mid_fan_out(
    durable_db: Database,
    client: Client,
    durable_temporal: RestartableTemporal,
    harness: Harness,
    settings_for_test: Settings,
    owner: ApiUser,
) -> None:
    """The dev server stopped mid fan-out and started again on its state file.

    Lines finish while the server is down (their results cannot be reported). Once it is
    back, the same worker process reconnects by itself, the run resumes from the state
    file and completes; no line is synthesised twice (unreported lines are cache hits).
    """
    worker = harness.start_worker("A", delay=2.0)
    podcast, _ = await start_podcast(
        durable_db, client, owner, settings_for_test.temporal_task_queue
    )
    events = harness.events_path
    await until(lambda: just_started(events, 4), 30, "four lines done and more just started")
    stopped_at = time.time()
    durable_temporal.stop()
    await until(
        lambda: any(item["time"] > stopped_at for item in events_of(events, "done")),
        10,
        "a line to finish after the server was stopped",
    )
    durable_temporal.start()

    await wait_for_status(durable_db, podcast, FINISHED, within=90)
    await assert_completed_once(durable_db, podcast, harness.storage_dir)
    assert worker.running, "the worker outlived the outage without a restart"
    assert calls_per_line(events) == Counter(dict.fromkeys(ALL_LINES, 1))
    hits = len(events_of(events, "hit"))
    print(f"Temporal restart: {hits} lines finished during the outage came from the cache")


async def failing_database_step(handle: WorkflowHandle[Any, Any]) -> tuple[str, str] | None:
    """The activity writing the podcast's row that is being retried, and its last failure,
    if any (the state is mirrored by the step it comes with: the upload's, the usage's)."""
    description = await handle.describe()
    for pending in description.raw_description.pending_activities:
        if pending.attempt >= 2 and pending.last_failure.message.startswith("database"):
            return pending.activity_type.name, pending.last_failure.message
    return None


async def test_postgres_restart_mid_fan_out(
    durable_db: Database,
    client: Client,
    durable_postgres: RestartablePostgres,
    harness: Harness,
    settings_for_test: Settings,
    owner: ApiUser,
) -> None:
    """Postgres stopped mid fan-out: the step that mirrors the state next fails and retries,
    shown in the Web UI as a pending activity with a readable reason; once it is back
    the podcast completes with nothing lost (every line, the MP3, the transcript) and
    nothing duplicated (one usage record, one reservation, each line synthesised once)."""
    harness.start_worker("A", delay=0.5)
    podcast, handle = await start_podcast(
        durable_db, client, owner, settings_for_test.temporal_task_queue
    )
    events = harness.events_path
    await until(lambda: len(events_of(events, "done")) >= 2, 30, "two lines synthesised")
    durable_postgres.stop()
    stopped = time.monotonic()
    try:
        step, failure = await eventually(
            lambda: failing_database_step(handle), 30, "a step writing the row to fail and retry"
        )
    finally:
        durable_postgres.start()
    print(f"Postgres down {time.monotonic() - stopped:.1f}s; {step} failed: {failure}")
    assert failure.startswith("database unavailable: "), "a short, readable reason in the UI"

    await wait_for_status(durable_db, podcast, FINISHED, within=60)
    await assert_completed_once(durable_db, podcast, harness.storage_dir)
    assert calls_per_line(events) == Counter(dict.fromkeys(ALL_LINES, 1))
    assert max(await activity_attempts(handle, step)) >= 2
