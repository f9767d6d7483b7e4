"""Real runs of each outcome, replayed at once; with PODNEX_RECORD_HISTORIES=1 also saved.

The saved histories (tests/histories/*.json) are replayed by tests/unit/test_replay.py on
every test run, so a change to PodcastWorkflow that would break runs in flight fails the
build. Re-record after an intentional, versioned change (see README, "Changing the
workflow"): `PODNEX_RECORD_HISTORIES=1 .venv/bin/pytest tests/integration/test_record_histories.py`.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client, WorkflowHandle
from temporalio.worker import Replayer

from api.temporal_client import run_input_for, start_podcast_run
from podnex.db import Database
from podnex.models import Podcast
from podnex.podcasts import script_of
from podnex.script.types import ScriptLine
from podnex.settings import Settings
from podnex.temporal import DATA_CONVERTER
from tests.conftest import ApiUser
from tests.integration.podcasts import stored_podcast
from tests.integration.workers import ScriptedEngine, worker_with
from workflows.podcast import PodcastWorkflow

HISTORIES = Path(__file__).resolve().parent.parent / "histories"


async def run_outcome(
    settings: Settings, db: Database, client: Client, user: ApiUser, outcome: str
) -> WorkflowHandle[Any, Any]:
    engine = ScriptedEngine(
        fail_after=3 if outcome == "failed" else None,
        delay=0.3 if outcome.startswith("cancelled") else 0.0,
    )
    podcast = await stored_podcast(db, user, f"History: {outcome}")
    async with worker_with(settings, client, engine) as queue:
        _, handle = await start_podcast_run(
            client, queue, run_input_for(podcast, speech_concurrency=2), summary=outcome
        )
        if outcome.startswith("cancelled"):
            while engine.calls < 2:
                await asyncio.sleep(0.05)
            if outcome == "cancelled-by-signal":
                await handle.signal("cancel")
            else:
                await handle.cancel()
        try:
            await handle.result()
        except Exception:
            if outcome == "completed":
                raise
    return handle


@pytest.mark.parametrize(
    "outcome", ["completed", "failed", "cancelled-by-signal", "cancelled-by-request"]
)
async def test_outcome_history_replays(
    settings: Settings, db: Database, temporal_client: Client, user: ApiUser, outcome: str
) -> None:
    handle = await run_outcome(settings, db, temporal_client, user, outcome)
    history = await handle.fetch_history()
    replayer = Replayer(workflows=[PodcastWorkflow], data_converter=DATA_CONVERTER)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure
    if os.environ.get("PODNEX_RECORD_HISTORIES") == "1":
        HISTORIES.mkdir(exist_ok=True)
        (HISTORIES / f"{outcome}.json").write_text(history.to_json())


@pytest.mark.parametrize("outcome", ["rerender-completed", "rerender-cancelled-by-signal"])
async def test_rerender_history_replays(
    settings: Settings, db: Database, temporal_client: Client, user: ApiUser, outcome: str
) -> None:
    """A re-render of a completed podcast (one line edited; or many, cancelled mid-way)."""
    engine = ScriptedEngine()
    podcast = await stored_podcast(db, user, f"History: {outcome}")
    async with worker_with(settings, temporal_client, engine) as queue:
        _, first = await start_podcast_run(
            temporal_client, queue, run_input_for(podcast, speech_concurrency=2), summary="v1"
        )
        await first.result()
        async with db.transaction() as session:
            row = await session.get(Podcast, podcast.id)
        assert row is not None
        lines = script_of(row)
        if outcome == "rerender-completed":
            edited = [*lines[:-1], ScriptLine(speaker="host", text="An edited last line.")]
        else:
            edited = [
                ScriptLine(speaker=line.speaker, text=f"{line.text} Again.") for line in lines
            ]
            engine.delay = 0.3
        calls = engine.calls
        _, handle = await start_podcast_run(
            temporal_client,
            queue,
            run_input_for(row, speech_concurrency=2, script=edited),
            summary=outcome,
        )
        if outcome != "rerender-completed":
            while engine.calls < calls + 2:
                await asyncio.sleep(0.05)
            await handle.signal("cancel")
        await handle.result()
    history = await handle.fetch_history()
    replayer = Replayer(workflows=[PodcastWorkflow], data_converter=DATA_CONVERTER)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure
    if os.environ.get("PODNEX_RECORD_HISTORIES") == "1":
        HISTORIES.mkdir(exist_ok=True)
        (HISTORIES / f"{outcome}.json").write_text(history.to_json())
