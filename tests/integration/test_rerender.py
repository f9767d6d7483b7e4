"""Edit and re-render (#16): only changed lines are synthesised again, the episode is
published as the next version, and a re-render that does not publish changes nothing.

Real Temporal, real Postgres, real espeak; `ScriptedEngine` counts the engine's calls.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import numpy as np
import pytest
from sqlalchemy import select, update
from temporalio.client import Client, WorkflowHandle

from api.app import create_app
from api.temporal_client import run_input_for, start_podcast_run
from podnex.db import Database
from podnex.models import Podcast, PodcastStatus, Subscription, UsageRecord
from podnex.plans import Plan
from podnex.podcasts import script_of
from podnex.reconcile import expire_segments, reconcile
from podnex.script.types import ScriptLine
from podnex.settings import Settings
from podnex.storage import create_storage
from podnex.storage.keys import audio_key, segment_prefix
from tests.audio_analysis import decode_mp3, mean_pitch_hz
from tests.conftest import ApiUser, LiveApi, assert_validation_error, make_user, serve
from tests.integration.notes import NOTES
from tests.integration.podcasts import stored_podcast
from tests.integration.workers import ScriptedEngine, worker_with
from workflows.types import PodcastResult


@dataclass(frozen=True)
class Snapshot:
    """What a re-render that does not publish must leave exactly as it was."""

    status: PodcastStatus
    version: int
    audio_key: str | None
    audio: bytes
    audio_duration: float | None
    transcript: object
    script: object
    usage: list[float]
    seconds_used: float
    podcast_count: int


async def snapshot(db: Database, settings: Settings, podcast: Podcast) -> Snapshot:
    async with db.transaction() as session:
        row = await session.get(Podcast, podcast.id)
        assert row is not None
        subscription = await session.scalar(
            select(Subscription).where(Subscription.user_id == row.user_id)
        )
        usage = list(
            await session.scalars(
                select(UsageRecord.amount).where(UsageRecord.podcast_id == podcast.id)
            )
        )
    assert subscription is not None
    audio = (settings.resolved_storage_dir / row.audio_key).read_bytes() if row.audio_key else b""
    return Snapshot(
        status=row.status,
        version=row.version,
        audio_key=row.audio_key,
        audio=audio,
        audio_duration=row.audio_duration,
        transcript=row.transcript,
        script=row.script,
        usage=usage,
        seconds_used=subscription.current_seconds_used,
        podcast_count=subscription.current_podcast_count,
    )


async def row_of(db: Database, podcast: Podcast) -> Podcast:
    async with db.transaction() as session:
        row = await session.get(Podcast, podcast.id)
    assert row is not None
    return row


async def run_to_end(handle: WorkflowHandle[object, object], client: Client) -> PodcastResult:
    typed = client.get_workflow_handle(handle.id, result_type=PodcastResult)
    return await typed.result()


async def completed_podcast(
    db: Database, client: Client, queue: str, user: ApiUser
) -> tuple[Podcast, PodcastResult]:
    podcast = await stored_podcast(db, user, "Re-render test")
    admission, handle = await start_podcast_run(
        client, queue, run_input_for(podcast, speech_concurrency=4), summary="first version"
    )
    assert admission is not None and admission.admitted
    result = await run_to_end(handle, client)
    assert result.status == "COMPLETED", result
    return await row_of(db, podcast), result


async def rerender(
    client: Client, queue: str, podcast: Podcast, lines: list[ScriptLine]
) -> WorkflowHandle[object, object]:
    admission, handle = await start_podcast_run(
        client,
        queue,
        run_input_for(podcast, speech_concurrency=4, script=lines),
        summary="re-render",
    )
    assert admission is not None and admission.admitted, admission
    return handle


def span(samples: np.ndarray, rate: int, start: float, end: float) -> np.ndarray:
    return samples[int(start * rate) : int(end * rate)]


def similarity(a: np.ndarray, b: np.ndarray, rate: int, slack: float = 0.03) -> float:
    """Normalised correlation of two stretches of sound (1.0: the same sound), at the best
    alignment within ``slack`` seconds (line times are kept to the millisecond)."""
    lag_max = int(slack * rate)
    n = min(len(a), len(b)) - 2 * lag_max
    assert n > rate, "at least a second to compare"
    reference = a[lag_max : lag_max + n]
    best = -1.0
    for lag in range(0, 2 * lag_max + 1):
        other = b[lag : lag + n]
        value = float(
            np.dot(reference, other) / (np.linalg.norm(reference) * np.linalg.norm(other) + 1e-12)
        )
        best = max(best, value)
    return best


async def test_one_edited_line_is_the_one_line_synthesised_again(
    settings: Settings, db: Database, temporal_client: Client, user: ApiUser
) -> None:
    engine = ScriptedEngine()
    async with worker_with(settings, temporal_client, engine) as queue:
        made, _ = await completed_podcast(db, temporal_client, queue, user)
        assert made.version == 1 and made.audio_key == audio_key(str(made.id))
        # 0. A ~40-line episode: seventeen new lines appended (each synthesised once).
        written = script_of(made)
        appended = [
            ScriptLine(
                speaker="host" if n % 2 else "guest",
                text=f"Point {n + 1} of the recap: octopus arms taste what they touch.",
            )
            for n in range(40 - len(written))
        ]
        calls_before = engine.calls
        result = await run_to_end(
            await rerender(temporal_client, queue, made, [*written, *appended]), temporal_client
        )
        assert result.status == "COMPLETED", result
        assert result.lines_resynthesised == len(appended) == engine.calls - calls_before
        first = await row_of(db, made)
        before = await snapshot(db, settings, first)
        lines = script_of(first)
        total = len(lines)
        assert total == 40 and before.version == 2
        assert before.audio_key == audio_key(str(first.id), 2)
        assert not (settings.resolved_storage_dir / audio_key(str(first.id))).exists()
        calls_before = engine.calls

        # 1. One line's text changes: exactly one engine call, the next version published.
        k = total // 2
        edited = list(lines)
        edited[k] = ScriptLine(
            speaker=lines[k].speaker,
            text="This line was edited after publishing, and it is a good deal longer now "
            "than it was before, so the episode grows.",
        )
        handle = await rerender(temporal_client, queue, first, edited)
        result = await run_to_end(handle, temporal_client)
        assert result.status == "COMPLETED", result
        assert engine.calls - calls_before == 1, "only the edited line is synthesised"
        assert result.lines_resynthesised == 1

        second = await row_of(db, first)
        after = await snapshot(db, settings, first)
        assert second.status is PodcastStatus.COMPLETED and second.progress == 100
        assert second.version == 3
        assert second.audio_key == audio_key(str(first.id), 3) != before.audio_key
        assert not (settings.resolved_storage_dir / audio_key(str(first.id), 2)).exists(), (
            "the previous version is removed once the new one is published"
        )
        assert [ScriptLine.model_validate(line) for line in second.script or []] == edited
        assert second.transcript is not None and len(second.transcript) == total
        assert second.transcript[k]["text"] == edited[k].text
        assert (second.audio_duration or 0) > (before.audio_duration or 0)
        grown = (second.audio_duration or 0) - (before.audio_duration or 0)
        old_t, new_t = before.transcript, second.transcript
        assert isinstance(old_t, list)
        for index in range(k):  # before the edit: the same times
            assert new_t[index]["start_seconds"] == pytest.approx(
                old_t[index]["start_seconds"], abs=0.01
            )
        shift = new_t[k + 1]["start_seconds"] - old_t[k + 1]["start_seconds"]
        assert shift == pytest.approx(grown, abs=0.05)
        for index in range(k + 1, total):  # after it: shifted by what the line grew
            assert new_t[index]["start_seconds"] - old_t[index]["start_seconds"] == (
                pytest.approx(shift, abs=0.01)
            )
        # Billing: no new podcast, the minutes follow the new duration, charged once.
        assert after.podcast_count == before.podcast_count == 1
        assert after.usage == [second.audio_duration]
        assert after.seconds_used == pytest.approx(
            before.seconds_used - (before.audio_duration or 0) + (second.audio_duration or 0)
        )

        # The MP3 differs only around that line.
        old_pcm, rate = decode_mp3(before.audio)
        new_pcm, new_rate = decode_mp3(after.audio)
        assert rate == new_rate
        edit_start = old_t[k]["start_seconds"]
        old_end = old_t[k]["end_seconds"]
        new_end = new_t[k]["end_seconds"]
        head = similarity(
            span(old_pcm, rate, edit_start - 10.5, edit_start - 0.5),
            span(new_pcm, rate, edit_start - 10.5, edit_start - 0.5),
            rate,
        )
        tail = similarity(
            span(old_pcm, rate, old_end + 0.5, old_end + 10.5),
            span(new_pcm, rate, new_end + 0.5, new_end + 10.5),
            rate,
        )
        middle = similarity(
            span(old_pcm, rate, edit_start, old_end),
            span(new_pcm, rate, edit_start, old_end),
            rate,
            slack=0.0,
        )
        print(f"\nre-render similarity: before {head:.4f}, edited {middle:.4f}, after {tail:.4f}")
        # The same sound before and after the line (MP3 coding at another frame phase and a
        # slightly different loudness gain keep the tail at 0.97..0.995), another sound on it.
        assert head > 0.95 and tail > 0.95, (head, tail)
        assert middle < 0.5, middle

        # 2. A speaker change: that line again, now in the other voice.
        j = next(i for i in range(2, total) if i != k and edited[i].speaker == "host")
        swapped = list(edited)
        swapped[j] = ScriptLine(speaker="guest", text=edited[j].text)
        calls_before = engine.calls
        result = await run_to_end(
            await rerender(temporal_client, queue, second, swapped), temporal_client
        )
        assert result.status == "COMPLETED" and result.lines_resynthesised == 1
        assert engine.calls - calls_before == 1
        third = await row_of(db, first)
        assert third.version == 4 and third.audio_key == audio_key(str(first.id), 4)
        assert not (settings.resolved_storage_dir / audio_key(str(first.id), 3)).exists()
        assert third.transcript is not None and third.transcript[j]["speaker"] == "guest"
        pcm, rate = decode_mp3((settings.resolved_storage_dir / third.audio_key).read_bytes())
        host_pitch = mean_pitch_hz(
            span(new_pcm, rate, new_t[j]["start_seconds"], new_t[j]["end_seconds"]), rate
        )
        line = third.transcript[j]
        guest_pitch = mean_pitch_hz(
            span(pcm, rate, line["start_seconds"], line["end_seconds"]), rate
        )
        print(f"line {j}: host {host_pitch:.0f} Hz, now guest {guest_pitch:.0f} Hz")
        assert guest_pitch - host_pitch > 50


async def test_cancelled_rerender_keeps_the_previous_version(
    settings: Settings, db: Database, temporal_client: Client, user: ApiUser
) -> None:
    engine = ScriptedEngine()
    async with worker_with(settings, temporal_client, engine) as queue:
        first, _ = await completed_podcast(db, temporal_client, queue, user)
        before = await snapshot(db, settings, first)
        segments = sorted((settings.resolved_storage_dir / segment_prefix(str(first.id))).iterdir())
        lines = script_of(first)
        edited = [ScriptLine(speaker=line.speaker, text=f"{line.text} Edited.") for line in lines]
        engine.delay = 0.5
        calls_before = engine.calls
        handle = await rerender(temporal_client, queue, first, edited)
        while engine.calls - calls_before < 2:
            await asyncio.sleep(0.05)
        assert (await row_of(db, first)).status is PodcastStatus.PROCESSING
        await handle.signal("cancel")
        result = await run_to_end(handle, temporal_client)
        assert result.status == "CANCELLED"
    after = await snapshot(db, settings, first)
    assert after == before, "audio bytes, transcript, script, usage and version unchanged"
    row = await row_of(db, first)
    assert row.current_step == "Re-render cancelled; version 1 kept" and row.error is None
    assert not (settings.resolved_storage_dir / audio_key(str(first.id), 2)).exists()
    kept = set((settings.resolved_storage_dir / segment_prefix(str(first.id))).iterdir())
    assert set(segments) <= kept, "the stored segments stay for the next re-render"


# -- the routes, through HTTP on the real stack -------------------------------------------


async def http_completed(api: LiveApi, owner: ApiUser) -> str:
    created = await api.client.post(
        "/api/v1/podcasts", headers=owner.headers, json={"noteContent": NOTES}
    )
    assert created.status_code == 201, created.text
    podcast_id = str(created.json()["data"]["id"])
    assert await wait_finished(api, owner, podcast_id) == "COMPLETED"
    return podcast_id


async def wait_finished(api: LiveApi, owner: ApiUser, podcast_id: str) -> str:
    for _ in range(600):
        response = await api.client.get(
            f"/api/v1/podcasts/{podcast_id}/status", headers=owner.headers
        )
        data = response.json()["data"]
        if data["status"] in {"COMPLETED", "FAILED", "CANCELLED"}:
            return str(data["status"])
        await asyncio.sleep(0.1)
    raise AssertionError(f"{podcast_id} did not finish")


async def script_lines(api: LiveApi, owner: ApiUser, podcast_id: str) -> dict[str, Any]:
    response = await api.client.get(f"/api/v1/podcasts/{podcast_id}/script", headers=owner.headers)
    assert response.status_code == 200, response.text
    return response.json()["data"]  # type: ignore[no-any-return]


@pytest.mark.usefixtures("worker")
async def test_edit_routes_rerender_a_completed_podcast(
    api: LiveApi, user: ApiUser, db: Database
) -> None:
    podcast_id = await http_completed(api, user)
    base = f"/api/v1/podcasts/{podcast_id}/script"
    first = await script_lines(api, user, podcast_id)
    assert first["version"] == 1
    count = len(first["lines"])

    # Validation: the field and the reason, nothing started.
    put = api.client.put
    assert_validation_error(
        await put(base, headers=user.headers, json={"lines": []}), "lines", "at least 1"
    )
    blank = {"lines": [{"speaker": "host", "text": "   "}]}
    assert_validation_error(
        await put(base, headers=user.headers, json=blank), "lines.0.text", "blank"
    )
    narrator = {"lines": [{"speaker": "narrator", "text": "Hello."}]}
    assert_validation_error(
        await put(base, headers=user.headers, json=narrator), "lines.0.speaker", "host"
    )
    long = {"lines": [{"speaker": "host", "text": "word " * 500}]}
    assert_validation_error(
        await put(base, headers=user.headers, json=long), "lines.0.text", "2000"
    )
    line = f"{base}/lines/1"
    assert_validation_error(
        await api.client.patch(line, headers=user.headers, json={}), "text", "text, speaker"
    )
    same = {"text": first["lines"][1]["text"]}
    assert_validation_error(
        await api.client.patch(line, headers=user.headers, json=same), "lines", "unchanged"
    )
    missing = await api.client.patch(
        f"{base}/lines/{count}", headers=user.headers, json={"text": "Hi."}
    )
    assert missing.status_code == 404 and missing.json()["code"] == "LINE_NOT_FOUND"
    far = {"position": count + 1, "speaker": "guest", "text": "Hi."}
    assert_validation_error(
        await api.client.post(f"{base}/lines", headers=user.headers, json=far),
        "position",
        "at most",
    )
    assert (await script_lines(api, user, podcast_id))["version"] == 1

    # One line edited: 202, the old audio stays downloadable until the new one is out.
    edited = await api.client.patch(
        line, headers=user.headers, json={"text": "An edited second line.", "speaker": "host"}
    )
    assert edited.status_code == 202, edited.text
    assert edited.json()["data"]["version"] == 2
    download = await api.client.get(f"/api/v1/podcasts/{podcast_id}/download", headers=user.headers)
    assert download.status_code == 200, download.text
    busy = await api.client.delete(f"{base}/lines/0", headers=user.headers)
    if busy.status_code != 202:  # the one-line re-render may already be done
        assert busy.status_code == 409, busy.text
        assert await wait_finished(api, user, podcast_id) == "COMPLETED"
        busy = await api.client.delete(f"{base}/lines/0", headers=user.headers)
        assert busy.status_code == 202, busy.text
    assert await wait_finished(api, user, podcast_id) == "COMPLETED"
    after = await script_lines(api, user, podcast_id)
    assert after["version"] == 3 and len(after["lines"]) == count - 1
    assert after["lines"][0] == {"index": 0, "speaker": "host", "text": "An edited second line."}

    inserted = await api.client.post(
        f"{base}/lines",
        headers=user.headers,
        json={"position": 1, "speaker": "guest", "text": "A line inserted by hand."},
    )
    assert inserted.status_code == 202, inserted.text
    assert await wait_finished(api, user, podcast_id) == "COMPLETED"
    final = await script_lines(api, user, podcast_id)
    assert final["version"] == 4 and len(final["lines"]) == count
    assert final["lines"][1]["text"] == "A line inserted by hand."
    transcript = await api.client.get(
        f"/api/v1/podcasts/{podcast_id}/transcript", headers=user.headers
    )
    texts = [entry["text"] for entry in transcript.json()["data"]["lines"]]
    assert texts == [entry["text"] for entry in final["lines"]], "the transcript follows"
    detail = await api.client.get(f"/api/v1/podcasts/{podcast_id}", headers=user.headers)
    assert detail.json()["data"]["version"] == 4
    async with db.transaction() as session:
        row = await session.get(Podcast, uuid.UUID(podcast_id))
        subscription = await session.scalar(
            select(Subscription).where(Subscription.user_id == user.id)
        )
    assert row is not None and subscription is not None
    assert row.audio_key == audio_key(podcast_id, 4)
    assert subscription.current_podcast_count == 1, "a re-render counts no new podcast"
    assert subscription.current_seconds_used == pytest.approx(row.audio_duration)


@pytest.mark.usefixtures("worker")
async def test_edit_is_409_unless_completed_and_403_without_minutes(
    api: LiveApi, db: Database
) -> None:
    owner = await make_user(db, Plan.FREE)
    queued = await stored_podcast(db, owner)
    refused = await api.client.patch(
        f"/api/v1/podcasts/{queued.id}/script/lines/0", headers=owner.headers, json={"text": "x"}
    )
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "PODCAST_NOT_COMPLETED"

    podcast_id = await http_completed(api, owner)
    async with db.transaction() as session:
        await session.execute(
            update(Subscription)
            .where(Subscription.user_id == owner.id)
            .values(current_seconds_used=25 * 60)
        )
    limited = await api.client.patch(
        f"/api/v1/podcasts/{podcast_id}/script/lines/0",
        headers=owner.headers,
        json={"text": "A longer opening line that needs minutes this plan no longer has."},
    )
    assert limited.status_code == 403, limited.text
    assert limited.json()["code"] == "SUBSCRIPTION_LIMIT_REACHED"
    assert "minutes" in limited.json()["details"]["reason"]
    detail = await api.client.get(f"/api/v1/podcasts/{podcast_id}", headers=owner.headers)
    assert detail.json()["data"]["status"] == "COMPLETED"
    assert detail.json()["data"]["version"] == 1


# -- segments kept, expired by the reconciler; a stranded re-render ----------------------


async def test_expired_segments_are_synthesised_again_and_said_so(
    settings: Settings, db: Database, temporal_client: Client, user: ApiUser
) -> None:
    engine = ScriptedEngine()
    storage = create_storage(settings)
    async with worker_with(settings, temporal_client, engine) as queue:
        first, _ = await completed_podcast(db, temporal_client, queue, user)
        segments = settings.resolved_storage_dir / segment_prefix(str(first.id))
        assert len(list(segments.glob("*.wav"))) == len(script_of(first)), "segments kept"

        now = datetime.now(UTC)
        assert await expire_segments(db, storage, now=now, retention=timedelta(days=1)) >= 0
        assert any(segments.glob("*.wav")), "not yet expired: kept"
        async with db.transaction() as session:
            await session.execute(
                update(Podcast)
                .where(Podcast.id == first.id)
                .values(completed_at=now - timedelta(days=2))
            )
        assert await expire_segments(db, storage, now=now, retention=timedelta(days=1)) >= 1
        assert not any(segments.glob("*.wav")), "expired: removed"
        row = await row_of(db, first)
        assert row.segments_swept_at is not None and row.audio_key is not None

        lines = script_of(row)
        edited = [*lines[:-1], ScriptLine(speaker=lines[-1].speaker, text="A new last line.")]
        calls_before = engine.calls
        handle = await rerender(temporal_client, queue, row, edited)
        result = await run_to_end(handle, temporal_client)
        assert result.status == "COMPLETED"
        assert result.lines_resynthesised == len(edited) == engine.calls - calls_before
        steps = [
            event.activity_task_scheduled_event_attributes.input.payloads[0].data
            async for event in handle.fetch_history_events()
            if event.HasField("activity_task_scheduled_event_attributes")
        ]
        said = f"{len(edited)} of {len(edited)} lines re-synthesised".encode()
        assert any(said in payload for payload in steps), "the run says how many"
        assert (await row_of(db, first)).version == 2


async def test_a_stranded_rerender_reads_completed_with_its_previous_version(
    settings: Settings, db: Database, temporal_client: Client, user: ApiUser
) -> None:
    engine = ScriptedEngine()
    storage = create_storage(settings)
    async with worker_with(settings, temporal_client, engine) as queue:
        first, _ = await completed_podcast(db, temporal_client, queue, user)
    before = await snapshot(db, settings, first)
    # The re-render's run was terminated mid-way (no clean-up ran): PROCESSING, a partial
    # next version stored.
    async with db.transaction() as session:
        await session.execute(
            update(Podcast)
            .where(Podcast.id == first.id)
            .values(status=PodcastStatus.PROCESSING, progress=75, current_step="Combining")
        )
    await storage.put(audio_key(str(first.id), 2), b"ID3", content_type="audio/mpeg")

    async def run_state(workflow_id: str) -> Literal["running", "failed"]:
        return "failed" if workflow_id == first.workflow_id else "running"

    repairs = await reconcile(
        db,
        storage,
        run_state,
        now=datetime.now(UTC) + timedelta(minutes=1),
        grace=timedelta(0),
    )
    assert [r.kind for r in repairs if r.podcast_id == str(first.id)] == ["stranded"]
    after = await snapshot(db, settings, first)
    assert after == before, "audio, transcript, script, usage and version as they were"
    assert not await storage.exists(audio_key(str(first.id), 2))


async def test_cancel_route_stops_a_rerender_and_keeps_the_version(
    settings: Settings, db: Database, temporal_client: Client, user: ApiUser
) -> None:
    engine = ScriptedEngine()
    async with worker_with(settings, temporal_client, engine) as queue:
        app = create_app(settings.model_copy(update={"temporal_task_queue": queue}))
        async with serve(app) as live:
            podcast_id = await http_completed(live, user)
            before = await snapshot(db, settings, await row_of_id(db, podcast_id))
            engine.delay = 0.5
            replaced = await live.client.put(
                f"/api/v1/podcasts/{podcast_id}/script",
                headers=user.headers,
                json={"lines": [{"speaker": "host", "text": f"Line {n}."} for n in range(12)]},
            )
            assert replaced.status_code == 202, replaced.text
            cancelled = await live.client.post(
                f"/api/v1/podcasts/{podcast_id}/cancel", headers=user.headers
            )
            assert cancelled.status_code == 200, cancelled.text
            answer = cancelled.json()["data"]
            assert (answer["status"], answer["version"]) == ("COMPLETED", 1), answer
            assert answer["currentStep"] == "Re-render cancelled; version 1 kept"
            assert await wait_finished(live, user, podcast_id) == "COMPLETED"
            download = await live.client.get(
                f"/api/v1/podcasts/{podcast_id}/download", headers=user.headers
            )
            assert download.status_code == 200, download.text
    after = await snapshot(db, settings, await row_of_id(db, podcast_id))
    assert after == before, "the previous version, its transcript, script and usage stay"


async def row_of_id(db: Database, podcast_id: str) -> Podcast:
    async with db.transaction() as session:
        row = await session.get(Podcast, uuid.UUID(podcast_id))
    assert row is not None
    return row
