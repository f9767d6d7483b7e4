"""The smaller hardening items of issue #19, through real HTTP (uvicorn, real Postgres):
WWW-Authenticate on 401, HEAD on signed links, WebVTT escaping, Cache-Control on
authenticated answers, a cap on API keys, unknown JSON fields refused, times rounded to
milliseconds."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import update

from api.app import create_app
from podnex.db import Database
from podnex.models import Podcast
from podnex.settings import Settings
from podnex.storage import create_storage
from podnex.storage.signing import sign
from podnex.vocabulary import PodcastStatus
from tests.conftest import ApiUser, LiveApi, assert_validation_error
from tests.integration.notes import NOTES
from tests.integration.podcasts import stored_podcast


def signed_url(settings: Settings, key: str, expires: int) -> str:
    signature = sign(settings.resolved_secret_key(), key, expires)
    return f"/api/v1/files/{key}?expires={expires}&signature={signature}"


# -- 401 says how to authenticate ---------------------------------------------------------------


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer pnx_wrong"}]
)
async def test_401_carries_www_authenticate_bearer(api: LiveApi, headers: dict[str, str]) -> None:
    response = await api.client.get("/api/v1/podcasts", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


# -- HEAD on a signed link ----------------------------------------------------------------------


async def test_head_on_a_signed_link_gives_the_get_headers_without_a_body(
    api: LiveApi, settings: Settings
) -> None:
    key = f"podcasts/{uuid.uuid4()}/audio.mp3"
    audio = b"ID3" + bytes(range(256)) * 8
    await create_storage(settings).put(key, audio, content_type="audio/mpeg")
    expires = int(time.time()) + 300
    url = signed_url(settings, key, expires)
    got = await api.client.get(url)
    head = await api.client.head(url)
    assert head.status_code == 200, head.text
    assert head.content == b""
    assert head.headers["content-length"] == str(len(audio)) == got.headers["content-length"]
    for name in ("content-type", "accept-ranges", "content-disposition", "cache-control"):
        assert head.headers[name] == got.headers[name], name
    ranged = await api.client.head(url, headers={"Range": "bytes=0-9"})
    assert ranged.status_code == 206 and ranged.content == b""
    assert ranged.headers["content-range"] == f"bytes 0-9/{len(audio)}"
    bad = await api.client.head(url.replace("signature=", "signature=x"))
    assert bad.status_code == 403


# -- WebVTT --------------------------------------------------------------------------------------


async def _completed(db: Database, user: ApiUser, lines: list[dict[str, Any]]) -> Podcast:
    podcast = await stored_podcast(db, user)
    async with db.transaction() as session:
        await session.execute(
            update(Podcast)
            .where(Podcast.id == podcast.id)
            .values(
                status=PodcastStatus.COMPLETED,
                transcript=lines,
                audio_key=f"podcasts/{podcast.id}/audio.mp3",
                audio_duration=12.345678901234567,
                audio_size_bytes=1000,
                progress=100,
            )
        )
    return podcast


async def test_webvtt_escapes_ampersand_and_angle_brackets(
    api: LiveApi, db: Database, user: ApiUser
) -> None:
    podcast = await _completed(
        db,
        user,
        [
            {
                "speaker": "host",
                "text": "R&D <b>bold</b> a --> b",
                "start_seconds": 0.0,
                "end_seconds": 2.5,
            },
            {"speaker": "guest", "text": "1 < 2 & 3 > 2", "start_seconds": 2.5, "end_seconds": 4.0},
        ],
    )
    response = await api.client.get(
        f"/api/v1/podcasts/{podcast.id}/transcript?format=vtt", headers=user.headers
    )
    assert response.status_code == 200, response.text
    vtt = response.text
    assert "<v Host>R&amp;D &lt;b&gt;bold&lt;/b&gt; a --&gt; b" in vtt, vtt
    assert "<v Guest>1 &lt; 2 &amp; 3 &gt; 2" in vtt, vtt
    assert "-->" not in vtt.replace(" --> ", ""), "only cue timings may hold -->"


# -- times rounded to milliseconds --------------------------------------------------------------


async def test_times_in_answers_have_at_most_three_decimals(
    api: LiveApi, db: Database, user: ApiUser, settings: Settings
) -> None:
    podcast = await _completed(
        db,
        user,
        [
            {
                "speaker": "host",
                "text": "Hello.",
                "start_seconds": 0.0,
                "end_seconds": 1.1234567890123,
            },
            {
                "speaker": "guest",
                "text": "Hi.",
                "start_seconds": 1.1234567890123,
                "end_seconds": 12.345678901234567,
            },
        ],
    )
    await create_storage(settings).put(
        f"podcasts/{podcast.id}/audio.mp3", b"ID3" + bytes(997), content_type="audio/mpeg"
    )
    download = await api.client.get(f"/api/v1/podcasts/{podcast.id}/download", headers=user.headers)
    assert download.status_code == 200, download.text
    assert download.json()["data"]["audioDuration"] == 12.346
    transcript = await api.client.get(
        f"/api/v1/podcasts/{podcast.id}/transcript", headers=user.headers
    )
    lines = transcript.json()["data"]["lines"]
    assert [(line["startSeconds"], line["endSeconds"]) for line in lines] == [
        (0.0, 1.123),
        (1.123, 12.346),
    ]


# -- Cache-Control on authenticated answers -------------------------------------------------------


async def test_authenticated_answers_are_not_stored_by_caches(
    api: LiveApi, db: Database, user: ApiUser, settings: Settings
) -> None:
    podcast = await stored_podcast(db, user)
    for path in (
        "/api/v1/user/profile",
        "/api/v1/api-keys",
        "/api/v1/podcasts",
        f"/api/v1/podcasts/{podcast.id}",
        f"/api/v1/podcasts/{uuid.uuid4()}",  # a 404 is private too
    ):
        response = await api.client.get(path, headers=user.headers)
        assert response.headers["cache-control"] == "no-store", path
    # signed audio links keep their own caching
    key = f"podcasts/{uuid.uuid4()}/audio.mp3"
    await create_storage(settings).put(key, b"ID3" + bytes(100), content_type="audio/mpeg")
    expires = int(time.time()) + 300
    url = signed_url(settings, key, expires)
    assert (await api.client.get(url)).headers["cache-control"] == "private, max-age=300"


# -- a cap on API keys ---------------------------------------------------------------------------


async def test_api_keys_per_user_are_capped(settings: Settings, user: ApiUser) -> None:
    app = create_app(settings.model_copy(update={"max_api_keys_per_user": 3}))
    async with AsyncTestClient(app=app) as client:
        created = [
            await client.post("/api/v1/api-keys", headers=user.headers, json={"name": f"k{i}"})
            for i in range(2)  # the user already has one
        ]
        assert [c.status_code for c in created] == [201, 201]
        refused = await client.post("/api/v1/api-keys", headers=user.headers, json={"name": "k3"})
        assert refused.status_code == 409, refused.text
        body = refused.json()
        assert body["code"] == "API_KEY_LIMIT" and "3" in body["error"], body
        revoked = await client.delete(
            f"/api/v1/api-keys/{created[0].json()['data']['id']}", headers=user.headers
        )
        assert revoked.status_code == 200
        again = await client.post("/api/v1/api-keys", headers=user.headers, json={"name": "k4"})
        assert again.status_code == 201, "revoked keys do not count"


def test_max_api_keys_setting_defaults_to_25() -> None:
    assert Settings().max_api_keys_per_user == 25


# -- unknown JSON fields -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "payload", "field"),
    [
        ("POST", "/api/v1/podcasts", {"noteContent": NOTES, "durration": "LONG"}, "durration"),
        ("POST", "/api/v1/api-keys", {"name": "laptop", "scopes": ["all"]}, "scopes"),
        ("PATCH", "/api/v1/user/profile", {"nmae": "Ana"}, "nmae"),
    ],
)
async def test_unknown_fields_are_refused_by_name(
    api: LiveApi, user: ApiUser, method: str, path: str, payload: dict[str, Any], field: str
) -> None:
    response = await api.client.request(method, path, headers=user.headers, json=payload)
    assert_validation_error(response, field, "not permitted")
    assert field in response.json()["error"]
    listed = (await api.client.get("/api/v1/podcasts", headers=user.headers)).json()
    assert listed["pagination"]["total"] == 0, "nothing was made"


async def test_unknown_field_on_podcast_update_is_refused(
    api: LiveApi, db: Database, user: ApiUser
) -> None:
    podcast = await stored_podcast(db, user)
    response = await api.client.patch(
        f"/api/v1/podcasts/{podcast.id}", headers=user.headers, json={"titel": "New"}
    )
    assert_validation_error(response, "titel", "not permitted")
