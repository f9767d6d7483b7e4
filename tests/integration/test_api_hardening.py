"""The API's cross-cutting guarantees: readiness, request ids, rate limits, CORS,
compression, security headers, body size limit and the OpenAPI document.

Real HTTP through the `api` fixture (uvicorn) where the default settings do; an app built
from changed settings runs in-process under Litestar's AsyncTestClient.
"""

from __future__ import annotations

import gzip
import json
import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import brotli
import httpx
import pytest
import structlog
from litestar import Litestar, get
from litestar.testing import AsyncTestClient
from openapi_spec_validator import validate

from api.app import create_app
from api.middleware import CONTENT_SECURITY_POLICY
from podnex.db import Database
from podnex.embedded import free_port
from podnex.settings import Settings
from podnex.storage import create_storage
from podnex.storage.signing import sign
from tests.conftest import ApiUser, LiveApi
from tests.integration.podcasts import stored_podcast

HELMET_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "origin-agent-cluster": "?1",
    "referrer-policy": "no-referrer",
    "strict-transport-security": "max-age=31536000; includeSubDomains",
    "x-content-type-options": "nosniff",
    "x-dns-prefetch-control": "off",
    "x-download-options": "noopen",
    "x-frame-options": "SAMEORIGIN",
    "x-permitted-cross-domain-policies": "none",
    "x-xss-protection": "0",
}


@asynccontextmanager
async def app_client(settings: Settings, **changes: Any) -> AsyncIterator[AsyncTestClient[Any]]:
    """An in-process client of an app built from `settings` with `changes`."""
    async with AsyncTestClient(app=create_app(settings.model_copy(update=changes))) as client:
        yield client


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The response is `status` in the seed's error envelope with `code`; returns the body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert body["success"] is False and body["code"] == code and body["error"], body
    return body


# -- readiness ---------------------------------------------------------------------------


async def test_ready_when_database_and_temporal_answer(api: LiveApi) -> None:
    response = await api.client.get("/api/ready")
    assert response.status_code == 200, response.text
    assert response.json() == {"success": True, "checks": {"database": "ok", "temporal": "ok"}}


async def test_not_ready_names_temporal_when_it_does_not_answer(settings: Settings) -> None:
    closed = f"127.0.0.1:{free_port()}"
    async with app_client(settings, temporal_address=closed) as client:
        started = time.monotonic()
        response = await client.get("/api/ready")
        elapsed = time.monotonic() - started
    body = assert_error(response, 503, "SERVICE_UNAVAILABLE")
    assert body["details"]["database"] == "ok"
    assert body["details"]["temporal"] in ("error", "timeout"), body
    assert "temporal" in body["error"]
    assert elapsed < 5, f"readiness must answer within its check bounds, took {elapsed:.1f} s"


# -- request ids and log context -----------------------------------------------------------


async def test_request_id_is_generated_on_every_response(api: LiveApi) -> None:
    for path, status in (("/api/health", 200), ("/api/v1/podcasts", 401), ("/nope", 404)):
        response = await api.client.get(path)
        assert response.status_code == status
        assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"]), path
    first = (await api.client.get("/api/health")).headers["x-request-id"]
    second = (await api.client.get("/api/health")).headers["x-request-id"]
    assert first != second


@pytest.mark.parametrize(
    ("sent", "echoed"),
    [
        ("abc-123.X_y", True),
        ("a" * 128, True),
        ("a" * 129, False),
        ("has space", False),
        ("semi;colon", False),
    ],
)
async def test_sane_request_id_is_echoed_others_replaced(
    api: LiveApi, sent: str, echoed: bool
) -> None:
    response = await api.client.get("/api/health", headers={"X-Request-ID": sent})
    returned = response.headers.get_list("x-request-id")
    assert len(returned) == 1
    if echoed:
        assert returned[0] == sent
    else:
        assert re.fullmatch(r"[0-9a-f]{32}", returned[0])


@get("/api/v1/test-log-context", include_in_schema=False)
async def log_context() -> dict[str, Any]:
    """What a log line written by a handler would carry from structlog's context."""
    return structlog.contextvars.get_contextvars()


async def test_log_context_carries_request_and_user_ids(settings: Settings, user: ApiUser) -> None:
    app: Litestar = create_app(settings)
    app.register(log_context)
    async with AsyncTestClient(app=app) as client:
        response = await client.get(
            "/api/v1/test-log-context", headers={**user.headers, "X-Request-ID": "trace-42"}
        )
    assert response.status_code == 200, response.text
    context = response.json()
    assert context["request_id"] == "trace-42"
    assert context["user_id"] == str(user.id)
    assert "request_id" not in structlog.contextvars.get_contextvars(), "context leaked"


# -- rate limiting ---------------------------------------------------------------------------


async def test_rate_limit_per_api_key(
    settings: Settings, user: ApiUser, other_user: ApiUser
) -> None:
    async with app_client(settings, rate_limit_per_minute=3) as client:
        for _ in range(3):
            allowed = await client.get("/api/v1/user/profile", headers=user.headers)
            assert allowed.status_code == 200, allowed.text
            assert allowed.headers["ratelimit-limit"] == "3"
        refused = await client.get("/api/v1/user/profile", headers=user.headers)
        body = assert_error(refused, 429, "RATE_LIMITED")
        retry_after = int(refused.headers["retry-after"])
        assert 1 <= retry_after <= 60
        assert str(retry_after) in body["error"]
        assert refused.headers["ratelimit-remaining"] == "0"
        assert refused.headers["x-request-id"]

        other = await client.get("/api/v1/user/profile", headers=other_user.headers)
        assert other.status_code == 200, "another key has its own budget"
        for _ in range(5):
            assert (await client.get("/api/health")).status_code == 200
            assert (await client.get("/api/ready")).status_code == 200
            assert (await client.get("/schema/openapi.json")).status_code == 200


async def test_rate_limit_zero_disables_it(settings: Settings, user: ApiUser) -> None:
    async with app_client(settings, rate_limit_per_minute=0) as client:
        for _ in range(5):
            response = await client.get("/api/v1/user/profile", headers=user.headers)
            assert response.status_code == 200
            assert "ratelimit-limit" not in response.headers


async def test_default_rate_limit_is_applied(api: LiveApi, user: ApiUser) -> None:
    response = await api.client.get("/api/v1/user/profile", headers=user.headers)
    assert response.headers["ratelimit-limit"] == "600"
    assert "ratelimit-limit" not in (await api.client.get("/api/health")).headers


# -- CORS --------------------------------------------------------------------------------------


def preflight_headers(origin: str) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }


async def test_cors_preflight_allows_the_frontend_origin(api: LiveApi) -> None:
    origin = "http://localhost:3000"
    response = await api.client.options("/api/v1/podcasts", headers=preflight_headers(origin))
    assert response.status_code in (200, 204), response.text
    assert response.headers["access-control-allow-origin"] == origin
    assert response.headers["access-control-allow-credentials"] == "true"
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "authorization" in response.headers["access-control-allow-headers"].lower()
    assert response.headers["x-request-id"]


async def test_cors_preflight_refuses_other_origins(api: LiveApi) -> None:
    response = await api.client.options(
        "/api/v1/podcasts", headers=preflight_headers("https://evil.example")
    )
    assert response.status_code >= 400
    assert "access-control-allow-origin" not in response.headers


async def test_cors_origins_are_configurable(settings: Settings, user: ApiUser) -> None:
    app_origin = "https://app.example"
    async with app_client(settings, cors_origins=[app_origin]) as client:
        allowed = await client.options("/api/v1/podcasts", headers=preflight_headers(app_origin))
        assert allowed.headers["access-control-allow-origin"] == app_origin
        refused = await client.options(
            "/api/v1/podcasts", headers=preflight_headers("http://localhost:3000")
        )
        assert "access-control-allow-origin" not in refused.headers
        simple = await client.get(
            "/api/v1/user/profile", headers={**user.headers, "Origin": app_origin}
        )
        assert simple.headers["access-control-allow-origin"] == app_origin
        exposed = simple.headers["access-control-expose-headers"].lower()
        assert "x-request-id" in exposed and "retry-after" in exposed


def test_cors_origins_setting_accepts_commas_and_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORS_ORIGINS", "https://a.example, https://b.example/")
    assert Settings().cors_origins == ["https://a.example", "https://b.example"]
    monkeypatch.setenv("CORS_ORIGINS", '["https://a.example", "http://localhost:5173"]')
    assert Settings().cors_origins == ["https://a.example", "http://localhost:5173"]
    monkeypatch.setenv("CORS_ORIGINS", "localhost:3000")
    with pytest.raises(ValueError, match="CORS_ORIGINS"):
        Settings()


# -- compression -------------------------------------------------------------------------------


async def _podcasts_for(db: Database, user: ApiUser, count: int) -> None:
    for _ in range(count):
        await stored_podcast(db, user)


async def _raw_get(base_url: str, path: str, headers: dict[str, str]) -> httpx.Response:
    """GET without httpx decoding the body, so the bytes on the wire can be checked."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        request = client.build_request("GET", path, headers=headers)
        response = await client.send(request, stream=True)
        response._content = b"".join([chunk async for chunk in response.aiter_raw()])
        await response.aclose()
        return response


async def test_large_json_is_compressed_with_brotli_or_gzip(
    api: LiveApi, db: Database, user: ApiUser
) -> None:
    await _podcasts_for(db, user, 3)
    plain = await _raw_get(
        api.base_url, "/api/v1/podcasts", {**user.headers, "Accept-Encoding": "identity"}
    )
    assert "content-encoding" not in plain.headers
    expected = json.loads(plain.content)
    assert len(plain.content) > 500 and expected["pagination"]["total"] == 3

    br = await _raw_get(
        api.base_url, "/api/v1/podcasts", {**user.headers, "Accept-Encoding": "br, gzip"}
    )
    assert br.headers["content-encoding"] == "br"
    assert "accept-encoding" in br.headers["vary"].lower()
    assert json.loads(brotli.decompress(br.content)) == expected
    assert len(br.content) < len(plain.content)

    gz = await _raw_get(
        api.base_url, "/api/v1/podcasts", {**user.headers, "Accept-Encoding": "gzip"}
    )
    assert gz.headers["content-encoding"] == "gzip"
    assert json.loads(gzip.decompress(gz.content)) == expected


async def test_small_responses_are_not_compressed(api: LiveApi) -> None:
    response = await _raw_get(api.base_url, "/api/health", {"Accept-Encoding": "br, gzip"})
    assert "content-encoding" not in response.headers


async def test_audio_is_never_compressed(api: LiveApi, settings: Settings) -> None:
    key = f"podcasts/{uuid.uuid4()}/audio.mp3"
    audio = b"ID3" + bytes(range(256)) * 40
    await create_storage(settings).put(key, audio, content_type="audio/mpeg")
    expires = int(time.time()) + 300
    signature = sign(settings.resolved_secret_key(), key, expires)
    response = await _raw_get(
        api.base_url,
        f"/api/v1/files/{key}?expires={expires}&signature={signature}",
        {"Accept-Encoding": "br, gzip"},
    )
    assert response.status_code == 200, response.text
    assert "content-encoding" not in response.headers
    assert response.content == audio
    assert response.headers["content-type"].startswith("audio/mpeg")
    assert response.headers["cross-origin-resource-policy"] == "cross-origin"
    assert response.headers["x-content-type-options"] == "nosniff"


# -- security headers and the API documentation --------------------------------------------------


@pytest.mark.parametrize(
    ("path", "status"), [("/api/health", 200), ("/api/v1/podcasts", 401), ("/nope", 404)]
)
async def test_security_headers_on_every_response(api: LiveApi, path: str, status: int) -> None:
    response = await api.client.get(path)
    assert response.status_code == status
    for name, value in HELMET_HEADERS.items():
        assert response.headers.get(name) == value, name
    assert "x-powered-by" not in response.headers


@pytest.mark.parametrize("path", ["/schema", "/schema/scalar"])
async def test_schema_ui_loads_with_a_policy_that_lets_it(api: LiveApi, path: str) -> None:
    response = await api.client.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "api-reference" in response.text
    policy = response.headers["content-security-policy"]
    script_src = policy.split("script-src", 1)[1].split(";", 1)[0]
    assert "https:" not in script_src and "jsdelivr" not in policy  # served offline
    assert "cdn." not in response.text and "https://" not in response.text
    assert response.headers["x-frame-options"] == "SAMEORIGIN"
    bundle = re.search(r'<script src="(/static/vendor/[^"]+\.js)"', response.text)
    assert bundle, response.text
    served = await api.client.get(bundle[1])
    assert served.status_code == 200
    assert served.headers["content-type"].startswith("text/javascript")
    assert "immutable" in served.headers["cache-control"]


async def test_openapi_spec_is_valid_and_documents_errors(api: LiveApi) -> None:
    response = await api.client.get("/schema/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    validate(spec)
    schemes = spec["components"]["securitySchemes"]
    assert schemes["BearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schemes["BearerAuth"]["description"],
    }
    error_ref = "#/components/schemas/ErrorBody"
    assert set(spec["components"]["schemas"]["ErrorBody"]["required"]) >= {
        "success",
        "error",
        "code",
    }
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            name = f"{method.upper()} {path}"
            errors = {
                status: response
                for status, response in operation["responses"].items()
                if status.startswith(("4", "5"))
            }
            if path == "/api/health":
                assert not errors, name
                continue
            assert errors, f"{name} documents no error response"
            for status, documented in errors.items():
                schema = documented["content"]["application/json"]["schema"]
                assert schema == {"$ref": error_ref}, f"{name} {status}"
            if operation.get("security"):
                assert {"401", "429"} <= errors.keys(), name


# -- request body size -------------------------------------------------------------------------


TWO_MIB = 2 * 1024 * 1024


def _big_body() -> bytes:
    return json.dumps({"noteContent": "x" * TWO_MIB}).encode()


async def test_oversized_body_is_413_before_parsing(api: LiveApi, user: ApiUser) -> None:
    response = await api.client.post(
        "/api/v1/podcasts",
        headers={**user.headers, "Content-Type": "application/json"},
        content=_big_body(),
    )
    body = assert_error(response, 413, "PAYLOAD_TOO_LARGE")
    assert body["details"] == {"maxBytes": 1_048_576}


async def test_oversized_chunked_body_is_413(api: LiveApi, user: ApiUser) -> None:
    payload = _big_body()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(payload), 64 * 1024):
            yield payload[start : start + 64 * 1024]

    response = await api.client.post(
        "/api/v1/podcasts",
        headers={**user.headers, "Content-Type": "application/json"},
        content=chunks(),
    )
    assert response.request.headers.get("transfer-encoding") == "chunked"
    assert_error(response, 413, "PAYLOAD_TOO_LARGE")


async def test_body_under_the_limit_reaches_validation(api: LiveApi, user: ApiUser) -> None:
    response = await api.client.post(
        "/api/v1/podcasts", headers=user.headers, json={"noteContent": "x" * 60_000}
    )
    assert_error(response, 400, "VALIDATION_ERROR")


async def test_body_limit_is_configurable(settings: Settings, user: ApiUser) -> None:
    async with app_client(settings, request_max_body_bytes=1_000) as client:
        response = await client.patch(
            "/api/v1/user/profile", headers=user.headers, json={"name": "n" * 2_000}
        )
    body = assert_error(response, 413, "PAYLOAD_TOO_LARGE")
    assert body["details"] == {"maxBytes": 1_000}


# -- text the database cannot store ---------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "payload"),
    [
        ("PATCH", "/api/v1/user/profile", {"name": "Ana\u0000"}),
        ("POST", "/api/v1/api-keys", {"name": "laptop\u0000"}),
    ],
)
async def test_nul_characters_are_a_validation_error(
    api: LiveApi, user: ApiUser, method: str, path: str, payload: dict[str, str]
) -> None:
    response = await api.client.request(method, path, headers=user.headers, json=payload)
    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert "NUL" in body["error"]
