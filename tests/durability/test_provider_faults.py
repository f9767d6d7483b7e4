"""Speech provider faults in a real worker process: retryable ones heal, a permanent one fails."""

from __future__ import annotations

import time
from collections import Counter

import pytest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError

from podnex.db import Database
from podnex.models import PodcastStatus
from podnex.settings import Settings
from tests.conftest import ApiUser
from tests.durability.checks import (
    SHORT_SCRIPT_LINES,
    assert_completed_once,
    assert_given_back,
    events_of,
    line_of_key,
    speech_batches,
    start_podcast,
    wait_for_status,
)
from tests.durability.processes import Harness
from tests.durability.worker_process import PERMANENT_ERROR

FINISHED = {PodcastStatus.COMPLETED, PodcastStatus.FAILED, PodcastStatus.CANCELLED}
FAULT_SEED = 5
"""With this seed 6 of the 29 speech calls of the sample script (23 lines, read aloud as
`podnex.speakable` spells them) fail (21%), none twice."""
QUICK_LINES = 4


async def test_speech_failing_30_percent_retryably_completes(
    durable_db: Database,
    client: Client,
    harness: Harness,
    settings_for_test: Settings,
    owner: ApiUser,
) -> None:
    """30% of speech calls fail with a retryable error: Temporal retries them, it completes.

    Every failed attempt is retried (each line reaches the engine once more than it
    failed), those lines finish on their second attempt in the history, and the podcast is
    charged once.
    """
    harness.start_worker("A", fault_rate=0.3, fault_seed=FAULT_SEED)
    podcast, handle = await start_podcast(
        durable_db, client, owner, settings_for_test.temporal_task_queue
    )
    await wait_for_status(durable_db, podcast, FINISHED, within=60)
    await assert_completed_once(durable_db, podcast, harness.storage_dir)

    events = harness.events_path
    calls = Counter(item["key"] for item in events_of(events, "call"))
    faults = Counter(item["key"] for item in events_of(events, "fault"))
    assert len(calls) == SHORT_SCRIPT_LINES
    assert 0.15 <= faults.total() / calls.total() <= 0.45, (faults.total(), calls.total())
    assert all(calls[key] == faults[key] + 1 for key in calls), "each fault retried once"
    # A batch whose lines all spoke finished on its first attempt; one with a failed line
    # on its second, which spoke only that line (the others were stored: their results say
    # cached). A retried activity's history keeps only its last attempt's start.
    lines = line_of_key(events)
    failed = {lines[key] for key in faults}
    batches = await speech_batches(handle)
    assert sorted(line for batch in batches for line in batch.lines) == list(
        range(SHORT_SCRIPT_LINES)
    )
    for batch in batches:
        assert batch.attempt == (2 if failed & set(batch.lines) else 1), (batch, failed)


async def test_permanent_speech_error_fails_cleanly_within_the_retry_budget(
    durable_db: Database,
    client: Client,
    harness: Harness,
    settings_for_test: Settings,
    owner: ApiUser,
) -> None:
    """A permanent (non-retryable) speech error: FAILED at once, nothing left behind.

    Four lines are stored first; the fifth call is refused. The refusal is not retried,
    the podcast is FAILED with the provider's message within seconds, the reservation is
    returned and the four stored segments are deleted.
    """
    harness.start_worker("A", fail_after=QUICK_LINES)
    started = time.monotonic()
    podcast, handle = await start_podcast(
        durable_db, client, owner, settings_for_test.temporal_task_queue
    )
    row = await wait_for_status(durable_db, podcast, FINISHED, within=30)
    elapsed = time.monotonic() - started
    assert row.status is PodcastStatus.FAILED
    assert row.error == PERMANENT_ERROR
    assert elapsed < 15, f"failed after {elapsed:.1f}s: a permanent error is not retried"
    with pytest.raises(WorkflowFailureError):
        await handle.result()
    assert (await handle.describe()).status is WorkflowExecutionStatus.FAILED

    events = harness.events_path
    assert len(events_of(events, "stored")) == QUICK_LINES, "partial audio existed"
    refused = Counter(item["key"] for item in events_of(events, "refused"))
    assert refused and set(refused.values()) == {1}, "a refused line is never retried"
    await assert_given_back(durable_db, podcast, harness.storage_dir)
