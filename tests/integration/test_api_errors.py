"""Validation, authentication and ownership errors, through HTTP."""

from __future__ import annotations

import pytest

from tests.conftest import ApiUser, LiveApi, assert_validation_error
from tests.integration.notes import NOTES
from tests.integration.podcasts import stored_podcast


async def test_health_needs_no_key(api: LiveApi) -> None:
    response = await api.client.get("/api/health")
    assert response.status_code == 200
    assert response.json()["success"] is True


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer pnx_wrong"},
    ],
)
async def test_missing_or_bad_key_is_401(api: LiveApi, headers: dict[str, str]) -> None:
    response = await api.client.get("/api/v1/podcasts", headers=headers)
    assert response.status_code == 401
    body = response.json()
    assert body["success"] is False and body["code"] == "UNAUTHORIZED" and body["error"]


@pytest.mark.parametrize(
    ("payload", "field", "reason"),
    [
        ({"noteContent": "too short"}, "noteContent", "at least 100"),
        ({"noteContent": " " * 150}, "noteContent", "at least 100"),
        ({"noteContent": "x" * 50_001}, "noteContent", "at most 50000"),
        ({}, "noteContent", "required"),
        ({"noteContent": NOTES, "duration": "MEDIUM"}, "duration", "SHORT"),
        ({"noteContent": NOTES, "title": ""}, "title", "at least 1"),
        ({"noteContent": NOTES, "title": "t" * 201}, "title", "at most 200"),
        ({"noteContent": NOTES, "hostVoice": "nobody"}, "hostVoice", "valid: "),
        ({"noteContent": NOTES, "ttsProvider": "unreal"}, "ttsProvider", "must be one of"),
        ({"noteContent": 12345}, "noteContent", "string"),
    ],
)
async def test_create_validation_names_field_and_reason(
    api: LiveApi, user: ApiUser, payload: dict[str, object], field: str, reason: str
) -> None:
    response = await api.client.post("/api/v1/podcasts", headers=user.headers, json=payload)
    assert_validation_error(response, field, reason)
    listed = (await api.client.get("/api/v1/podcasts", headers=user.headers)).json()
    assert listed["pagination"]["total"] == 0, "a refused request stores nothing"


async def test_malformed_json_is_400(api: LiveApi, user: ApiUser) -> None:
    response = await api.client.post(
        "/api/v1/podcasts",
        headers={**user.headers, "Content-Type": "application/json"},
        content=b"{not json",
    )
    assert response.status_code == 400
    assert response.json()["success"] is False


@pytest.mark.parametrize("suffix", ["", "/status", "/download"])
async def test_unknown_or_foreign_podcast_is_404(
    api: LiveApi, user: ApiUser, other_user: ApiUser, db, suffix: str
) -> None:
    theirs = await stored_podcast(db, other_user)
    for podcast_id in (str(theirs.id), "00000000-0000-0000-0000-000000000000", "not-a-uuid"):
        response = await api.client.get(
            f"/api/v1/podcasts/{podcast_id}{suffix}", headers=user.headers
        )
        assert response.status_code == 404, (podcast_id, response.text)
        assert response.json() == {
            "success": False,
            "error": "Podcast not found",
            "code": "NOT_FOUND",
        }
    own = await api.client.get(f"/api/v1/podcasts/{theirs.id}{suffix}", headers=other_user.headers)
    expected = 404 if suffix == "/download" else 200
    assert own.status_code == expected
    if suffix == "/download":
        assert own.json()["error"] == "Audio not available yet"


async def test_list_validates_query(api: LiveApi, user: ApiUser) -> None:
    for query in ("page=0", "limit=101", "limit=0", "status=DONE", "sort=title", "order=up"):
        response = await api.client.get(f"/api/v1/podcasts?{query}", headers=user.headers)
        assert response.status_code == 400, (query, response.text)
        assert response.json()["code"] == "VALIDATION_ERROR"
