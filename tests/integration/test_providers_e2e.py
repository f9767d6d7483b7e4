"""Whole podcasts with production providers: S3 storage, an LLM writer and OpenAI speech.

SeaweedFS is the S3 server and the fake OpenAI-compatible server plays the models; the
workflow runs on the real Temporal dev server and Postgres, with a worker group (main
worker plus one speech worker per provider) on its own task queues.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select, update
from temporalio.client import Client, WorkflowFailureError

import worker as worker_module
from api.app import create_app
from api.temporal_client import run_input_for, start_podcast_run
from podnex.db import Database
from podnex.models import Podcast, PodcastDuration, PodcastStatus, Subscription, UsageRecord
from podnex.podcasts import NewPodcast, create_podcast
from podnex.script.llm import LlmScriptWriter, word_budget
from podnex.script.structured_output import OutputNegotiation
from podnex.settings import Settings
from podnex.spec import PodcastSpec
from podnex.storage import presigned_get_url
from podnex.storage.keys import audio_key, work_prefix
from tests.audio_analysis import decode_mp3
from tests.conftest import ApiUser, serve
from tests.fakes.openai_server import API_KEY, FakeOpenAI
from tests.fakes.seaweed import SeaweedS3
from tests.integration.notes import NOTES
from workflows.types import PodcastResult, speech_task_queue, workflow_id_for

pytestmark = pytest.mark.timeout(240)

SPEECH_CAP = 2


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(speech_delay=0.05) as server:
        yield server


@pytest.fixture(scope="module")
def provider_settings(settings: Settings, seaweed: SeaweedS3, fake: FakeOpenAI) -> Settings:
    """The session's settings switched to S3, the LLM writer and OpenAI speech."""
    bucket = f"podnex-e2e-{uuid.uuid4().hex[:8]}"
    seaweed.create_bucket(bucket)
    return settings.model_copy(
        update={
            "temporal_task_queue": f"providers-{uuid.uuid4().hex[:8]}",
            "storage_backend": "s3",
            "s3_bucket": bucket,
            "s3_region": seaweed.region,
            "s3_endpoint_url": seaweed.endpoint_url,
            "s3_access_key_id": seaweed.access_key,
            "s3_secret_access_key": SecretStr(seaweed.secret_key),
            "s3_addressing_style": "path",
            "script_writer": "openai",
            "openai": settings.openai.model_copy(
                update={
                    "api_key": SecretStr(API_KEY),
                    "base_url": fake.base_url,
                    "tts_format": "mp3",
                    "tts_max_concurrency": SPEECH_CAP,
                }
            ),
            "tts_providers": ["espeak", "openai"],
            "speech_concurrency": 8,
        }
    )


@pytest.fixture(scope="module")
async def provider_worker(
    provider_settings: Settings, temporal_client: Client
) -> AsyncIterator[worker_module.ActivityDeps]:
    deps = worker_module.build_deps(provider_settings)
    group = worker_module.build_worker(temporal_client, provider_settings, deps)
    queue = provider_settings.temporal_task_queue
    assert group.task_queues == [queue, f"{queue}-speech-espeak", f"{queue}-speech-openai"]
    async with group:
        yield deps
    await deps.db.dispose()


async def new_podcast(db: Database, user: ApiUser, duration: PodcastDuration) -> Podcast:
    async with db.transaction() as session:
        podcast = await create_podcast(
            session,
            user.id,
            NewPodcast(
                spec=PodcastSpec(
                    note_content=NOTES,
                    duration=duration,
                    host_voice="host",
                    guest_voice="guest",
                    tts_provider="openai",
                )
            ),
            workflow_id_for=workflow_id_for,
        )
        await session.execute(
            update(Podcast)
            .where(Podcast.id == podcast.id)
            .values(language="en", instructions="Friendly and curious.")
        )
    return podcast


async def run(
    client: Client, settings: Settings, podcast: Podcast
) -> tuple[PodcastResult | None, WorkflowFailureError | None]:
    """Start the podcast's run on the provider worker's queue and wait for its end."""
    run_input = run_input_for(podcast, speech_concurrency=8).model_copy(
        update={"language": "en", "instructions": "Friendly and curious."}
    )
    admission, handle = await start_podcast_run(
        client, settings.temporal_task_queue, run_input, summary="providers"
    )
    assert admission is not None and admission.admitted
    typed = client.get_workflow_handle(handle.id, result_type=PodcastResult)
    try:
        return await typed.result(), None
    except WorkflowFailureError as failure:
        return None, failure


def keys_under(seaweed: SeaweedS3, bucket: str, prefix: str) -> list[str]:
    listed: dict[str, Any] = seaweed.client().list_objects_v2(  # type: ignore[attr-defined]
        Bucket=bucket, Prefix=prefix
    )
    return [item["Key"] for item in listed.get("Contents", [])]


async def test_long_podcast_completes_on_s3_with_llm_and_openai_speech(
    provider_settings: Settings,
    provider_worker: worker_module.ActivityDeps,
    temporal_client: Client,
    db: Database,
    user: ApiUser,
    seaweed: SeaweedS3,
    fake: FakeOpenAI,
) -> None:
    fake.reset()
    podcast = await new_podcast(db, user, PodcastDuration.LONG)
    result, failure = await run(temporal_client, provider_settings, podcast)
    assert failure is None and result is not None and result.status == "COMPLETED"

    async with db.transaction() as session:
        row = await session.get(Podcast, podcast.id)
    assert row is not None and row.status is PodcastStatus.COMPLETED and row.transcript
    assert (row.language, row.instructions) == ("en", "Friendly and curious.")
    words = sum(len(line["text"].split()) for line in row.transcript)
    low, high = word_budget("LONG")
    print(f"\nLONG via the LLM writer: {words} words, {len(row.transcript)} lines (2250 target)")
    assert low <= words <= high

    podcast_id = str(podcast.id)
    key = audio_key(podcast_id)
    assert row.audio_key == key
    bucket = provider_settings.s3_bucket
    assert bucket is not None
    head = seaweed.client().head_object(Bucket=bucket, Key=key)  # type: ignore[attr-defined]
    assert head["ContentType"] == "audio/mpeg"
    assert head["Metadata"]["podcast-id"] == podcast_id
    assert float(head["Metadata"]["duration-seconds"]) == pytest.approx(row.audio_duration, 0.01)
    assert keys_under(seaweed, bucket, work_prefix(podcast_id)) == [], "segments cleaned"

    url = presigned_get_url(provider_worker.storage, key, 300)
    assert url is not None
    async with httpx.AsyncClient(timeout=30) as http:
        mp3 = (await http.get(url)).content
    samples, rate = decode_mp3(mp3)
    assert len(mp3) == row.audio_size_bytes
    assert abs(len(samples) / rate - (row.audio_duration or 0)) < 0.5

    speech = fake.requests("speech")
    distinct = {(line["speaker"], line["text"]) for line in row.transcript}
    # A repeated line is cached by content, unless its twin was still being spoken.
    assert len(distinct) <= len(speech) < len(row.transcript)
    assert {r.body["voice"] for r in speech} == {"onyx", "nova"}
    print(
        f"speech: {len(speech)} lines, at most {fake.max_speech_in_flight} requests in flight "
        f"(cap {SPEECH_CAP}, podcast concurrency 8); audio {row.audio_duration:.0f} s"
    )
    assert fake.max_speech_in_flight <= SPEECH_CAP
    chat = fake.requests("chat")
    assert len(chat) == 1
    assert "Friendly and curious." in chat[0].body["messages"][1]["content"]

    history = await temporal_client.get_workflow_handle(f"podcast-{podcast_id}").fetch_history()
    speech_queues = {
        event.activity_task_scheduled_event_attributes.task_queue.name
        for event in history.events
        if event.HasField("activity_task_scheduled_event_attributes")
        and event.activity_task_scheduled_event_attributes.activity_type.name == "synthesize_lines"
    }
    assert speech_queues == {speech_task_queue(provider_settings.temporal_task_queue, "openai")}

    async with db.transaction() as session:
        usage = (
            await session.scalars(select(UsageRecord).where(UsageRecord.podcast_id == podcast.id))
        ).all()
    assert len(usage) == 1 and usage[0].amount == pytest.approx(row.audio_duration, 0.01)


async def test_podcast_completes_through_faults_that_are_retried(
    provider_settings: Settings,
    provider_worker: worker_module.ActivityDeps,
    temporal_client: Client,
    db: Database,
    user: ApiUser,
    fake: FakeOpenAI,
) -> None:
    fake.reset()
    fake.fail("chat", "429", retry_after=1.5)
    fake.fail("chat", "500")
    fake.fail("chat", "malformed")
    fake.fail("speech", "429", retry_after=1)
    fake.fail("speech", "500")
    fake.fail("speech", "empty")
    fake.fail("speech", "truncated")
    fake.fail("speech", "silent")
    podcast = await new_podcast(db, user, PodcastDuration.SHORT)
    result, failure = await run(temporal_client, provider_settings, podcast)
    assert failure is None and result is not None and result.status == "COMPLETED"

    chat = fake.requests("chat")
    assert [r.fault for r in chat] == ["429", "500", "malformed", None]
    faults = sorted(r.fault for r in fake.requests("speech") if r.fault)
    assert faults == ["429", "500", "empty", "silent", "truncated"]

    history = await temporal_client.get_workflow_handle(f"podcast-{podcast.id}").fetch_history()
    started = [
        event
        for event in history.events
        if event.HasField("activity_task_started_event_attributes")
    ]
    attempts = [event.activity_task_started_event_attributes.attempt for event in started]
    assert max(attempts) >= 2, "Temporal retried the failed activities"
    async with db.transaction() as session:
        row = await session.get(Podcast, podcast.id)
    assert row is not None and row.status is PodcastStatus.COMPLETED


@pytest.mark.parametrize(
    ("route", "kind", "times", "message"),
    [
        ("speech", "400", 1, "HTTP 400: This text violates our content policy."),
        ("chat", "malformed", 3, "did not write a valid script in 3 attempts"),
    ],
)
async def test_a_fault_that_is_not_retryable_fails_clearly_and_leaves_nothing(
    provider_settings: Settings,
    provider_worker: worker_module.ActivityDeps,
    temporal_client: Client,
    db: Database,
    user: ApiUser,
    seaweed: SeaweedS3,
    fake: FakeOpenAI,
    route: str,
    kind: str,
    times: int,
    message: str,
) -> None:
    fake.reset()
    fake.fail(route, kind, times=times, message="This text violates our content policy.")  # type: ignore[arg-type]
    podcast = await new_podcast(db, user, PodcastDuration.SHORT)
    result, failure = await run(temporal_client, provider_settings, podcast)
    assert result is None and failure is not None
    assert message in str(failure.cause)
    sent = fake.requests(route)  # type: ignore[arg-type]
    refused = [r.body for r in sent if r.fault]
    assert len(refused) == times
    if route == "chat":
        assert len(sent) == times, "the writer's own attempts only: Temporal did not retry"
    else:
        assert [r.body for r in sent].count(refused[0]) == 1, "the refused line was not retried"

    async with db.transaction() as session:
        row = await session.get(Podcast, podcast.id)
        subscription = await session.scalar(
            select(Subscription).where(Subscription.user_id == user.id)
        )
        usage = (
            await session.scalars(select(UsageRecord).where(UsageRecord.podcast_id == podcast.id))
        ).all()
    assert row is not None and row.status is PodcastStatus.FAILED
    assert row.error is not None and message in row.error
    assert not row.quota_reserved and row.audio_key is None
    assert subscription is not None and subscription.current_podcast_count == 0
    assert subscription.current_seconds_used == 0 and usage == []
    bucket = provider_settings.s3_bucket
    assert bucket is not None
    assert keys_under(seaweed, bucket, work_prefix(str(podcast.id))) == []
    assert keys_under(seaweed, bucket, f"podcasts/{podcast.id}/") == []


async def test_through_the_api_on_s3_download_is_presigned_and_delete_removes_objects(
    provider_settings: Settings,
    provider_worker: worker_module.ActivityDeps,
    seaweed: SeaweedS3,
    user: ApiUser,
) -> None:
    bucket = provider_settings.s3_bucket or ""
    async with serve(create_app(provider_settings)) as live:
        created = await live.client.post(
            "/api/v1/podcasts",
            headers=user.headers,
            json={"noteContent": NOTES, "ttsProvider": "openai", "hostVoice": "onyx"},
        )
        assert created.status_code == 201, created.text
        podcast_id = created.json()["data"]["id"]
        for _ in range(600):
            status = await live.client.get(
                f"/api/v1/podcasts/{podcast_id}/status", headers=user.headers
            )
            if status.json()["data"]["status"] in {"COMPLETED", "FAILED", "CANCELLED"}:
                break
            await asyncio.sleep(0.1)
        assert status.json()["data"]["status"] == "COMPLETED", status.text

        link = await live.client.get(
            f"/api/v1/podcasts/{podcast_id}/download", headers=user.headers
        )
        url = link.json()["data"]["url"]
        assert url.startswith(seaweed.endpoint_url) and "X-Amz-Signature=" in url
        async with httpx.AsyncClient(timeout=30) as anonymous:
            audio = await anonymous.get(url)
        assert audio.status_code == 200
        stored = seaweed.client().get_object(  # type: ignore[attr-defined]
            Bucket=bucket, Key=f"podcasts/{podcast_id}/audio.mp3"
        )
        assert audio.content == stored["Body"].read()

        deleted = await live.client.delete(f"/api/v1/podcasts/{podcast_id}", headers=user.headers)
        assert deleted.status_code == 200
    assert keys_under(seaweed, bucket, f"podcasts/{podcast_id}/") == []
    assert keys_under(seaweed, bucket, f"work/{podcast_id}/") == []


async def test_a_server_refusing_json_schema_is_negotiated_within_one_activity_attempt(
    provider_settings: Settings,
    provider_worker: worker_module.ActivityDeps,
    temporal_client: Client,
    db: Database,
    user: ApiUser,
    fake: FakeOpenAI,
) -> None:
    fake.reset()
    fake.refuse_formats("json_schema")  # as llama.cpp's Python server does, with a 500
    writer = provider_worker.writer
    assert isinstance(writer, LlmScriptWriter)
    try:
        podcast = await new_podcast(db, user, PodcastDuration.SHORT)
        result, failure = await run(temporal_client, provider_settings, podcast)
        assert failure is None and result is not None and result.status == "COMPLETED"
        chat = fake.requests("chat")
        assert [(r.body["response_format"]["type"], r.status) for r in chat] == [
            ("json_schema", 500),
            ("json_object", 200),
        ]
        history = await temporal_client.get_workflow_handle(f"podcast-{podcast.id}").fetch_history()
        scheduled = {
            event.event_id
            for event in history.events
            if event.HasField("activity_task_scheduled_event_attributes")
            and event.activity_task_scheduled_event_attributes.activity_type.name == "write_script"
        }
        script_attempts = [
            event.activity_task_started_event_attributes.attempt
            for event in history.events
            if event.HasField("activity_task_started_event_attributes")
            and event.activity_task_started_event_attributes.scheduled_event_id in scheduled
        ]
        assert script_attempts == [1], "the refusal was not retried as a server error"

        fake.reset()
        second = await new_podcast(db, user, PodcastDuration.SHORT)
        result, failure = await run(temporal_client, provider_settings, second)
        assert failure is None and result is not None and result.status == "COMPLETED"
        forms = [r.body["response_format"]["type"] for r in fake.requests("chat")]
        assert forms == ["json_object"], "the worker remembered the mode the server takes"
    finally:
        writer.output = OutputNegotiation(provider_settings.openai.script_output_mode)
