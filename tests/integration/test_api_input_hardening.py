"""Hostile or careless input answers 4xx, never 500, and says what is wrong (issue #19):
deep JSON, huge Range numbers, bodies that are not JSON, missing bodies, lone surrogates,
unknown fields. Real HTTP through the `api` fixture (uvicorn, real Postgres)."""

from __future__ import annotations

import time
import uuid

import pytest

from podnex.settings import Settings
from podnex.storage import create_storage
from podnex.storage.signing import sign
from tests.conftest import ApiUser, LiveApi, assert_validation_error
from tests.integration.notes import NOTES

JSON = {"Content-Type": "application/json"}

JSON_ROUTES = [
    ("POST", "/api/v1/podcasts"),
    ("POST", "/api/v1/api-keys"),
    ("PATCH", "/api/v1/user/profile"),
]


# -- deep JSON and huge Range numbers (issue #19, 6) -----------------------------------------


@pytest.mark.parametrize(("method", "path"), JSON_ROUTES)
async def test_deeply_nested_json_is_400(
    api: LiveApi, user: ApiUser, method: str, path: str
) -> None:
    deep = b'{"name": ' + b"[" * 1000 + b"]" * 1000 + b"}"
    response = await api.client.request(
        method, path, headers={**user.headers, **JSON}, content=deep
    )
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["success"] is False and "nested" in body["error"].lower(), body


async def _signed_file(api: LiveApi, settings: Settings) -> tuple[str, int]:
    key = f"podcasts/{uuid.uuid4()}/audio.mp3"
    audio = b"ID3" + bytes(range(256)) * 4
    await create_storage(settings).put(key, audio, content_type="audio/mpeg")
    expires = int(time.time()) + 300
    signature = sign(settings.resolved_secret_key(), key, expires)
    return f"/api/v1/files/{key}?expires={expires}&signature={signature}", len(audio)


@pytest.mark.parametrize(
    ("header", "status"),
    [
        ("bytes=" + "9" * 5000 + "-", 416),
        ("bytes=" + "1" * 5000 + "-" + "2" * 5000, 416),
        ("bytes=0-" + "9" * 5000, 206),
        ("bytes=-" + "9" * 5000, 206),
    ],
)
async def test_range_with_huge_numbers_is_416_or_clamped(
    api: LiveApi, settings: Settings, header: str, status: int
) -> None:
    url, size = await _signed_file(api, settings)
    response = await api.client.get(url, headers={"Range": header})
    assert response.status_code == status, response.text[:300]
    if status == 416:
        assert response.headers["content-range"] == f"bytes */{size}"
    else:
        assert response.headers["content-range"] == f"bytes 0-{size - 1}/{size}"
        assert len(response.content) == size


# -- bodies that are not JSON, missing or malformed (issue #19, low) ---------------------------


@pytest.mark.parametrize(("method", "path"), JSON_ROUTES)
@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"]
)
async def test_body_that_is_not_json_is_415(
    api: LiveApi, user: ApiUser, method: str, path: str, content_type: str
) -> None:
    response = await api.client.request(
        method,
        path,
        headers={**user.headers, "Content-Type": content_type},
        content=b'{"name": "laptop", "noteContent": "x"}',
    )
    assert response.status_code == 415, response.text
    body = response.json()
    assert body["success"] is False and body["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert "application/json" in body["error"] and content_type in body["error"]


async def test_json_with_charset_and_vendor_types_are_json(api: LiveApi, user: ApiUser) -> None:
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        response = await api.client.patch(
            "/api/v1/user/profile",
            headers={**user.headers, "Content-Type": content_type},
            content=b'{"name": "Ana"}',
        )
        assert response.status_code == 200, (content_type, response.text)


@pytest.mark.parametrize(("method", "path"), JSON_ROUTES)
@pytest.mark.parametrize("headers", [JSON, {}])
async def test_missing_body_says_so(
    api: LiveApi, user: ApiUser, method: str, path: str, headers: dict[str, str]
) -> None:
    response = await api.client.request(method, path, headers={**user.headers, **headers})
    assert_validation_error(response, "body", "missing")
    assert "'data'" not in response.text


@pytest.mark.parametrize("payload", [b"null", b"[]", b'"text"', b"42"])
async def test_body_that_is_not_an_object_says_so(
    api: LiveApi, user: ApiUser, payload: bytes
) -> None:
    response = await api.client.post(
        "/api/v1/api-keys", headers={**user.headers, **JSON}, content=payload
    )
    assert_validation_error(response, "body", "JSON object")


@pytest.mark.parametrize("escape", [rb"\ud800", rb"\udc00", rb"\ud800x", rb"\ud800\u0041"])
async def test_lone_surrogate_escape_is_named(api: LiveApi, user: ApiUser, escape: bytes) -> None:
    response = await api.client.post(
        "/api/v1/api-keys",
        headers={**user.headers, **JSON},
        content=b'{"name": "key ' + escape + b'"}',
    )
    assert response.status_code == 400, response.text
    message = response.json()["error"]
    assert "surrogate" in message.lower(), message
    assert "truncated" not in message.lower(), message


async def test_malformed_json_names_the_problem(api: LiveApi, user: ApiUser) -> None:
    response = await api.client.post(
        "/api/v1/podcasts", headers={**user.headers, **JSON}, content=b'{"noteContent": '
    )
    assert response.status_code == 400, response.text
    assert "json" in response.json()["error"].lower()


async def test_valid_json_still_works(api: LiveApi, user: ApiUser) -> None:
    response = await api.client.post(
        "/api/v1/api-keys", headers=user.headers, json={"name": "laptop"}
    )
    assert response.status_code == 201, response.text
    assert NOTES  # the sample notes load (used by the create tests in this module)
