"""A worker process killed (SIGKILL) or stopped (SIGTERM) mid fan-out: another finishes."""

from __future__ import annotations

import signal
import time
from collections import Counter

from temporalio.client import Client

from podnex.db import Database
from podnex.models import PodcastStatus
from podnex.providers import SPEECH_PROVIDERS
from podnex.settings import Settings
from tests.conftest import ApiUser
from tests.durability.checks import (
    SHORT_SCRIPT_LINES,
    assert_completed_once,
    calls_per_line,
    events_of,
    in_flight,
    line_of_key,
    speech_results,
    start_podcast,
    until,
    wait_for_status,
)
from tests.durability.conftest import SPEECH_CONCURRENCY
from tests.durability.processes import Harness

FINISHED = {PodcastStatus.COMPLETED, PodcastStatus.FAILED, PodcastStatus.CANCELLED}
ALL_LINES = set(range(SHORT_SCRIPT_LINES))


async def test_sigkilled_worker_resumes_without_synthesising_again(
    durable_db: Database,
    client: Client,
    harness: Harness,
    settings_for_test: Settings,
    owner: ApiUser,
) -> None:
    """SIGKILL mid fan-out, then a fresh worker: the podcast completes, charged once.

    Worker A's batches each store their first line (0-3, listed in the batch's heartbeat
    checkpoint once it is sent), then store their second (4-7) and hang, heartbeating,
    holding every speech slot. It is killed there. Worker B retries the batches: it skips
    the lines of the checkpoints (reported as spoken), finds the other stored lines in the
    speech cache (reported as cached), calls the engine only for the rest, and no line
    reaches the engine twice.
    """
    stall_from = 4
    first = harness.start_worker("A", stall_from_line=stall_from)
    podcast, handle = await start_podcast(
        durable_db, client, owner, settings_for_test.temporal_task_queue
    )
    events = harness.events_path
    await until(
        lambda: len(events_of(events, "stalled", "A")) == SPEECH_CONCURRENCY,
        30,
        "worker A to store and hang on four lines",
    )
    first.kill()
    stored_before_kill = {item["line"] for item in events_of(events, "stored", "A")}
    assert stored_before_kill == set(range(stall_from + SPEECH_CONCURRENCY))

    harness.start_worker("B")
    await wait_for_status(durable_db, podcast, FINISHED, within=60)
    await assert_completed_once(durable_db, podcast, harness.storage_dir)

    again = set(calls_per_line(events, "B")) & stored_before_kill
    assert again == set(), f"lines stored before the kill were synthesised again: {again}"
    assert calls_per_line(events) == Counter(dict.fromkeys(ALL_LINES, 1))
    results = await speech_results(handle)
    assert set(results) == ALL_LINES and all(len(flags) == 1 for flags in results.values())
    cached = {line for line, flags in results.items() if flags[0]}
    hits = {line_of_key(events)[item["key"]] for item in events_of(events, "hit", "B")}
    assert cached == hits, "a line reads as cached exactly when B found it in the cache"
    # Lines stored after the batches' checkpoints come from the cache; a checkpoint reaches
    # the server at most a heartbeat interval late, so lines stored just before the kill
    # may be missing from it and come from the cache too.
    after_checkpoint = set(range(stall_from, stall_from + SPEECH_CONCURRENCY))
    assert after_checkpoint <= hits <= stored_before_kill, hits


async def test_sigkilled_worker_mid_batch_loses_only_the_lines_it_was_speaking(
    durable_db: Database,
    client: Client,
    harness: Harness,
    settings_for_test: Settings,
    owner: ApiUser,
) -> None:
    """espeak-ng's way (`SpeechProvider`): the podcast's lines in one batch, spoken two at
    once. Worker A stores lines 0 and 1, then stores 2 and 3 and hangs on both (the
    checkpoint lists 0 and 1). SIGKILL; worker B resumes the batch within 10 s: 0 and 1
    from the checkpoint, 2 and 3 from the cache, and no line reaches the engine twice."""
    espeak = SPEECH_PROVIDERS["espeak"]
    first = harness.start_worker("A", stall_from_line=2, lines_at_once=2)
    podcast, handle = await start_podcast(
        durable_db,
        client,
        owner,
        settings_for_test.temporal_task_queue,
        speech_concurrency=espeak.activities_at_once,
        lines_per_activity=espeak.lines_per_activity,
        speech_rounds=espeak.speech_rounds,
    )
    events = harness.events_path
    await until(lambda: len(events_of(events, "stalled", "A")) == 2, 30, "A to hang on two lines")
    first.kill()
    killed_at = time.time()
    assert {item["line"] for item in events_of(events, "stored", "A")} == {0, 1, 2, 3}

    harness.start_worker("B", lines_at_once=2)
    await wait_for_status(durable_db, podcast, FINISHED, within=60)
    await assert_completed_once(durable_db, podcast, harness.storage_dir)
    resumed_in = min(item["time"] for item in events_of(events, "call", "B")) - killed_at
    assert resumed_in < 10, f"B spoke its first line {resumed_in:.1f}s after the kill"
    assert calls_per_line(events) == Counter(dict.fromkeys(ALL_LINES, 1))
    hits = {line_of_key(events)[item["key"]] for item in events_of(events, "hit", "B")}
    assert {2, 3} <= hits <= {0, 1, 2, 3}, hits
    results = await speech_results(handle)
    assert set(results) == ALL_LINES and all(len(flags) == 1 for flags in results.values())
    print(f"a killed worker's batch resumed {resumed_in:.1f}s after the kill")


async def test_sigterm_hands_the_run_to_a_second_worker(
    durable_db: Database,
    client: Client,
    harness: Harness,
    settings_for_test: Settings,
    owner: ApiUser,
) -> None:
    """SIGTERM mid fan-out: the worker finishes its lines and exits 0; a second completes.

    Nothing is lost: lines in flight at SIGTERM finish within the graceful shutdown
    period and are reported (never cancelled), so every line is synthesised exactly once
    across both workers and none is needed from the cache.
    """
    first = harness.start_worker("A", delay=1.0)
    podcast, handle = await start_podcast(
        durable_db, client, owner, settings_for_test.temporal_task_queue
    )
    events = harness.events_path

    await until(lambda: bool(in_flight(events, "A", 4)), 30, "worker A to be mid fan-out")
    stopping_with = in_flight(events, "A", 4)
    signalled_at = time.time()
    first.send(signal.SIGTERM)
    assert first.wait(30) == 0, first.tail()
    finished_by_a = {item["key"] for item in events_of(events, "done", "A")}
    assert stopping_with <= finished_by_a, "in-flight lines finish during the graceful shutdown"
    assert any(item["time"] > signalled_at for item in events_of(events, "done", "A"))
    assert events_of(events, "cancelled") == []

    harness.start_worker("B", delay=0.1)
    await wait_for_status(durable_db, podcast, FINISHED, within=60)
    await assert_completed_once(durable_db, podcast, harness.storage_dir)
    assert calls_per_line(events) == Counter(dict.fromkeys(ALL_LINES, 1))
    assert calls_per_line(events, "B"), "the second worker did part of the work"
    results = await speech_results(handle)
    assert results == {line: [False] for line in ALL_LINES}


async def test_sigterm_past_the_grace_period_hands_lines_back(
    durable_db: Database,
    client: Client,
    harness: Harness,
    settings_for_test: Settings,
    owner: ApiUser,
) -> None:
    """SIGTERM while lines outlast WORKER_GRACEFUL_SHUTDOWN_SECONDS: the worker waits its
    one-second grace, cancels the lines still running and exits 0 at once; Temporal hands
    those lines to a second worker, which completes the run, charged once."""
    first = harness.start_worker(
        "A", settings={"WORKER_GRACEFUL_SHUTDOWN_SECONDS": "1"}, delay=60.0, delay_after=4
    )
    podcast, _ = await start_podcast(
        durable_db, client, owner, settings_for_test.temporal_task_queue
    )
    events = harness.events_path

    def stuck() -> set[str]:
        """Lines worker A is in the middle of, once its four quick ones are done."""
        return in_flight(events, "A", 4)

    await until(lambda: len(stuck()) == SPEECH_CONCURRENCY, 30, "worker A to hold every slot")
    held = stuck()
    signalled = time.monotonic()
    first.send(signal.SIGTERM)
    assert first.wait(30) == 0, first.tail()
    stopped_in = time.monotonic() - signalled
    assert stopped_in < 10, f"worker A took {stopped_in:.1f}s to stop with a 1 s grace period"
    assert {item["key"] for item in events_of(events, "cancelled", "A")} == held

    harness.start_worker("B", delay=0.1)
    await wait_for_status(durable_db, podcast, FINISHED, within=60)
    await assert_completed_once(durable_db, podcast, harness.storage_dir)
    redone = {item["key"] for item in events_of(events, "done", "B")}
    assert held <= redone, "every line cut short by the shutdown was synthesised again"
    print(f"SIGTERM with {len(held)} lines past the grace period: stopped in {stopped_in:.1f}s")
