"""What the durability tests read and assert: Postgres rows, run histories, worker events."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import select
from temporalio.client import Client, WorkflowHandle

from api.temporal_client import run_input_for, start_podcast_run
from podnex.db import Database
from podnex.models import Podcast, PodcastStatus, Subscription, UsageRecord
from podnex.storage.keys import audio_key, work_prefix
from tests.conftest import ApiUser
from tests.durability.conftest import SPEECH_CONCURRENCY
from tests.integration.podcasts import stored_podcast

T = TypeVar("T")

SHORT_SCRIPT_LINES = 23
"""Lines the offline writer makes of the sample notes for a SHORT podcast."""


async def eventually(
    probe: Callable[[], Awaitable[T | None]], within: float, what: str, interval: float = 0.05
) -> T:
    """Poll ``probe`` until it returns something other than None (or False); return that.

    TimeoutError (naming ``what``) once ``within`` seconds have passed.
    """
    deadline = time.monotonic() + within
    while True:
        value = await probe()
        if value is not None and value is not False:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {within:.0f}s")
        await asyncio.sleep(interval)


async def until(predicate: Callable[[], bool], within: float, what: str) -> float:
    """Poll a plain ``predicate`` until it holds; the seconds that took."""
    started = time.monotonic()

    async def probe() -> bool:
        return predicate()

    await eventually(probe, within, what)
    return time.monotonic() - started


# -- podcasts and runs ----------------------------------------------------------------------


async def start_podcast(
    db: Database,
    client: Client,
    owner: ApiUser,
    task_queue: str,
    *,
    speech_concurrency: int = SPEECH_CONCURRENCY,
    lines_per_activity: int = 4,
    speech_rounds: int = 2,
) -> tuple[Podcast, WorkflowHandle[Any, Any]]:
    """Store a SHORT podcast and start its run as the API does (update-with-start)."""
    podcast = await stored_podcast(db, owner, "Durability test")
    admission, handle = await start_podcast_run(
        client,
        task_queue,
        run_input_for(
            podcast,
            speech_concurrency=speech_concurrency,
            lines_per_activity=lines_per_activity,
            speech_rounds=speech_rounds,
        ),
        summary=f"Podcast {podcast.id} (SHORT)",
    )
    assert admission is not None and admission.admitted, admission
    return podcast, handle


async def podcast_row(db: Database, podcast: Podcast) -> Podcast:
    async with db.transaction() as session:
        row = await session.get(Podcast, podcast.id)
    assert row is not None
    return row


async def wait_for_status(
    db: Database, podcast: Podcast, wanted: set[PodcastStatus], within: float
) -> Podcast:
    """The podcast's row once Postgres shows one of ``wanted``."""

    async def probe() -> Podcast | None:
        row = await podcast_row(db, podcast)
        return row if row.status in wanted else None

    return await eventually(probe, within, f"podcast {podcast.id} to be {wanted}")


@dataclass(frozen=True)
class Account:
    """The podcast's billing state in Postgres."""

    podcast_count: int
    seconds_used: float
    quota_reserved: bool
    usage_amounts: list[float]


async def account_of(db: Database, podcast: Podcast) -> Account:
    async with db.transaction() as session:
        row = await session.get(Podcast, podcast.id)
        subscription = await session.scalar(
            select(Subscription).where(Subscription.user_id == podcast.user_id)
        )
        usage = (
            await session.scalars(select(UsageRecord).where(UsageRecord.podcast_id == podcast.id))
        ).all()
    assert row is not None and subscription is not None
    return Account(
        podcast_count=subscription.current_podcast_count,
        seconds_used=subscription.current_seconds_used,
        quota_reserved=row.quota_reserved,
        usage_amounts=[record.amount for record in usage],
    )


def stored_files(storage_dir: Path, prefix: str) -> list[Path]:
    """Objects (not metadata sidecars) stored under ``prefix`` in local storage."""
    base = storage_dir / prefix
    if not base.exists():
        return []
    return [p for p in base.rglob("*") if p.is_file() and not p.name.endswith(".meta.json")]


async def assert_completed_once(db: Database, podcast: Podcast, storage_dir: Path) -> Podcast:
    """COMPLETED with an MP3, every line transcribed, charged once, no work files left."""
    row = await podcast_row(db, podcast)
    assert row.status is PodcastStatus.COMPLETED, (row.status, row.error)
    assert row.progress == 100 and row.error is None
    assert row.audio_key == audio_key(str(podcast.id))
    mp3 = (storage_dir / row.audio_key).read_bytes()
    assert mp3[:3] == b"ID3" or mp3[0] == 0xFF, "an MP3 file"
    assert row.audio_size_bytes == len(mp3) and (row.audio_duration or 0) > 10
    assert row.transcript is not None and len(row.transcript) == SHORT_SCRIPT_LINES
    account = await account_of(db, podcast)
    assert account.usage_amounts == [row.audio_duration], "usage recorded exactly once"
    assert account.seconds_used == row.audio_duration
    assert account.podcast_count == 1 and account.quota_reserved
    assert stored_files(storage_dir, work_prefix(str(podcast.id))) == []
    return row


async def assert_given_back(db: Database, podcast: Podcast, storage_dir: Path) -> Podcast:
    """Nothing charged, the reservation returned, no audio (partial or final) left."""
    row = await podcast_row(db, podcast)
    account = await account_of(db, podcast)
    assert account == Account(0, 0.0, False, []), account
    assert row.audio_key is None
    assert stored_files(storage_dir, work_prefix(str(podcast.id))) == []
    assert stored_files(storage_dir, f"podcasts/{podcast.id}") == []
    return row


# -- history ----------------------------------------------------------------------------------


async def speech_results(handle: WorkflowHandle[Any, Any]) -> dict[int, list[bool]]:
    """For each line, the `cached` flag of every completed speech activity's result for it
    (`synthesize_lines` batches, or `synthesize_line` in runs from before batches)."""
    batches = await speech_batches(handle)
    results: dict[int, list[bool]] = {}
    for batch in batches:
        for line, cached in zip(batch.lines, batch.cached or [], strict=False):
            results.setdefault(line, []).append(cached)
    return results


@dataclass
class SpeechActivity:
    """One speech activity of a run's history: its lines, the attempt that last started
    and, once it completed, each line's `cached` flag."""

    lines: list[int]
    attempt: int = 0
    cached: list[bool] | None = None


async def speech_batches(handle: WorkflowHandle[Any, Any]) -> list[SpeechActivity]:
    """Every speech activity in the history, in the order they were scheduled."""
    history = await handle.fetch_history()
    found: dict[int, SpeechActivity] = {}
    for event in history.events:
        if event.HasField("activity_task_scheduled_event_attributes"):
            scheduled = event.activity_task_scheduled_event_attributes
            name = scheduled.activity_type.name
            if name in ("synthesize_line", "synthesize_lines"):
                request = json.loads(scheduled.input.payloads[0].data)
                lines = (
                    [int(line["index"]) for line in request["lines"]]
                    if name == "synthesize_lines"
                    else [int(request["index"])]
                )
                found[event.event_id] = SpeechActivity(lines)
        elif event.HasField("activity_task_started_event_attributes"):
            started = event.activity_task_started_event_attributes
            if started.scheduled_event_id in found:
                found[started.scheduled_event_id].attempt = started.attempt
        elif event.HasField("activity_task_completed_event_attributes"):
            completed = event.activity_task_completed_event_attributes
            if completed.scheduled_event_id in found:
                result = json.loads(completed.result.payloads[0].data)
                items = result.get("results", [result])
                found[completed.scheduled_event_id].cached = [bool(i["cached"]) for i in items]
    return list(found.values())


async def activity_attempts(handle: WorkflowHandle[Any, Any], activity_type: str) -> list[int]:
    """The attempt number of each started ``activity_type`` activity, in history order."""
    history = await handle.fetch_history()
    names: dict[int, str] = {}
    attempts: list[int] = []
    for event in history.events:
        if event.HasField("activity_task_scheduled_event_attributes"):
            names[event.event_id] = (
                event.activity_task_scheduled_event_attributes.activity_type.name
            )
        elif event.HasField("activity_task_started_event_attributes"):
            started = event.activity_task_started_event_attributes
            if names.get(started.scheduled_event_id) == activity_type:
                attempts.append(started.attempt)
    return attempts


# -- worker events ----------------------------------------------------------------------------


def read_events(path: Path) -> list[dict[str, Any]]:
    """Every event the test's worker processes appended, in order."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def events_of(path: Path, event: str, worker: str | None = None) -> list[dict[str, Any]]:
    return [
        item
        for item in read_events(path)
        if item["event"] == event and (worker is None or item["worker"] == worker)
    ]


def line_of_key(path: Path) -> dict[str, int]:
    """Segment key to line index, from the segment writes of every worker."""
    return {item["key"]: item["line"] for item in events_of(path, "stored")}


def calls_per_line(path: Path, worker: str | None = None) -> Counter[int]:
    """How many times the speech engine was called for each line (by ``worker``, or all).

    A call for a line whose segment was never stored counts under line -1.
    """
    lines = line_of_key(path)
    return Counter(lines.get(item["key"], -1) for item in events_of(path, "call", worker))


def in_flight(path: Path, worker: str, after_done: int) -> set[str]:
    """Keys of the lines ``worker`` is synthesising now, once it has finished
    ``after_done`` lines (before that: none, so a caller waits past the start)."""
    done = {item["key"] for item in events_of(path, "done", worker)}
    if len(done) < after_done:
        return set()
    return {item["key"] for item in events_of(path, "call", worker)} - done
