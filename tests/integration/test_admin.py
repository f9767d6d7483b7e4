"""The administrators' routes through the real API, database, Temporal and worker: the guard,
statistics (Temporal visibility and task queues included), users, podcasts across users,
disabling a user in the middle of a run, and the audit log."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from temporalio.client import Client

from api.app import create_app
from podnex import accounts
from podnex.db import Database
from podnex.models import Podcast
from podnex.plans import Plan
from podnex.settings import Settings
from podnex.vocabulary import PodcastDuration, PodcastStatus, Role
from tests.conftest import ApiUser, LiveApi, make_user, serve
from tests.integration.test_podcast_routes import create, wait_finished
from tests.integration.workers import ScriptedEngine, worker_with

pytestmark = pytest.mark.usefixtures("worker")

UI = "http://temporal-ui.example:8233"
ADMIN_GETS = [
    "/api/v1/admin/stats",
    "/api/v1/admin/users",
    "/api/v1/admin/podcasts",
    "/api/v1/admin/audit",
]


async def make_admin(db: Database) -> ApiUser:
    admin = await make_user(db, Plan.FREE)
    async with db.transaction() as session:
        await accounts.set_role(session, admin.email, Role.ADMIN)
    return admin


@pytest.fixture
async def admin(db: Database) -> ApiUser:
    return await make_admin(db)


@pytest.fixture(scope="module")
async def slow(settings: Settings, temporal_client: Client) -> AsyncIterator[LiveApi]:
    """The API on its own task queue (speech slowed down), with TEMPORAL_UI_URL set."""
    async with worker_with(settings, temporal_client, ScriptedEngine(delay=0.4)) as queue:
        app = create_app(
            settings.model_copy(update={"temporal_task_queue": queue, "temporal_ui_url": UI})
        )
        async with serve(app) as live:
            yield live


async def add_podcast(db: Database, owner: ApiUser, **values: Any) -> uuid.UUID:
    async with db.transaction() as session:
        podcast = Podcast(
            user_id=owner.id,
            note_content="notes " * 30,
            duration=PodcastDuration.SHORT,
            host_voice="host",
            guest_voice="guest",
            tts_provider="espeak",
            **values,
        )
        session.add(podcast)
        await session.flush()
        return podcast.id


async def data_of(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()["data"]


# -- the guard ----------------------------------------------------------------------------------


async def test_admin_routes_are_403_for_users_401_without_a_key_and_not_published(
    api: LiveApi, user: ApiUser, admin: ApiUser
) -> None:
    for path in ADMIN_GETS:
        refused = await api.client.get(path, headers=user.headers)
        assert refused.status_code == 403, (path, refused.text)
        assert refused.json() == {
            "success": False,
            "error": "Administrators only",
            "code": "FORBIDDEN",
        }
        assert (await api.client.get(path)).status_code == 401
        assert (await api.client.get(path, headers=admin.headers)).status_code == 200, path
    patched = await api.client.patch(
        f"/api/v1/admin/users/{user.id}", headers=user.headers, json={"plan": "BUSINESS"}
    )
    assert patched.status_code == 403
    schema = (await api.client.get("/schema/openapi.json")).json()
    assert not [path for path in schema["paths"] if path.startswith("/api/v1/admin")]


async def test_set_role_from_the_command_line(
    settings: Settings, db: Database, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    owner = await make_user(db, Plan.FREE)
    monkeypatch.setenv("DATABASE_URL", settings.resolved_database_url())
    from podnex.cli import main as cli_main
    from podnex.settings import get_settings

    get_settings.cache_clear()
    try:
        code = await asyncio.to_thread(
            cli_main, ["users", "set-role", "--email", owner.email, "--role", "admin"]
        )
    finally:
        get_settings.cache_clear()
    assert code == 0
    assert capsys.readouterr().out.strip() == f"{owner.email}: role ADMIN"
    async with db.transaction() as session:
        row = await accounts.get_user_by_email(session, owner.email)
    assert row is not None and row.role is Role.ADMIN


# -- statistics ---------------------------------------------------------------------------------


async def test_stats_count_podcasts_failures_minutes_runs_and_queues(
    api: LiveApi, db: Database, admin: ApiUser, settings: Settings
) -> None:
    owner = await make_user(db, Plan.PRO)
    reason = f"speech engine exploded {uuid.uuid4().hex[:6]}"
    for _ in range(2):
        await add_podcast(db, owner, status=PodcastStatus.FAILED, error=reason)
    before = await data_of(await api.client.get("/api/v1/admin/stats", headers=admin.headers))
    podcast = await create(api.client, owner)
    assert await wait_finished(api.client, owner, podcast["id"]) == "COMPLETED"
    data = await data_of(await api.client.get("/api/v1/admin/stats", headers=admin.headers))

    assert data["podcastsToday"]["FAILED"] >= 2
    assert data["podcastsToday"]["COMPLETED"] == before["podcastsToday"]["COMPLETED"] + 1
    assert data["podcastsThisPeriod"]["COMPLETED"] >= data["podcastsToday"]["COMPLETED"]
    assert isinstance(data["reconcilerRepairs"], dict)  # by kind; filled in test_reconciler
    assert {"reason": reason, "count": 2} in data["topFailures"]
    minutes = {(row["plan"], row["engine"]): row["minutes"] for row in data["audioMinutes"]}
    assert minutes[("PRO", "espeak")] > 0
    # Temporal's visibility: the completed run counted by ExecutionStatus (visibility lags)
    assert set(data["runs"]) >= {"Running", "Completed", "Failed", "Canceled"}
    for _ in range(50):
        if data["runs"]["Completed"] > before["runs"]["Completed"]:
            break
        await asyncio.sleep(0.2)
        data = await data_of(await api.client.get("/api/v1/admin/stats", headers=admin.headers))
    assert data["runs"]["Completed"] > before["runs"]["Completed"]
    mine = await data_of(
        await api.client.get(
            "/api/v1/admin/stats", headers=admin.headers, params={"userId": str(owner.id)}
        )
    )
    assert mine["runs"]["Completed"] == 1
    queues = {(q["name"], q["kind"]): q for q in data["queues"]}
    main = queues[(settings.temporal_task_queue, "workflow")]
    assert main["pollers"] >= 1 and main["backlog"] >= 0
    assert (f"{settings.temporal_task_queue}-speech-espeak", "activity") in queues
    assert data["temporalError"] is None


# -- users --------------------------------------------------------------------------------------


async def test_users_search_by_email_and_plan_with_usage(
    api: LiveApi, db: Database, admin: ApiUser
) -> None:
    owner = await make_user(db, Plan.STARTER)
    await add_podcast(db, owner, status=PodcastStatus.COMPLETED)
    async with db.transaction() as session:
        from sqlalchemy import update

        from podnex.models import Subscription

        await session.execute(
            update(Subscription)
            .where(Subscription.user_id == owner.id)
            .values(current_podcast_count=3, current_seconds_used=90.0)
        )
    fragment = owner.email.split("@")[0][-6:]
    found = await api.client.get(
        "/api/v1/admin/users", headers=admin.headers, params={"email": fragment.upper()}
    )
    body = found.json()
    assert found.status_code == 200 and body["pagination"]["total"] == 1, body
    [row] = body["data"]
    assert (row["id"], row["plan"], row["role"], row["disabled"]) == (
        str(owner.id),
        "STARTER",
        "USER",
        False,
    )
    assert (row["podcastsUsed"], row["minutesUsed"]) == (3, 1.5)
    by_plan = await data_of(
        await api.client.get(
            "/api/v1/admin/users", headers=admin.headers, params={"plan": "STARTER", "limit": 100}
        )
    )
    assert all(u["plan"] == "STARTER" for u in by_plan)
    wildcard = await api.client.get(
        "/api/v1/admin/users", headers=admin.headers, params={"email": "%"}
    )
    assert wildcard.json()["pagination"]["total"] == 0


async def test_patch_plan_is_applied_and_audited(
    api: LiveApi, db: Database, admin: ApiUser, user: ApiUser
) -> None:
    url = f"/api/v1/admin/users/{user.id}"
    changed = await data_of(
        await api.client.patch(url, headers=admin.headers, json={"plan": "PRO"})
    )
    assert changed["user"]["plan"] == "PRO"
    shown = await data_of(await api.client.get("/api/v1/user/subscription", headers=user.headers))
    assert shown["plan"] == "PRO"
    log = await data_of(
        await api.client.get(
            "/api/v1/admin/audit", headers=admin.headers, params={"userId": str(user.id)}
        )
    )
    [entry] = [e for e in log if e["action"] == "admin.user.update"]
    assert entry["actor"] == f"admin:{admin.email}" and entry["actorUserId"] == str(admin.id)
    assert entry["details"] == {"plan": ["BUSINESS", "PRO"]}
    assert entry["createdAt"]
    missing = await api.client.patch(
        f"/api/v1/admin/users/{uuid.uuid4()}", headers=admin.headers, json={"plan": "PRO"}
    )
    assert missing.status_code == 404
    bad = await api.client.patch(url, headers=admin.headers, json={"plan": "GOLD"})
    assert bad.status_code == 400
    self_disable = await api.client.patch(
        f"/api/v1/admin/users/{admin.id}", headers=admin.headers, json={"disabled": True}
    )
    assert self_disable.status_code == 409


async def test_disabling_a_user_mid_run_cancels_the_run_and_refuses_the_keys(
    slow: LiveApi, db: Database
) -> None:
    admin = await make_admin(db)
    owner = await make_user(db, Plan.BUSINESS)
    podcast = await create(slow.client, owner)
    for _ in range(300):
        status = await data_of(
            await slow.client.get(f"/api/v1/podcasts/{podcast['id']}", headers=owner.headers)
        )
        if status["status"] == "PROCESSING" and status["progress"] >= 30:
            break
        await asyncio.sleep(0.1)
    assert status["status"] == "PROCESSING", status

    changed = await data_of(
        await slow.client.patch(
            f"/api/v1/admin/users/{owner.id}", headers=admin.headers, json={"disabled": True}
        )
    )
    assert changed["user"]["disabled"] is True
    assert changed["cancelledPodcasts"] == [podcast["id"]], changed
    refused = await slow.client.get("/api/v1/user/profile", headers=owner.headers)
    assert refused.status_code == 401

    listed = await slow.client.get(
        "/api/v1/admin/podcasts", headers=admin.headers, params={"email": owner.email}
    )
    [row] = listed.json()["data"]
    assert row["status"] == "CANCELLED" and row["userEmail"] == owner.email
    assert row["temporalUrl"].startswith(
        f"{UI}/namespaces/default/workflows/podcast-{podcast['id']}"
    )

    # enabled again: the same key works
    await data_of(
        await slow.client.patch(
            f"/api/v1/admin/users/{owner.id}", headers=admin.headers, json={"disabled": False}
        )
    )
    assert (await slow.client.get("/api/v1/user/profile", headers=owner.headers)).status_code == 200
    log = await data_of(
        await slow.client.get(
            "/api/v1/admin/audit", headers=admin.headers, params={"userId": str(owner.id)}
        )
    )
    assert [e["details"] for e in log] == [
        {"disabled": [True, False]},
        {"disabled": [False, True]},
    ]


async def test_podcasts_across_users_with_filters(
    api: LiveApi, db: Database, admin: ApiUser
) -> None:
    first, second = await make_user(db), await make_user(db)
    failed = await add_podcast(db, first, status=PodcastStatus.FAILED, error="x")
    await add_podcast(db, second, status=PodcastStatus.COMPLETED)
    rows = await data_of(
        await api.client.get(
            "/api/v1/admin/podcasts",
            headers=admin.headers,
            params={"status": "FAILED", "userId": str(first.id)},
        )
    )
    assert [row["id"] for row in rows] == [str(failed)]
    assert rows[0]["temporalUrl"] is None  # no workflow, and no TEMPORAL_UI_URL here
    both = await api.client.get(
        "/api/v1/admin/podcasts", headers=admin.headers, params={"provider": "espeak"}
    )
    assert both.json()["pagination"]["total"] >= 2
    bad = await api.client.get(
        "/api/v1/admin/podcasts", headers=admin.headers, params={"status": "LOST"}
    )
    assert bad.status_code == 400
