"""Operating runs with Temporal's own CLI: finding them by search attribute, resetting them."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError

from podnex.db import Database
from podnex.embedded import free_port
from podnex.models import PodcastStatus
from podnex.settings import Settings
from tests.conftest import ApiUser
from tests.durability.checks import (
    account_of,
    assert_completed_once,
    eventually,
    start_podcast,
    wait_for_status,
)
from tests.durability.processes import Harness, RestartableTemporal
from tests.durability.worker_process import PERMANENT_ERROR
from tests.integration.notes import NOTES

FINISHED = {PodcastStatus.COMPLETED, PodcastStatus.FAILED, PodcastStatus.CANCELLED}


def cli_json(temporal: RestartableTemporal, *args: str) -> Any:
    done = temporal.cli(*args, "-o", "json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.strip() else None


def listed_workflow_ids(temporal: RestartableTemporal, query: str) -> list[str] | None:
    """Ids of the runs `temporal workflow list --query` finds; None while it finds none."""
    found = cli_json(temporal, "workflow", "list", "--query", query) or []
    return [run["execution"]["workflowId"] for run in found] or None


async def test_runs_carry_search_attributes_and_a_summary(
    client: Client, durable_temporal: RestartableTemporal, harness: Harness, owner: ApiUser
) -> None:
    """A run started by the API is found by `temporal workflow list --query "PodcastId='…'"`
    (and by its UserId), and `temporal workflow describe` shows its summary."""
    harness.start_worker("A")
    port = free_port()
    harness.start_api(port, "1")
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
        created = await http.post(
            "/api/v1/podcasts",
            headers=owner.headers,
            json={"noteContent": NOTES, "title": "Findable"},
        )
    assert created.status_code == 201, created.text
    podcast_id = created.json()["data"]["id"]
    workflow_id = f"podcast-{podcast_id}"

    async def by(query: str) -> list[str] | None:
        return listed_workflow_ids(durable_temporal, query)

    assert await eventually(lambda: by(f"PodcastId='{podcast_id}'"), 15, "list") == [workflow_id]
    assert await eventually(lambda: by(f"UserId='{owner.id}'"), 15, "list") == [workflow_id]
    description = cli_json(durable_temporal, "workflow", "describe", "--workflow-id", workflow_id)
    summary = description["executionConfig"]["userMetadata"]["summary"]
    assert summary == "Podcast Findable (SHORT)", description["executionConfig"]
    await client.get_workflow_handle(workflow_id).result()


async def test_reset_of_a_failed_run_completes_and_charges_once(
    durable_db: Database,
    client: Client,
    durable_temporal: RestartableTemporal,
    harness: Harness,
    settings_for_test: Settings,
    owner: ApiUser,
) -> None:
    """A run failed by a permanent speech error is reset with `temporal workflow reset
    --type FirstWorkflowTask` (as the Web UI does) once a healthy worker serves the queue.

    Postgres follows the new run to COMPLETED: the reservation the failure gave back is
    taken again (count 1, not 0 or 2), usage is charged once, the error is cleared and the
    row names the new run.
    """
    faulty = harness.start_worker("A", fail_after=4)
    podcast, handle = await start_podcast(
        durable_db, client, owner, settings_for_test.temporal_task_queue
    )
    failed = await wait_for_status(durable_db, podcast, FINISHED, within=30)
    assert failed.status is PodcastStatus.FAILED and failed.error == PERMANENT_ERROR
    with pytest.raises(WorkflowFailureError):
        await handle.result()
    assert (await account_of(durable_db, podcast)).podcast_count == 0
    assert faulty.stop() == 0

    harness.start_worker("B")
    reset = durable_temporal.cli(
        "workflow",
        "reset",
        "--workflow-id",
        handle.id,
        "--type",
        "FirstWorkflowTask",
        "--reason",
        "durability test: provider fixed",
    )
    assert reset.returncode == 0, reset.stderr
    latest = client.get_workflow_handle(handle.id)
    await latest.result()
    new_run = (await latest.describe()).run_id
    assert new_run != failed.workflow_run_id

    row = await wait_for_status(durable_db, podcast, FINISHED, within=30)
    assert row.status is PodcastStatus.COMPLETED, row.error
    await assert_completed_once(durable_db, podcast, harness.storage_dir)
    assert row.workflow_run_id == new_run
    assert (await latest.describe()).status is WorkflowExecutionStatus.COMPLETED
