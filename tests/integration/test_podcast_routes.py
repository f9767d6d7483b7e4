"""PATCH, DELETE, cancel, retry and transcript routes, through HTTP on the real stack."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from api.app import create_app
from podnex.db import Database
from podnex.models import Podcast, PodcastStatus, Subscription
from podnex.plans import Plan
from podnex.settings import Settings
from tests.conftest import ApiUser, LiveApi, make_user, serve
from tests.integration.notes import NOTES
from tests.integration.podcasts import stored_podcast
from tests.integration.workers import ScriptedEngine, worker_with

pytestmark = pytest.mark.usefixtures("worker")

FINISHED = {"COMPLETED", "FAILED", "CANCELLED"}


async def create(client: httpx.AsyncClient, owner: ApiUser, **extra: Any) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/podcasts", headers=owner.headers, json={"noteContent": NOTES, **extra}
    )
    assert response.status_code == 201, response.text
    return response.json()["data"]  # type: ignore[no-any-return]


async def wait_finished(client: httpx.AsyncClient, owner: ApiUser, podcast_id: str) -> str:
    for _ in range(600):
        response = await client.get(f"/api/v1/podcasts/{podcast_id}/status", headers=owner.headers)
        status = response.json()["data"]["status"]
        if status in FINISHED:
            return str(status)
        await asyncio.sleep(0.1)
    raise AssertionError(f"{podcast_id} did not finish")


async def completed_podcast(api: LiveApi, owner: ApiUser) -> dict[str, Any]:
    podcast = await create(api.client, owner)
    assert await wait_finished(api.client, owner, podcast["id"]) == "COMPLETED"
    return podcast


async def set_status(db: Database, podcast_id: str, status: PodcastStatus) -> None:
    async with db.transaction() as session:
        await session.execute(
            update(Podcast).where(Podcast.id == uuid.UUID(podcast_id)).values(status=status)
        )


@asynccontextmanager
async def slow_api(
    settings: Settings, temporal_client: Client, delay: float = 0.4
) -> AsyncIterator[httpx.AsyncClient]:
    """The API on its own task queue, served by a worker whose speech takes `delay` a line."""
    async with worker_with(settings, temporal_client, ScriptedEngine(delay=delay)) as queue:
        app = create_app(settings.model_copy(update={"temporal_task_queue": queue}))
        async with serve(app) as live:
            yield live.client


async def test_patch_title_and_notes(api: LiveApi, user: ApiUser, db: Database) -> None:
    podcast = await completed_podcast(api, user)
    url = f"/api/v1/podcasts/{podcast['id']}"
    new_notes = NOTES.replace("Octopuses", "Squid")
    response = await api.client.patch(
        url, headers=user.headers, json={"title": "  Squid minds ", "noteContent": new_notes}
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["title"] == "Squid minds" and data["noteContent"] == new_notes

    bad = await api.client.patch(url, headers=user.headers, json={"noteContent": "short"})
    assert bad.status_code == 400 and bad.json()["details"][0]["field"] == "noteContent"

    await set_status(db, podcast["id"], PodcastStatus.PROCESSING)
    busy = await api.client.patch(url, headers=user.headers, json={"noteContent": NOTES})
    assert busy.status_code == 409 and busy.json()["code"] == "PODCAST_PROCESSING"
    renamed = await api.client.patch(url, headers=user.headers, json={"title": "Still fine"})
    assert renamed.status_code == 200 and renamed.json()["data"]["noteContent"] == new_notes


async def test_transcript_json_and_vtt(api: LiveApi, user: ApiUser) -> None:
    podcast = await completed_podcast(api, user)
    url = f"/api/v1/podcasts/{podcast['id']}/transcript"
    got = await api.client.get(url, headers=user.headers)
    assert got.status_code == 200, got.text
    lines = got.json()["data"]["lines"]
    assert lines and {line["speaker"] for line in lines} == {"host", "guest"}
    ends = [0.0]
    for line in lines:
        assert line["text"] and ends[-1] <= line["startSeconds"] < line["endSeconds"]
        ends.append(line["endSeconds"])
    vtt = await api.client.get(f"{url}?format=vtt", headers=user.headers)
    assert vtt.status_code == 200 and vtt.headers["content-type"].startswith("text/vtt")
    assert vtt.text.startswith("WEBVTT\n\n1\n00:00:")
    assert vtt.text.count(" --> ") == len(lines) and "<v Host>" in vtt.text
    bad = await api.client.get(f"{url}?format=srt", headers=user.headers)
    assert bad.status_code == 400


async def test_script_is_404_until_written(api: LiveApi, user: ApiUser, db: Database) -> None:
    podcast = await stored_podcast(db, user)
    missing = await api.client.get(f"/api/v1/podcasts/{podcast.id}/script", headers=user.headers)
    assert missing.status_code == 404, missing.text
    assert missing.json()["code"] == "SCRIPT_NOT_READY"


async def test_delete_completed_removes_audio_and_hides_it(
    api: LiveApi, user: ApiUser, settings: Settings
) -> None:
    podcast = await completed_podcast(api, user)
    audio = settings.resolved_storage_dir / "podcasts" / podcast["id"] / "audio.mp3"
    assert audio.exists()
    url = f"/api/v1/podcasts/{podcast['id']}"
    deleted = await api.client.delete(url, headers=user.headers)
    assert deleted.status_code == 200
    assert deleted.json() == {"success": True, "message": "Podcast deleted"}
    assert not audio.exists()
    for suffix in ("", "/status", "/download", "/transcript", "/script"):
        gone = await api.client.get(url + suffix, headers=user.headers)
        assert gone.status_code == 404
    listed = (await api.client.get("/api/v1/podcasts", headers=user.headers)).json()["data"]
    assert podcast["id"] not in [p["id"] for p in listed]
    assert (await api.client.delete(url, headers=user.headers)).status_code == 404


async def test_cancel_running_podcast_then_retry(
    settings: Settings, temporal_client: Client, user: ApiUser, db: Database
) -> None:
    async with slow_api(settings, temporal_client) as client:
        podcast = await create(client, user)
        url = f"/api/v1/podcasts/{podcast['id']}"
        await asyncio.sleep(1.0)
        cancelled = await client.post(f"{url}/cancel", headers=user.headers)
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["data"]["status"] == "CANCELLED"
        again = await client.post(f"{url}/cancel", headers=user.headers)
        assert again.status_code == 409 and again.json()["code"] == "PODCAST_FINISHED"
        async with db.transaction() as session:
            subscription = await session.scalar(
                select(Subscription).where(Subscription.user_id == user.id)
            )
        assert subscription is not None and subscription.current_podcast_count == 0

        retried = await client.post(f"{url}/retry", headers=user.headers)
        assert retried.status_code == 200, retried.text
        body = retried.json()["data"]
        assert body["success"] is True and body["jobId"]
        assert body["podcast"]["retryCount"] == 1
        assert body["podcast"]["status"] in {"QUEUED", "PROCESSING"}
        assert await wait_finished(client, user, podcast["id"]) == "COMPLETED"
        not_again = await client.post(f"{url}/retry", headers=user.headers)
        assert not_again.status_code == 400
        assert not_again.json()["error"] == "Can only retry failed podcasts"


async def test_delete_running_podcast_cancels_its_run(
    settings: Settings, temporal_client: Client, user: ApiUser, db: Database
) -> None:
    async with slow_api(settings, temporal_client) as client:
        podcast = await create(client, user)
        await asyncio.sleep(1.0)
        deleted = await client.delete(f"/api/v1/podcasts/{podcast['id']}", headers=user.headers)
        assert deleted.status_code == 200
        handle = temporal_client.get_workflow_handle(podcast["workflowId"])
        for _ in range(100):
            try:
                status = (await handle.describe()).status
            except RPCError as exc:  # its history already deleted with the podcast
                assert exc.status is RPCStatusCode.NOT_FOUND
                status = WorkflowExecutionStatus.CANCELED
            if status is not WorkflowExecutionStatus.RUNNING:
                break
            await asyncio.sleep(0.1)
        assert status is WorkflowExecutionStatus.CANCELED
    async with db.transaction() as session:
        row = await session.get(Podcast, uuid.UUID(podcast["id"]))
        subscription = await session.scalar(
            select(Subscription).where(Subscription.user_id == user.id)
        )
    assert row is not None and row.deleted_at is not None and not row.quota_reserved
    assert row.status is PodcastStatus.CANCELLED
    assert subscription is not None and subscription.current_podcast_count == 0


async def test_cancel_finished_is_409(api: LiveApi, user: ApiUser) -> None:
    podcast = await completed_podcast(api, user)
    response = await api.client.post(
        f"/api/v1/podcasts/{podcast['id']}/cancel", headers=user.headers
    )
    assert response.status_code == 409


async def test_another_users_podcast_is_404_everywhere_and_unchanged(
    api: LiveApi, user: ApiUser, other_user: ApiUser
) -> None:
    podcast = await completed_podcast(api, other_user)
    url = f"/api/v1/podcasts/{podcast['id']}"
    before = (await api.client.get(url, headers=other_user.headers)).json()["data"]
    attempts = [
        ("GET", url, None),
        ("PATCH", url, {"title": "mine now"}),
        ("DELETE", url, None),
        ("GET", f"{url}/status", None),
        ("GET", f"{url}/download", None),
        ("GET", f"{url}/transcript", None),
        ("GET", f"{url}/script", None),
        ("POST", f"{url}/cancel", None),
        ("POST", f"{url}/retry", None),
    ]
    for method, path, body in attempts:
        response = await api.client.request(method, path, headers=user.headers, json=body)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["error"] == "Podcast not found"
    after = (await api.client.get(url, headers=other_user.headers)).json()["data"]
    assert after == before


async def test_idempotency_key_replays_and_refuses_another_body(
    api: LiveApi, user: ApiUser, db: Database
) -> None:
    headers = {**user.headers, "Idempotency-Key": f"order-{uuid.uuid4()}"}
    body = {"noteContent": NOTES, "title": "Once only"}
    first, *repeats = await asyncio.gather(
        *(api.client.post("/api/v1/podcasts", headers=headers, json=body) for _ in range(4))
    )
    responses = [first, *repeats]
    assert sorted(r.status_code for r in responses) == [200, 200, 200, 201], [
        r.text for r in responses
    ]
    ids = {r.json()["data"]["id"] for r in responses}
    assert len(ids) == 1
    replayed = [r for r in responses if r.status_code == 200]
    assert all(r.headers["idempotent-replayed"] == "true" for r in replayed)
    async with db.transaction() as session:
        rows = (await session.scalars(select(Podcast).where(Podcast.user_id == user.id))).all()
    assert len(rows) == 1

    other = await api.client.post(
        "/api/v1/podcasts", headers=headers, json={**body, "title": "Another"}
    )
    assert other.status_code == 422 and other.json()["code"] == "IDEMPOTENCY_KEY_REUSED"
    too_long = await api.client.post(
        "/api/v1/podcasts", headers={**user.headers, "Idempotency-Key": "k" * 256}, json=body
    )
    assert too_long.status_code == 400
    assert too_long.json()["details"][0]["field"] == "Idempotency-Key"
    assert await wait_finished(api.client, user, ids.pop()) == "COMPLETED"


async def test_language_and_instructions_reach_the_run(
    api: LiveApi, user: ApiUser, temporal_client: Client
) -> None:
    podcast = await create(
        api.client, user, language="en-GB", instructions="Keep it light and curious."
    )
    assert podcast["language"] == "en-GB"
    assert podcast["instructions"] == "Keep it light and curious."
    history = await temporal_client.get_workflow_handle(podcast["workflowId"]).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    run_input = json.loads(started.input.payloads[0].data)["spec"]
    assert run_input["language"] == "en-GB"
    assert run_input["instructions"] == "Keep it light and curious."
    assert await wait_finished(api.client, user, podcast["id"]) == "COMPLETED"
    for bad in ({"language": "english please"}, {"instructions": ""}, {"language": "pt-BR"}):
        response = await api.client.post(
            "/api/v1/podcasts", headers=user.headers, json={"noteContent": NOTES, **bad}
        )
        assert response.status_code == 400, response.text
        assert response.json()["details"][0]["field"] in bad


async def test_retry_checks_the_limits_again(api: LiveApi, db: Database) -> None:
    owner = await make_user(db, Plan.FREE)
    podcast = await stored_podcast(db, owner)
    await set_status(db, str(podcast.id), PodcastStatus.FAILED)
    async with db.transaction() as session:
        await session.execute(
            update(Subscription)
            .where(Subscription.user_id == owner.id)
            .values(current_podcast_count=5)
        )
    response = await api.client.post(f"/api/v1/podcasts/{podcast.id}/retry", headers=owner.headers)
    assert response.status_code == 403, response.text
    assert response.json()["details"]["reason"] == "Monthly podcast limit reached (5)"
    stored = (await api.client.get(f"/api/v1/podcasts/{podcast.id}", headers=owner.headers)).json()
    assert stored["data"]["retryCount"] == 0, "a refused retry is not counted"
    async with db.transaction() as session:
        subscription = await session.scalar(
            select(Subscription).where(Subscription.user_id == owner.id)
        )
    assert subscription is not None and subscription.current_podcast_count == 5
