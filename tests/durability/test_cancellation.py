"""Cancelling a run with in-flight speech, by signal and by Temporal's own cancel request."""

from __future__ import annotations

import time
from typing import Any

import pytest
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
)

from podnex.db import Database
from podnex.models import Podcast, PodcastStatus
from podnex.settings import Settings
from tests.conftest import ApiUser
from tests.durability.checks import (
    assert_given_back,
    events_of,
    start_podcast,
    until,
    wait_for_status,
)
from tests.durability.processes import Harness, RestartableTemporal
from workflows.types import PodcastResult

CANCEL_WITHIN_SECONDS = 5.0
SLOW_LINE_SECONDS = 30.0
"""Each line takes this long, so only a delivered cancellation ends it in time..."""
QUICK_LINES = 4
"""...but the first four, which are stored before the cancel (partial audio)."""


async def cancel_run(
    how: str, handle: WorkflowHandle[Any, Any], temporal: RestartableTemporal
) -> None:
    """Send the `cancel` signal (what programs do) or `temporal workflow cancel` (the CLI)."""
    if how == "signal":
        await handle.signal("cancel")
        return
    done = temporal.cli("workflow", "cancel", "--workflow-id", handle.id)
    assert done.returncode == 0, done.stderr


async def assert_closed_as(how: str, client: Client, handle: WorkflowHandle[Any, Any]) -> None:
    """A signal-cancelled run completes with CANCELLED; a Temporal cancel closes Canceled."""
    if how == "signal":
        typed = client.get_workflow_handle(handle.id, result_type=PodcastResult)
        assert (await typed.result()).status == "CANCELLED"
        assert (await handle.describe()).status is WorkflowExecutionStatus.COMPLETED
    else:
        with pytest.raises(WorkflowFailureError):
            await handle.result()
        assert (await handle.describe()).status is WorkflowExecutionStatus.CANCELED


def assert_speech_stopped(events_path: Any, cancelled: Podcast) -> None:
    """Every speech call ended (cancelled, not finished) before the podcast was CANCELLED."""
    assert cancelled.completed_at is not None
    closed_at = cancelled.completed_at.timestamp()
    calls = {item["key"]: item for item in events_of(events_path, "call")}
    ended = {
        item["key"]: item for kind in ("done", "cancelled") for item in events_of(events_path, kind)
    }
    assert set(calls) == set(ended), "no speech call still running"
    stopped = events_of(events_path, "cancelled")
    assert stopped, "in-flight speech activities were cancelled"
    quick = events_of(events_path, "done")
    assert len(quick) == QUICK_LINES, "only the quick lines finished"
    assert len(events_of(events_path, "stored")) == QUICK_LINES, "partial audio existed"
    assert all(item["time"] <= closed_at for item in stopped), "cancelled before clean-up"


@pytest.mark.parametrize("how", ["signal", "temporal-cancel"])
async def test_cancel_stops_speech_and_gives_everything_back(
    durable_db: Database,
    client: Client,
    durable_temporal: RestartableTemporal,
    harness: Harness,
    settings_for_test: Settings,
    owner: ApiUser,
    how: str,
) -> None:
    """Cancelled mid fan-out: CANCELLED in Postgres within 5 s, nothing left behind.

    Lines take 30 s each, so they end only when the cancellation reaches them through
    their heartbeats; the run waits for them, deletes the stored segments (the first four
    lines are quick and stored before the cancel), gives the reservation back and closes
    as the contract says.
    """
    harness.start_worker("A", delay=SLOW_LINE_SECONDS, delay_after=QUICK_LINES)
    podcast, handle = await start_podcast(
        durable_db, client, owner, settings_for_test.temporal_task_queue
    )
    events = harness.events_path
    await until(
        lambda: len(events_of(events, "call")) >= 2 * QUICK_LINES,
        30,
        "four lines stored and four more in flight",
    )

    started = time.monotonic()
    await cancel_run(how, handle, durable_temporal)
    row = await wait_for_status(durable_db, podcast, {PodcastStatus.CANCELLED}, within=30)
    elapsed = time.monotonic() - started
    print(f"{how}: CANCELLED in Postgres {elapsed:.2f}s after the request")
    assert elapsed <= CANCEL_WITHIN_SECONDS, f"{elapsed:.2f}s"

    await assert_closed_as(how, client, handle)
    assert_speech_stopped(events, row)
    await assert_given_back(durable_db, podcast, harness.storage_dir)
