"""A cancellation at every step of a run leaves the podcast clean, however it arrives.

A worker interceptor holds one chosen activity after it has done its work (the worst case:
the step finishes while the cancel is on its way); the test cancels the run there, with
the `cancel` signal, with Temporal's own cancel, or both at once, then lets the step go.
Before the point of no return (upload) the podcast ends CANCELLED with nothing charged,
reserved or stored; from there it completes and is charged once.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from typing import Any

import pytest
from temporalio import activity
from temporalio.client import Client, WorkflowFailureError
from temporalio.worker import ExecuteActivityInput

from api.temporal_client import run_input_for, start_podcast_run
from podnex.db import Database
from podnex.models import PodcastStatus
from podnex.settings import Settings
from tests.conftest import ApiUser
from tests.integration.podcasts import billing_of, stored_podcast
from tests.integration.test_workflow_outcomes import assert_left_nothing
from tests.integration.workers import AfterEachActivity, ScriptedEngine, worker_with
from workflows.types import ProgressBands

pytestmark = pytest.mark.timeout(90)


class Gate(AfterEachActivity):
    """Holds the first run of ``activity_type`` once its work is done, until released.

    While held it heartbeats (so Temporal's cancel reaches it) and then finishes anyway,
    as a step that completes just as the cancel arrives would.
    """

    def __init__(self, activity_type: str, *, status: str | None = None) -> None:
        self.activity_type = activity_type
        self.status = status
        self.reached = asyncio.Event()
        self.released = asyncio.Event()
        self.used = False

    async def after(self, input: ExecuteActivityInput, result: Any) -> Any:
        wanted = activity.info().activity_type == self.activity_type and not self.used
        if wanted and self.status is not None:
            wanted = getattr(input.args[0], "status", None) == self.status
        if not wanted:
            return result
        self.used = True
        self.reached.set()
        released = asyncio.ensure_future(self.released.wait())
        while not self.released.is_set():
            activity.heartbeat()
            # Cancelled meanwhile: this step finishes all the same. (asyncio.wait, unlike
            # wait_for, leaves no timed-out task whose exception nobody retrieves.)
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(asyncio.wait([released], timeout=0.2))
        await released
        return result


STEPS = [
    ("check_limits", None, False),  # a local activity, in the run's first workflow task
    # A first run has no status mirror of its own any more (FOLDED_MIRRORS_PATCH): the
    # speech's start is mirrored in write_script, the upload's and the end in
    # publish_podcast.
    ("write_script", None, False),
    ("synthesize_lines", None, False),
    ("combine_audio", None, False),
    ("publish_podcast", None, True),  # past the point of no return: completes
]


@pytest.mark.parametrize("how", ["signal", "temporal", "both"])
@pytest.mark.parametrize(("step", "status", "completes"), STEPS, ids=[step for step, _, _ in STEPS])
async def test_cancel_inside_every_step(
    settings: Settings,
    db: Database,
    temporal_client: Client,
    user: ApiUser,
    step: str,
    status: str | None,
    completes: bool,
    how: str,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    gate = Gate(step, status=status)
    podcast = await stored_podcast(db, user, f"Cancel in {step}")
    async with worker_with(settings, temporal_client, ScriptedEngine(), [gate]) as queue:
        start = asyncio.create_task(
            start_podcast_run(
                temporal_client, queue, run_input_for(podcast, speech_concurrency=2), summary=step
            )
        )
        await asyncio.wait_for(gate.reached.wait(), 60)
        handle = temporal_client.get_workflow_handle(f"podcast-{podcast.id}")
        if how in ("signal", "both"):
            await handle.signal("cancel")
        if how in ("temporal", "both"):
            await handle.cancel()
        await asyncio.sleep(0.3)
        gate.released.set()
        await asyncio.gather(start, return_exceptions=True)
        with contextlib.suppress(WorkflowFailureError):  # a Temporal cancel fails result()
            await asyncio.wait_for(handle.result(), 60)
    gc.collect()  # an unretrieved task exception is reported when the task is collected
    unretrieved = [r for r in caplog.records if "never retrieved" in r.getMessage()]
    assert unretrieved == [], [r.getMessage() for r in unretrieved]
    assert "Logging error" not in capfd.readouterr().err
    if completes:
        row, charges, subscription = await billing_of(db, podcast)
        assert row.status is PodcastStatus.COMPLETED, (row.status, row.error)
        assert len(charges) == 1 and row.audio_key is not None
        assert subscription.current_podcast_count == 1
        assert subscription.current_seconds_used == pytest.approx(charges[0].amount)
    else:
        row = await assert_left_nothing(db, settings, podcast)
        assert row.status is PodcastStatus.CANCELLED, (row.status, row.error, row.current_step)
        if step in ("synthesize_lines", "combine_audio"):  # progress and lines agree
            assert row.lines_total > 0 and row.lines_done <= row.lines_total
            if step == "synthesize_lines":
                assert row.progress == ProgressBands.speech(row.lines_done, row.lines_total)
            else:
                assert row.lines_done == row.lines_total
