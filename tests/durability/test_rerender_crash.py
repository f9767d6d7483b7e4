"""A worker killed (SIGKILL) mid re-render: another finishes it, no line synthesised twice."""

from __future__ import annotations

import asyncio
from collections import Counter

from temporalio.client import Client

from api.temporal_client import run_input_for, start_podcast_run
from podnex.db import Database
from podnex.models import PodcastStatus
from podnex.podcasts import script_of
from podnex.script.types import ScriptLine
from podnex.settings import Settings
from podnex.storage.keys import audio_key
from tests.conftest import ApiUser
from tests.durability.checks import (
    SHORT_SCRIPT_LINES,
    account_of,
    podcast_row,
    read_events,
    speech_results,
    start_podcast,
    until,
    wait_for_status,
)
from tests.durability.conftest import SPEECH_CONCURRENCY
from tests.durability.processes import Harness

FINISHED = {PodcastStatus.COMPLETED, PodcastStatus.FAILED, PodcastStatus.CANCELLED}
EDITED = 12
"""Lines 0-11 are edited; lines 12-22 come from the stored segments."""


async def test_sigkilled_worker_mid_rerender_resumes_without_synthesising_again(
    durable_db: Database,
    client: Client,
    harness: Harness,
    settings_for_test: Settings,
    owner: ApiUser,
) -> None:
    """Version 1 made, then a re-render of twelve edited lines. Worker A's batches store
    edited lines 0-3 (their checkpoints), then lines 4-7, and hang; it is killed there.
    Worker B finishes: lines 4-7 are cache hits, lines 8-11 are synthesised once, and no
    edited line reaches the engine twice; version 2 is published, usage settled once."""
    maker = harness.start_worker("maker")
    podcast, first_run = await start_podcast(
        durable_db, client, owner, settings_for_test.temporal_task_queue
    )
    await wait_for_status(durable_db, podcast, FINISHED, within=60)
    # The row reads COMPLETED from the publish's transaction, a workflow task before the
    # run closes: the maker closes it before it stops, or the re-render finds it open.
    await asyncio.wait_for(first_run.result(), 60)
    maker.stop()
    first = await podcast_row(durable_db, podcast)
    assert first.status is PodcastStatus.COMPLETED and first.version == 1
    lines = script_of(first)
    assert len(lines) == SHORT_SCRIPT_LINES
    edited = [
        ScriptLine(speaker=line.speaker, text=f"{line.text} Edited.") if index < EDITED else line
        for index, line in enumerate(lines)
    ]
    seen_before = len(read_events(harness.events_path))

    stall_from = 4
    worker_a = harness.start_worker("A", stall_from_line=stall_from)
    admission, handle = await start_podcast_run(
        client,
        settings_for_test.temporal_task_queue,
        run_input_for(first, speech_concurrency=SPEECH_CONCURRENCY, script=edited),
        summary="re-render under a crash",
    )
    assert admission is not None and admission.admitted

    def rerender_events(event: str, worker: str | None = None) -> list[dict[str, object]]:
        return [
            item
            for item in read_events(harness.events_path)[seen_before:]
            if item["event"] == event and (worker is None or item["worker"] == worker)
        ]

    await until(
        lambda: len(rerender_events("stalled", "A")) == SPEECH_CONCURRENCY,
        30,
        "worker A to store and hang on four edited lines",
    )
    worker_a.kill()
    stored_by_a = {item["key"] for item in rerender_events("stored", "A")}
    assert {item["line"] for item in rerender_events("stored", "A")} == set(
        range(stall_from + SPEECH_CONCURRENCY)
    )

    harness.start_worker("B")
    await wait_for_status(durable_db, podcast, FINISHED, within=60)
    row = await podcast_row(durable_db, podcast)
    assert row.status is PodcastStatus.COMPLETED and row.version == 2, (row.status, row.error)
    assert row.audio_key == audio_key(str(podcast.id), 2)
    assert row.transcript is not None
    assert [line["text"] for line in row.transcript] == [line.text for line in edited]

    calls = Counter(str(item["key"]) for item in rerender_events("call"))
    assert len(calls) == EDITED, "only the edited lines reach the engine"
    assert set(calls.values()) == {1}, f"a line synthesised twice: {calls}"
    assert not stored_by_a & {str(item["key"]) for item in rerender_events("call", "B")}
    results = await speech_results(handle)
    assert all(len(flags) == 1 for flags in results.values())
    cached = {line for line, flags in results.items() if flags[0]}
    # Lines 4-7 were stored after the batches' checkpoints, lines 12-22 are unchanged: both
    # come from the cache. Lines 0-3 were stored before the checkpoints, which reach the
    # server at most a heartbeat interval late: skipped as spoken, or found in the cache.
    after_checkpoint = set(range(stall_from, stall_from + SPEECH_CONCURRENCY))
    expected = after_checkpoint | set(range(EDITED, SHORT_SCRIPT_LINES))
    assert expected <= cached <= expected | set(range(stall_from)), cached

    account = await account_of(durable_db, podcast)
    assert account.usage_amounts == [row.audio_duration], "usage settled exactly once"
    assert account.seconds_used == row.audio_duration and account.podcast_count == 1
