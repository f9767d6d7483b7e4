"""The API as its own process (uvicorn): restarted mid-run, and asked to cancel a finished run."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError

from podnex.db import Database
from podnex.embedded import free_port
from podnex.models import Podcast
from tests.conftest import ApiUser
from tests.durability.checks import account_of, assert_completed_once, podcast_row
from tests.durability.processes import Harness, RestartableTemporal
from tests.integration.notes import NOTES

FINISHED = {"COMPLETED", "FAILED", "CANCELLED"}


async def create_podcast(http: httpx.AsyncClient, owner: ApiUser, title: str) -> str:
    created = await http.post(
        "/api/v1/podcasts", headers=owner.headers, json={"noteContent": NOTES, "title": title}
    )
    assert created.status_code == 201, created.text
    return str(created.json()["data"]["id"])


async def poll_status(
    http: httpx.AsyncClient, owner: ApiUser, podcast_id: str, within: float = 60
) -> list[dict[str, Any]]:
    """Every answer of the status endpoint until the podcast has finished."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        response = await http.get(f"/api/v1/podcasts/{podcast_id}/status", headers=owner.headers)
        assert response.status_code == 200, response.text
        seen.append(response.json()["data"])
        if seen[-1]["status"] in FINISHED:
            return seen
        await asyncio.sleep(0.2)
    raise AssertionError(f"podcast {podcast_id} did not finish; last status {seen[-1:]}")


async def download(http: httpx.AsyncClient, owner: ApiUser, podcast_id: str) -> bytes:
    """The MP3 through the download route and the signed link it hands out."""
    link = await http.get(f"/api/v1/podcasts/{podcast_id}/download", headers=owner.headers)
    assert link.status_code == 200, link.text
    audio = await http.get(link.json()["data"]["url"])
    assert audio.status_code == 200 and audio.headers["content-type"].startswith("audio/mpeg")
    return audio.content


async def row_by_id(db: Database, podcast_id: str) -> Podcast:
    async with db.transaction() as session:
        row = await session.get(Podcast, podcast_id)
    assert row is not None
    return row


async def test_api_restart_keeps_status_and_download_working(
    durable_db: Database, harness: Harness, owner: ApiUser
) -> None:
    """The API process is killed (SIGKILL) right after it started a run and started again.

    The run goes on without it; the new API process answers the status of the run in
    flight from the live workflow, then from Postgres once it is done, and serves the
    download: the same bytes the worker stored.
    """
    harness.start_worker("A", delay=2.0)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    first = harness.start_api(port, "1")
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        podcast_id = await create_podcast(http, owner, "API restart")
    first.kill()

    harness.start_api(port, "2")
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        seen = await poll_status(http, owner, podcast_id)
        mp3 = await download(http, owner, podcast_id)
    assert seen[0]["status"] == "PROCESSING" and seen[0]["source"] == "workflow", seen[0]
    assert seen[-1]["status"] == "COMPLETED" and seen[-1]["source"] == "database"
    progress = [answer["progress"] for answer in seen]
    assert progress == sorted(progress), "progress never goes backwards"
    row = await assert_completed_once(
        durable_db, await row_by_id(durable_db, podcast_id), harness.storage_dir
    )
    assert row.audio_key is not None
    assert mp3 == (harness.storage_dir / row.audio_key).read_bytes()


async def test_cancelling_a_finished_podcast_changes_nothing(
    durable_db: Database,
    client: Client,
    durable_temporal: RestartableTemporal,
    harness: Harness,
    owner: ApiUser,
) -> None:
    """A COMPLETED podcast: POST /cancel is 409, Temporal refuses the signal and takes
    `temporal workflow cancel` as a no-op; the podcast, its audio, its charge and its run
    (history, status) stay as they were."""
    harness.start_worker("A")
    port = free_port()
    harness.start_api(port, "1")
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
        podcast_id = await create_podcast(http, owner, "Cancel when done")
        assert (await poll_status(http, owner, podcast_id))[-1]["status"] == "COMPLETED"
        before = await row_by_id(durable_db, podcast_id)
        account = await account_of(durable_db, before)
        handle = client.get_workflow_handle(f"podcast-{podcast_id}")
        events = len((await handle.fetch_history()).events)

        refused = await http.post(f"/api/v1/podcasts/{podcast_id}/cancel", headers=owner.headers)
        assert refused.status_code == 409, refused.text
        assert refused.json()["code"] == "PODCAST_FINISHED"
        try:
            await handle.signal("cancel")
            raise AssertionError("Temporal accepted a signal to a closed run")
        except RPCError as exc:
            assert "completed" in str(exc).lower(), exc
        # The CLI's cancel of a closed run is accepted (exit 0) and has no effect.
        cli = durable_temporal.cli("workflow", "cancel", "--workflow-id", handle.id)
        assert cli.returncode == 0, cli.stderr

        after = await podcast_row(durable_db, before)
        assert (after.status, after.updated_at, after.audio_key, after.error) == (
            before.status,
            before.updated_at,
            before.audio_key,
            before.error,
        )
        assert await account_of(durable_db, before) == account
        assert len((await handle.fetch_history()).events) == events
        assert (await handle.describe()).status is WorkflowExecutionStatus.COMPLETED
        assert len(await download(http, owner, podcast_id)) == before.audio_size_bytes
