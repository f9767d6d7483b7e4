"""Recorded histories of real runs still replay on today's PodcastWorkflow.

A change that alters the commands a run issues, for runs already in flight, makes this
fail: guard such changes with `workflow.patched` (README, "Changing the workflow").
`flat-spec-*.json` were recorded before the podcast's spec was nested in the workflow input:
they prove that runs started with the old payload shape still decode and replay.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from podnex.temporal import DATA_CONVERTER
from workflows.podcast import PodcastWorkflow

HISTORIES = sorted((Path(__file__).resolve().parent.parent / "histories").glob("*.json"))


def test_histories_are_recorded() -> None:
    names = {path.stem for path in HISTORIES}
    assert names >= {"completed", "failed", "cancelled-by-signal", "cancelled-by-request"}
    assert names >= {"rerender-completed", "rerender-cancelled-by-signal"}


@pytest.mark.parametrize("path", HISTORIES, ids=lambda path: path.stem)
async def test_recorded_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(f"recorded-{path.stem}", json.loads(path.read_text()))
    replayer = Replayer(workflows=[PodcastWorkflow], data_converter=DATA_CONVERTER)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure
