"""A re-render asked for while the podcast's previous run is still closing.

The podcast reads COMPLETED from the usage's transaction, a workflow task before its run
closes; a client that edits the script at once must not be told the run "is still going".
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.client import Client

import api.temporal_client as temporal_client_module
from api.temporal_client import PodcastRuns, RunAlreadyStarted, run_input_for, start_podcast_run
from podnex.db import Database
from podnex.podcasts import script_of
from podnex.script.types import ScriptLine
from podnex.settings import Settings
from tests.conftest import ApiUser
from tests.integration.podcasts import stored_podcast
from tests.integration.test_rerender import row_of
from tests.integration.workers import ScriptedEngine, worker_with
from workflows.types import PodcastResult, workflow_id_for


async def test_a_rerender_waits_for_the_run_before_it_to_close(
    settings: Settings,
    db: Database,
    temporal_client: Client,
    user: ApiUser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with worker_with(settings, temporal_client, ScriptedEngine()) as queue:
        podcast = await stored_podcast(db, user, "Closing")
        admission, handle = await start_podcast_run(
            temporal_client, queue, run_input_for(podcast, speech_concurrency=4), summary="v1"
        )
        assert admission is not None and admission.admitted
        await handle.result()
        podcast = await row_of(db, podcast)
        edited = [
            ScriptLine(speaker=line.speaker, text=f"{line.text} Again.") if index == 0 else line
            for index, line in enumerate(script_of(podcast))
        ]
        runs = PodcastRuns(settings.model_copy(update={"temporal_task_queue": queue}))
        # A re-render in flight stands in for a run that has not closed yet.
        going = await runs.start(podcast, script=edited)
        assert going is not None and going.admitted

        monkeypatch.setattr(temporal_client_module, "CLOSING_WAIT", timedelta(milliseconds=1))
        with pytest.raises(RunAlreadyStarted):
            await runs.start(podcast, script=edited)  # it does not close that soon

        monkeypatch.setattr(temporal_client_module, "CLOSING_WAIT", timedelta(seconds=60))
        after = await runs.start(podcast, script=edited)  # waits for it, then starts
        assert after is not None and after.admitted
        latest = temporal_client.get_workflow_handle(
            workflow_id_for(str(podcast.id)), result_type=PodcastResult
        )
        result = await latest.result()
        assert result.status == "COMPLETED", result
