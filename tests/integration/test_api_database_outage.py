"""A Postgres outage answers 503 with Retry-After, not 500 (issue #19, 11): refused
connections, and a pool with no free connection within DATABASE_POOL_TIMEOUT_SECONDS."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from api.app import create_app
from podnex.db import Database
from podnex.embedded import free_port
from podnex.settings import Settings
from tests.conftest import ApiUser


def assert_unavailable(response: Any) -> None:
    assert response.status_code == 503, response.text
    body = response.json()
    assert body["success"] is False and body["code"] == "SERVICE_UNAVAILABLE", body
    assert "database" in body["error"].lower(), body
    assert 1 <= int(response.headers["retry-after"]) <= 60


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/v1/podcasts"), ("GET", "/api/v1/user/profile"), ("GET", "/api/v1/api-keys")],
)
async def test_database_down_is_503_with_retry_after(
    settings: Settings, user: ApiUser, method: str, path: str
) -> None:
    down = f"postgresql+psycopg://postgres:secret@127.0.0.1:{free_port()}/podnex"
    app = create_app(settings.model_copy(update={"database_url": down}))
    async with AsyncTestClient(app=app) as client:
        response = await client.request(method, path, headers=user.headers)
    assert_unavailable(response)
    assert "secret" not in response.text


async def test_pool_exhausted_is_503_with_retry_after(settings: Settings, user: ApiUser) -> None:
    app = create_app(
        settings.model_copy(
            update={
                "database_pool_size": 1,
                "database_max_overflow": 0,
                "database_pool_timeout_seconds": 0.2,
            }
        )
    )
    async with AsyncTestClient(app=app) as client:
        assert (await client.get("/api/v1/user/profile", headers=user.headers)).status_code == 200
        async with app.state.podnex.db.engine.connect():  # the only connection, held
            response = await client.get("/api/v1/user/profile", headers=user.headers)
        assert_unavailable(response)
        assert (await client.get("/api/v1/user/profile", headers=user.headers)).status_code == 200


async def test_database_down_inside_a_handler_is_503(settings: Settings, user: ApiUser) -> None:
    """Authenticated on a working pool, then the database stops answering mid-request."""
    app = create_app(settings)
    async with AsyncTestClient(app=app) as client:
        state = app.state.podnex
        working = state.db
        down = f"postgresql+psycopg://postgres:x@127.0.0.1:{free_port()}/podnex"
        broken = Database(settings.model_copy(update={"database_url": down}))

        # authentication uses the first transaction; the handler's own fails
        original = working.transaction
        calls = {"n": 0}

        def transaction() -> Any:
            calls["n"] += 1
            return original() if calls["n"] == 1 else broken.transaction()

        state.db.transaction = transaction  # type: ignore[method-assign]
        try:
            response = await client.get("/api/v1/api-keys", headers=user.headers)
        finally:
            state.db.transaction = original  # type: ignore[method-assign]
            await broken.dispose()
    assert_unavailable(response)
