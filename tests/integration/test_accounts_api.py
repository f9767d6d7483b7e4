"""Profile, subscription, usage and API keys through real HTTP against a real database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from podnex.db import Database
from podnex.models import ApiKey, Subscription, User
from podnex.periods import add_months
from podnex.plans import Plan
from tests.conftest import ApiUser, LiveApi, assert_validation_error, make_user

KEY_NOT_FOUND = {"success": False, "error": "API key not found", "code": "NOT_FOUND"}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def when(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def set_usage(db: Database, user: ApiUser, **values: Any) -> None:
    async with db.transaction() as session:
        await session.execute(
            update(Subscription).where(Subscription.user_id == user.id).values(**values)
        )


async def get_data(api: LiveApi, path: str, key: str) -> Any:
    response = await api.client.get(path, headers=bearer(key))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    return body["data"]


# -- profile ------------------------------------------------------------------------------


async def test_profile_shows_the_caller(api: LiveApi, user: ApiUser) -> None:
    data = await get_data(api, "/api/v1/user/profile", user.key)
    assert set(data) == {"id", "name", "email", "image", "createdAt"}
    assert data["id"] == str(user.id)
    assert data["email"] == user.email
    assert data["name"] is None and data["image"] is None
    assert abs(when(data["createdAt"]) - datetime.now(UTC)) < timedelta(minutes=5)


async def test_profile_update_changes_only_the_given_fields(
    api: LiveApi, user: ApiUser, other_user: ApiUser
) -> None:
    # fields that are not the profile's (e-mail, id) are refused by name, nothing changes
    refused = await api.client.patch(
        "/api/v1/user/profile",
        headers=user.headers,
        json={
            "name": "  Ada Lovelace ",
            "email": "someone-else@example.com",
            "id": str(other_user.id),
        },
    )
    assert refused.status_code == 400, refused.text
    assert {d["field"] for d in refused.json()["details"]} == {"email", "id"}
    unchanged = await get_data(api, "/api/v1/user/profile", user.key)
    assert (unchanged["name"], unchanged["email"]) == (None, user.email)

    response = await api.client.patch(
        "/api/v1/user/profile",
        headers=user.headers,
        json={"name": "  Ada Lovelace ", "image": "https://example.com/ada.png"},
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "success": True,
        "data": {
            "id": str(user.id),
            "name": "Ada Lovelace",
            "email": user.email,
            "image": "https://example.com/ada.png",
        },
    }

    response = await api.client.patch(
        "/api/v1/user/profile", headers=user.headers, json={"name": "Ada"}
    )
    assert response.json()["data"]["image"] == "https://example.com/ada.png"
    profile = await get_data(api, "/api/v1/user/profile", user.key)
    assert (profile["name"], profile["image"], profile["email"]) == (
        "Ada",
        "https://example.com/ada.png",
        user.email,
    )

    response = await api.client.patch(
        "/api/v1/user/profile", headers=user.headers, json={"image": None}
    )
    assert response.json()["data"] == {
        "id": str(user.id),
        "name": "Ada",
        "email": user.email,
        "image": None,
    }

    theirs = await get_data(api, "/api/v1/user/profile", other_user.key)
    assert (theirs["id"], theirs["name"], theirs["image"]) == (str(other_user.id), None, None)


@pytest.mark.parametrize(
    ("payload", "field", "reason"),
    [
        ({"name": ""}, "name", "at least 1"),
        ({"name": "   "}, "name", "blank"),
        ({"name": "n" * 201}, "name", "at most 200"),
        ({"name": 42}, "name", "string"),
        ({"image": "ftp://example.com/a.png"}, "image", "http(s) URL"),
        ({"image": "example.com/a.png"}, "image", "http(s) URL"),
        ({"image": "javascript:alert(1)"}, "image", "http(s) URL"),
        ({"image": "https://exa mple.com/a.png"}, "image", "http(s) URL"),
        ({"image": "https://example.com/" + "a" * 2030}, "image", "at most 2048"),
    ],
)
async def test_profile_update_validation_names_field(
    api: LiveApi, user: ApiUser, payload: dict[str, object], field: str, reason: str
) -> None:
    response = await api.client.patch("/api/v1/user/profile", headers=user.headers, json=payload)
    assert_validation_error(response, field, reason)
    profile = await get_data(api, "/api/v1/user/profile", user.key)
    assert profile["name"] is None and profile["image"] is None, "a refused change stores nothing"


# -- subscription and usage ------------------------------------------------------------------


async def test_subscription_shows_counters_and_plan_limits(api: LiveApi, db: Database) -> None:
    owner = await make_user(db, Plan.FREE)
    await set_usage(db, owner, current_podcast_count=3, current_seconds_used=59.0)
    data = await get_data(api, "/api/v1/user/subscription", owner.key)
    async with db.transaction() as session:
        row = await session.scalar(select(Subscription).where(Subscription.user_id == owner.id))
    assert row is not None
    assert {
        "id",
        "plan",
        "status",
        "currentPodcastCount",
        "currentMinutesUsed",
        "monthlyPodcastLimit",
        "monthlyMinutesLimit",
        "currentPeriodStart",
        "currentPeriodEnd",
        "usageResetDate",
    } <= set(data)
    assert data["id"] == str(row.id)
    assert (data["plan"], data["status"]) == ("FREE", "ACTIVE")
    assert data["currentPodcastCount"] == 3
    assert data["currentMinutesUsed"] == 0.98
    assert (data["monthlyPodcastLimit"], data["monthlyMinutesLimit"]) == (5, 25)
    assert when(data["currentPeriodStart"]) == row.current_period_start
    assert when(data["currentPeriodEnd"]) == row.current_period_end
    assert data["usageResetDate"] == data["currentPeriodEnd"]


async def test_usage_has_the_seed_shape(api: LiveApi, db: Database) -> None:
    owner = await make_user(db, Plan.STARTER)
    await set_usage(db, owner, current_podcast_count=7, current_seconds_used=125.5)
    data = await get_data(api, "/api/v1/user/usage", owner.key)
    subscription = await get_data(api, "/api/v1/user/subscription", owner.key)
    assert data == {
        "currentPeriod": {
            "podcastsUsed": 7,
            "podcastsLimit": 50,
            "minutesUsed": 2.09,
            "minutesLimit": 250,
            "resetDate": subscription["currentPeriodEnd"],
        },
        "subscription": {
            "plan": "STARTER",
            "status": "ACTIVE",
            "currentPeriodStart": subscription["currentPeriodStart"],
            "currentPeriodEnd": subscription["currentPeriodEnd"],
        },
    }


async def test_business_limits_are_null(api: LiveApi, user: ApiUser, db: Database) -> None:
    await set_usage(db, user, current_podcast_count=1000, current_seconds_used=90_000.0)
    subscription = await get_data(api, "/api/v1/user/subscription", user.key)
    assert subscription["plan"] == "BUSINESS"
    assert subscription["monthlyPodcastLimit"] is None
    assert subscription["monthlyMinutesLimit"] is None
    assert subscription["currentMinutesUsed"] == 1500.0
    usage = await get_data(api, "/api/v1/user/usage", user.key)
    assert usage["currentPeriod"]["podcastsLimit"] is None
    assert usage["currentPeriod"]["minutesLimit"] is None
    assert usage["currentPeriod"]["podcastsUsed"] == 1000


async def test_a_passed_period_reads_as_the_current_empty_one(api: LiveApi, db: Database) -> None:
    owner = await make_user(db, Plan.PRO)
    now = datetime.now(UTC)
    start = add_months(now, -3)
    await set_usage(
        db,
        owner,
        current_period_start=start,
        current_period_end=add_months(start, 1),
        current_podcast_count=9,
        current_seconds_used=600.0,
    )
    subscription = await get_data(api, "/api/v1/user/subscription", owner.key)
    usage = await get_data(api, "/api/v1/user/usage", owner.key)
    period_start, period_end = (
        when(subscription["currentPeriodStart"]),
        when(subscription["currentPeriodEnd"]),
    )
    assert period_start <= now < period_end
    assert period_end == add_months(period_start, 1)
    assert (subscription["currentPodcastCount"], subscription["currentMinutesUsed"]) == (0, 0.0)
    assert usage["currentPeriod"]["podcastsUsed"] == 0
    assert usage["currentPeriod"]["minutesUsed"] == 0.0
    assert when(usage["currentPeriod"]["resetDate"]) == period_end


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/user/profile"),
        ("PATCH", "/api/v1/user/profile"),
        ("GET", "/api/v1/user/subscription"),
        ("GET", "/api/v1/user/usage"),
        ("GET", "/api/v1/api-keys"),
        ("POST", "/api/v1/api-keys"),
        ("DELETE", f"/api/v1/api-keys/{uuid.uuid4()}"),
    ],
)
async def test_account_routes_need_a_key(api: LiveApi, method: str, path: str) -> None:
    response = await api.client.request(method, path, headers=bearer("pnx_wrong"), json={})
    assert response.status_code == 401
    assert response.json()["code"] == "UNAUTHORIZED"


# -- API keys ---------------------------------------------------------------------------------


async def create_key(api: LiveApi, key: str, name: str) -> dict[str, Any]:
    response = await api.client.post("/api/v1/api-keys", headers=bearer(key), json={"name": name})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["success"] is True
    return body["data"]  # type: ignore[no-any-return]


async def test_create_list_and_revoke_keys(api: LiveApi, user: ApiUser, db: Database) -> None:
    first = await create_key(api, user.key, "laptop")
    second = await create_key(api, user.key, "  ci  ")
    assert set(first) == {"id", "name", "prefix", "key", "createdAt"}
    assert second["name"] == "ci"
    for created in (first, second):
        assert created["key"].startswith("pnx_") and created["key"].startswith(created["prefix"])
        assert len(created["key"]) >= len("pnx_") + 32, "at least 192 bits of randomness"
    assert first["key"] != second["key"]

    profile = await get_data(api, "/api/v1/user/profile", second["key"])
    assert profile["id"] == str(user.id), "a new key authenticates as its creator"

    response = await api.client.get("/api/v1/api-keys", headers=user.headers)
    assert response.status_code == 200
    listed = response.json()["data"]
    assert [k["name"] for k in listed] == ["ci", "laptop", "test"], "newest first"
    assert all(set(k) == {"id", "name", "prefix", "createdAt", "lastUsedAt"} for k in listed)
    by_id = {k["id"]: k for k in listed}
    assert by_id[second["id"]]["lastUsedAt"] is not None, "its use was recorded"
    assert by_id[first["id"]]["lastUsedAt"] is None
    for secret in (first["key"], second["key"], user.key):
        assert secret not in response.text, "a key is shown only when it is created"
    async with db.transaction() as session:
        hashes = (await session.scalars(select(ApiKey.key_hash))).all()
    assert not any(h in response.text for h in hashes), "hashes never leave the database"

    response = await api.client.delete(f"/api/v1/api-keys/{first['id']}", headers=user.headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"success": True, "message": "API key revoked"}
    listed = (await api.client.get("/api/v1/api-keys", headers=user.headers)).json()["data"]
    assert [k["name"] for k in listed] == ["ci", "test"]
    assert first["id"] not in {k["id"] for k in listed}

    response = await api.client.get("/api/v1/user/profile", headers=bearer(first["key"]))
    assert response.status_code == 401
    async with db.transaction() as session:
        revoked = await session.get(ApiKey, uuid.UUID(first["id"]))
    assert revoked is not None and revoked.revoked_at is not None

    again = await api.client.delete(f"/api/v1/api-keys/{first['id']}", headers=user.headers)
    assert again.status_code == 404 and again.json() == KEY_NOT_FOUND


async def test_a_revoked_key_is_refused_on_its_next_request(api: LiveApi, db: Database) -> None:
    owner = await make_user(db)
    key_id = (await get_data(api, "/api/v1/api-keys", owner.key))[0]["id"]
    response = await api.client.delete(f"/api/v1/api-keys/{key_id}", headers=owner.headers)
    assert response.status_code == 200, "a key may revoke itself"
    response = await api.client.get("/api/v1/api-keys", headers=owner.headers)
    assert response.status_code == 401
    assert response.json()["success"] is False


@pytest.mark.parametrize(
    ("payload", "reason"),
    [({}, "required"), ({"name": ""}, "at least 1"), ({"name": "k" * 101}, "at most 100")],
)
async def test_create_key_validation_names_field(
    api: LiveApi, user: ApiUser, payload: dict[str, object], reason: str
) -> None:
    response = await api.client.post("/api/v1/api-keys", headers=user.headers, json=payload)
    assert_validation_error(response, "name", reason)
    listed = await get_data(api, "/api/v1/api-keys", user.key)
    assert len(listed) == 1, "a refused request stores nothing"


async def test_another_users_key_is_not_found_and_keeps_working(
    api: LiveApi, user: ApiUser, other_user: ApiUser
) -> None:
    theirs = await create_key(api, other_user.key, "theirs")
    for key_id in (theirs["id"], str(uuid.uuid4()), "not-a-uuid"):
        response = await api.client.delete(f"/api/v1/api-keys/{key_id}", headers=user.headers)
        assert response.status_code == 404, (key_id, response.text)
        assert response.json() == KEY_NOT_FOUND

    mine = await get_data(api, "/api/v1/api-keys", user.key)
    assert theirs["id"] not in {k["id"] for k in mine}
    assert len(mine) == 1

    profile = await get_data(api, "/api/v1/user/profile", theirs["key"])
    assert profile["id"] == str(other_user.id)
    listed = await get_data(api, "/api/v1/api-keys", other_user.key)
    assert theirs["id"] in {k["id"] for k in listed}


async def test_each_user_sees_only_their_own_account(
    api: LiveApi, db: Database, user: ApiUser, other_user: ApiUser
) -> None:
    await set_usage(db, other_user, current_podcast_count=4, current_seconds_used=30.0)
    mine = await get_data(api, "/api/v1/user/subscription", user.key)
    theirs = await get_data(api, "/api/v1/user/subscription", other_user.key)
    assert mine["id"] != theirs["id"]
    assert (mine["currentPodcastCount"], mine["currentMinutesUsed"]) == (0, 0.0)
    assert (theirs["currentPodcastCount"], theirs["currentMinutesUsed"]) == (4, 0.5)

    await api.client.patch("/api/v1/user/profile", headers=user.headers, json={"name": "Me"})
    async with db.transaction() as session:
        other = await session.get(User, other_user.id)
    assert other is not None and other.name is None


async def test_openapi_documents_the_account_routes(api: LiveApi) -> None:
    schema = (await api.client.get("/schema/openapi.json")).json()
    operations = {
        op["operationId"]: op for path in schema["paths"].values() for op in path.values()
    }
    for operation_id in (
        "getProfile",
        "updateProfile",
        "getSubscription",
        "getUsage",
        "createApiKey",
        "listApiKeys",
        "revokeApiKey",
    ):
        assert operations[operation_id]["security"] == [{"BearerAuth": []}], operation_id


async def test_last_used_is_recorded_at_most_once_a_minute(
    api: LiveApi, db: Database, user: ApiUser
) -> None:
    """A key's use is written when it has none or the last is a minute old, not on every
    request (a busy key would turn each request into a database write)."""

    async def last_used() -> datetime | None:
        async with db.transaction() as session:
            key = (
                await session.execute(select(ApiKey).where(ApiKey.user_id == user.id))
            ).scalar_one()
            return key.last_used_at

    await get_data(api, "/api/v1/user/profile", user.key)
    first = await last_used()
    assert first is not None
    await get_data(api, "/api/v1/user/profile", user.key)
    assert await last_used() == first, "a second use within the minute writes nothing"

    async with db.transaction() as session:
        stale = first - timedelta(minutes=2)
        await session.execute(
            update(ApiKey).where(ApiKey.user_id == user.id).values(last_used_at=stale)
        )
    await get_data(api, "/api/v1/user/profile", user.key)
    refreshed = await last_used()
    assert refreshed is not None and refreshed > first
