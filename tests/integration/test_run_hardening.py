"""Runs that used to fail or lose a user's change: a generated title longer than its column,
a title changed while the podcast is made, and a database error's text."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid

import pytest
import sqlalchemy.exc
from sqlalchemy import select, update
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.context import DatabaseUnavailable
from api.app import create_app
from api.temporal_client import run_input_for, start_podcast_run
from podnex import podcasts
from podnex.db import Database
from podnex.models import Podcast, PodcastStatus, UsageRecord
from podnex.settings import Settings
from tests.conftest import ApiUser, LiveApi, serve
from tests.integration.notes import NOTES
from tests.integration.podcasts import stored_podcast
from tests.integration.workers import ScriptedEngine, worker_with

BODY = NOTES.split("\n", 1)[1]
LONG_HEADING = "# " + " ".join(["Chromatophores"] * 15)  # 224 characters
MARKED_HEADING = "# " + "Octopus cognition " + "a\u0301" * 120  # 258 characters


@pytest.mark.parametrize("heading", [LONG_HEADING, MARKED_HEADING], ids=["long", "accents"])
async def test_a_long_generated_title_is_clipped_and_the_run_completes(
    settings: Settings, db: Database, temporal_client: Client, user: ApiUser, heading: str
) -> None:
    assert len(heading) > 215
    podcast = await stored_podcast(db, user)
    async with db.transaction() as session:
        await session.execute(
            update(Podcast)
            .where(Podcast.id == podcast.id)
            .values(note_content=f"{heading}\n{BODY}")
        )
    podcast.note_content = f"{heading}\n{BODY}"
    async with worker_with(settings, temporal_client, ScriptedEngine()) as queue:
        _, handle = await start_podcast_run(
            temporal_client, queue, run_input_for(podcast, speech_concurrency=4), summary="title"
        )
        await handle.result()
    async with db.transaction() as session:
        row = await session.get(Podcast, podcast.id)
        charges = (
            await session.scalars(select(UsageRecord).where(UsageRecord.podcast_id == podcast.id))
        ).all()
    assert row is not None and row.status is PodcastStatus.COMPLETED, row.error
    assert row.title and len(row.title) <= 200
    assert row.title.startswith(heading[2:12])
    assert len(charges) == 1


async def test_a_title_changed_while_the_podcast_is_made_is_kept(
    settings: Settings, db: Database, temporal_client: Client, user: ApiUser
) -> None:
    podcast = await stored_podcast(db, user)  # no title: the script's would fill it
    engine = ScriptedEngine(delay=0.3)
    async with worker_with(settings, temporal_client, engine) as queue:
        _, handle = await start_podcast_run(
            temporal_client, queue, run_input_for(podcast, speech_concurrency=2), summary="kept"
        )
        while engine.calls < 1:
            await asyncio.sleep(0.05)
        async with db.transaction() as session:
            row = await session.get(Podcast, podcast.id, with_for_update=True)
            assert row is not None
            podcasts.update_details(row, title="My own title", note_content=None)
        await handle.result()
    async with db.transaction() as session:
        row = await session.get(Podcast, podcast.id)
    assert row is not None and row.status is PodcastStatus.COMPLETED
    assert row.title == "My own title"


async def test_a_database_error_reaches_the_run_without_its_sql_or_values() -> None:
    class Failing:
        async def execute_activity(self, input: object) -> object:
            raise sqlalchemy.exc.DataError(
                "UPDATE podcasts SET title=%(title)s",
                {"title": "x" * 215},
                Exception("value too long for type character varying(200)"),
            )

    interceptor = DatabaseUnavailable().intercept_activity(Failing())  # type: ignore[arg-type]
    with pytest.raises(ApplicationError) as failure:
        await ActivityEnvironment().run(interceptor.execute_activity, None)  # type: ignore[arg-type]
    assert failure.value.type == "DatabaseError" and failure.value.non_retryable
    for leaked in ("value too long", "UPDATE", "xxxx"):
        assert leaked not in str(failure.value)


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Short", "Short"),
        ("a" * 250, "a" * 200),
        ("é" * 199 + "e\u0301", "é" * 199),  # the last letter's accent would not fit
        ("a" + "\u0301" * 250, ("a" + "\u0301" * 250)[:200]),  # one grapheme, over the limit
        ("  padded  ", "padded"),
    ],
)
def test_clip_title(title: str, expected: str) -> None:
    clipped = podcasts.clip_title(title)
    assert clipped == expected and len(clipped) <= 200


async def test_a_retry_in_the_instant_a_run_failed_starts_the_new_run(
    settings: Settings, db: Database, temporal_client: Client, user: ApiUser
) -> None:
    """The run writes FAILED just before it closes; a retry in between used to answer 409
    and leave the podcast QUEUED for good."""
    engine = ScriptedEngine(fail_after=2)
    async with worker_with(settings, temporal_client, engine) as queue:
        app = create_app(settings.model_copy(update={"temporal_task_queue": queue}))
        async with serve(app) as api:
            created = await api.client.post(
                "/api/v1/podcasts", headers=user.headers, json={"noteContent": NOTES}
            )
            podcast_id = created.json()["data"]["id"]
            while True:  # catch the FAILED row as soon as the run has written it
                async with db.transaction() as session:
                    row = await session.get(Podcast, uuid.UUID(podcast_id))
                assert row is not None
                if row.status is PodcastStatus.FAILED:
                    break
                await asyncio.sleep(0.005)
            engine.fail_after = None
            retried = await api.client.post(
                f"/api/v1/podcasts/{podcast_id}/retry", headers=user.headers
            )
            assert retried.status_code == 200, retried.text
            handle = temporal_client.get_workflow_handle(f"podcast-{podcast_id}")
            await handle.result()
    async with db.transaction() as session:
        row = await session.get(Podcast, uuid.UUID(podcast_id))
    assert row is not None and row.status is PodcastStatus.COMPLETED and row.retry_count == 1


async def test_notes_are_measured_by_what_will_be_read(api: LiveApi, user: ApiUser) -> None:
    marks = {"noteContent": "a" + "\u0301" * 150}  # one letter under 150 accents
    response = await api.client.post("/api/v1/podcasts", headers=user.headers, json=marks)
    assert response.status_code == 400, response.text
    assert response.json()["details"][0]["field"] == "noteContent"

    only_code = {"noteContent": "```python\n" + "total = compute(x, y)\n" * 20 + "```\n"}
    response = await api.client.post("/api/v1/podcasts", headers=user.headers, json=only_code)
    assert response.status_code == 400, response.text
    problem = response.json()["details"][0]
    assert problem["field"] == "noteContent" and "nothing" in problem["message"]


async def test_the_201_body_shows_the_podcast_admitted(
    api: LiveApi, user: ApiUser, worker: object
) -> None:
    response = await api.client.post(
        "/api/v1/podcasts", headers=user.headers, json={"noteContent": NOTES}
    )
    assert response.status_code == 201, response.text
    podcast = response.json()["data"]
    assert (podcast["status"], podcast["progress"]) == ("PROCESSING", 5)
    assert podcast["currentStep"] == "Admitted" and podcast["startedAt"] is not None


async def test_status_answers_from_the_database_within_a_second_when_temporal_does_not(
    settings: Settings, db: Database, user: ApiUser
) -> None:
    """A Temporal that accepts connections and never answers (down, or a dead proxy)."""
    silent = socket.create_server(("127.0.0.1", 0))
    silent.listen()
    address = f"127.0.0.1:{silent.getsockname()[1]}"
    podcast = await stored_podcast(db, user)
    async with db.transaction() as session:
        await session.execute(
            update(Podcast)
            .where(Podcast.id == podcast.id)
            .values(status=PodcastStatus.PROCESSING, progress=40, current_step="Synthesising")
        )
    app = create_app(settings.model_copy(update={"temporal_address": address}))
    try:
        async with serve(app) as api:
            started = time.perf_counter()
            response = await api.client.get(
                f"/api/v1/podcasts/{podcast.id}/status", headers=user.headers
            )
            elapsed = time.perf_counter() - started
    finally:
        silent.close()
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert (data["source"], data["status"], data["progress"]) == ("database", "PROCESSING", 40)
    assert elapsed < 3, elapsed  # was 10 s and more: the live query gets one second
