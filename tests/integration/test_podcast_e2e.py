"""End to end through HTTP: notes in, a real two-voice MP3 out, on real Temporal and Postgres."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import httpx
import numpy as np
import pytest
from sqlalchemy import select
from temporalio.client import Client

from podnex.db import Database
from podnex.models import Podcast, Subscription, UsageRecord
from podnex.settings import Settings
from podnex.speech.espeak import ESPEAK_WORDS_PER_MINUTE
from tests.audio_analysis import decode_mp3, mean_pitch_hz
from tests.conftest import ApiUser, LiveApi
from tests.integration.notes import NOTES

pytestmark = pytest.mark.usefixtures("worker")


async def wait_for_status(
    api: LiveApi, user: ApiUser, podcast_id: str, wanted: set[str], limit_s: float = 180
) -> list[dict[str, Any]]:
    """Poll the status endpoint until the podcast reaches one of `wanted`; return every answer."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        response = await api.client.get(
            f"/api/v1/podcasts/{podcast_id}/status", headers=user.headers
        )
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        seen.append(data)
        if data["status"] in wanted:
            return seen
        await asyncio.sleep(0.2)
    raise AssertionError(f"podcast {podcast_id} never reached {wanted}; last: {seen[-1:]}")


async def test_notes_become_a_two_voice_mp3(
    api: LiveApi, user: ApiUser, db: Database, temporal_client: Client, settings: Settings
) -> None:
    started = time.monotonic()
    created = await api.client.post(
        "/api/v1/podcasts",
        headers=user.headers,
        json={"noteContent": NOTES, "duration": "SHORT", "title": "Octopus minds"},
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["success"] is True
    podcast = body["data"]
    podcast_id = podcast["id"]
    assert podcast["status"] in {"QUEUED", "PROCESSING"}
    assert podcast["workflowId"] == f"podcast-{podcast_id}"

    seen = await wait_for_status(api, user, podcast_id, {"COMPLETED", "FAILED", "CANCELLED"})
    elapsed = time.monotonic() - started
    final = seen[-1]
    assert final["status"] == "COMPLETED", final
    assert final["progress"] == 100
    progresses = [s["progress"] for s in seen]
    assert progresses == sorted(progresses), "progress never goes backwards"
    print(f"\nSHORT podcast: POST to COMPLETED in {elapsed:.1f}s, {len(seen)} polls")

    detail = (await api.client.get(f"/api/v1/podcasts/{podcast_id}", headers=user.headers)).json()
    data = detail["data"]
    assert data["audioUrl"] == f"/api/v1/podcasts/{podcast_id}/download"
    assert data["title"] == "Octopus minds"
    assert data["completedAt"] is not None

    link = (await api.client.get(data["audioUrl"], headers=user.headers)).json()["data"]
    async with httpx.AsyncClient(timeout=30) as anonymous:
        audio = await anonymous.get(link["url"])
        assert audio.status_code == 200
        assert audio.headers["content-type"].startswith("audio/mpeg")
        assert audio.headers["accept-ranges"] == "bytes"
        mp3 = audio.content
        partial = await anonymous.get(link["url"], headers={"Range": "bytes=100-1099"})
        assert partial.status_code == 206
        assert partial.content == mp3[100:1100]
        assert partial.headers["content-range"] == f"bytes 100-1099/{len(mp3)}"
        tampered = await anonymous.get(link["url"].replace("signature=", "signature=x"))
        assert tampered.status_code == 403

    storage = settings.resolved_storage_dir
    assert (storage / "podcasts" / podcast_id / "audio.mp3").read_bytes() == mp3
    assert not (storage / "work" / podcast_id).exists(), "segments are cleaned up"

    samples, rate = decode_mp3(mp3)
    duration = len(samples) / rate
    assert abs(duration - data["audioDuration"]) < 0.5

    async with db.transaction() as session:
        row = await session.get(Podcast, uuid.UUID(podcast_id))
        assert row is not None and row.transcript
        transcript = row.transcript
    script = await api.client.get(f"/api/v1/podcasts/{podcast_id}/script", headers=user.headers)
    assert script.status_code == 200, script.text
    assert script.json()["data"]["version"] == data["version"] == 1
    assert script.json()["data"]["lines"] == [
        {"index": index, "speaker": line["speaker"], "text": line["text"]}
        for index, line in enumerate(transcript)
    ], "the stored script is what was spoken"
    words = sum(len(line["text"].split()) for line in transcript)
    predicted = words / ESPEAK_WORDS_PER_MINUTE * 60
    print(f"MP3: {duration:.1f}s for {words} words ({predicted:.1f}s predicted), {len(mp3)} bytes")
    assert 0.8 * predicted <= duration <= 1.2 * predicted

    def voice_pitch(speaker: str) -> float:
        chunks = [
            samples[int(line["start_seconds"] * rate) : int(line["end_seconds"] * rate)]
            for line in transcript
            if line["speaker"] == speaker
        ]
        return mean_pitch_hz(np.concatenate(chunks), rate)

    host, guest = voice_pitch("host"), voice_pitch("guest")
    print(f"pitch: host {host:.0f} Hz, guest {guest:.0f} Hz")
    assert guest - host > 50, (host, guest)

    async with db.transaction() as session:
        usage = (
            await session.scalars(select(UsageRecord).where(UsageRecord.podcast_id == row.id))
        ).all()
        subscription = await session.scalar(
            select(Subscription).where(Subscription.user_id == user.id)
        )
    assert len(usage) == 1 and abs(usage[0].amount - data["audioDuration"]) < 0.01
    assert subscription is not None and subscription.current_podcast_count == 1
    assert abs(subscription.current_seconds_used - data["audioDuration"]) < 0.01

    query = f"PodcastId='{podcast_id}' AND UserId='{user.id}'"
    for _ in range(50):  # visibility is eventually consistent
        found = [wf.id async for wf in temporal_client.list_workflows(query)]
        if found:
            break
        await asyncio.sleep(0.1)
    assert found == [f"podcast-{podcast_id}"]

    history = await temporal_client.get_workflow_handle(f"podcast-{podcast_id}").fetch_history()
    steps = {
        event.activity_task_scheduled_event_attributes.activity_type.name
        for event in history.events
        if event.HasField("activity_task_scheduled_event_attributes")
    }
    # Every state the row needs is written by the step it comes with (the limit check's,
    # the script's, the publish's transaction): no status-mirror activity of its own; the
    # limit check runs as a local activity (a marker in the history, no activity task).
    assert steps == {"write_script", "synthesize_lines", "combine_audio", "publish_podcast"}
    local = [
        json.loads(event.marker_recorded_event_attributes.details["data"].payloads[0].data)
        for event in history.events
        if event.HasField("marker_recorded_event_attributes")
        and event.marker_recorded_event_attributes.marker_name == "core_local_activity"
    ]
    assert [marker["activity_type"] for marker in local] == ["check_limits"]
