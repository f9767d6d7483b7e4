"""Rate limits (issue #19): counted in Postgres, so every API process shares one limit per
key and per client address; requests with invalid keys are limited per address before
authentication looks them up."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import text

from api.app import create_app
from podnex.db import Database
from podnex.settings import Settings
from tests.conftest import ApiUser

TEST_CLIENT_BUCKET = "ip:testclient"
"""Litestar's test client calls from the address `testclient`."""


@pytest.fixture
async def fresh_address(db: Database) -> None:
    """Forget what earlier tests counted against the test client's address."""
    async with db.transaction() as session:
        await session.execute(
            text("DELETE FROM rate_limit_buckets WHERE bucket = :b"), {"b": TEST_CLIENT_BUCKET}
        )


@asynccontextmanager
async def api_processes(
    settings: Settings, count: int, **changes: Any
) -> AsyncIterator[list[AsyncTestClient[Any]]]:
    """`count` separate apps (as separate API processes would be) on the same Postgres."""
    async with AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(
                AsyncTestClient(app=create_app(settings.model_copy(update=changes)))
            )
            for _ in range(count)
        ]
        yield clients


async def test_one_limit_per_key_across_api_processes(
    settings: Settings, user: ApiUser, fresh_address: None
) -> None:
    async with api_processes(settings, 3, rate_limit_per_minute=4) as apis:
        answers = [
            await apis[i % 3].get("/api/v1/user/profile", headers=user.headers) for i in range(6)
        ]
    assert [a.status_code for a in answers] == [200, 200, 200, 200, 429, 429]
    assert [a.headers["ratelimit-remaining"] for a in answers[:4]] == ["3", "2", "1", "0"]
    assert all(a.headers["ratelimit-limit"] == "4" for a in answers)
    assert 1 <= int(answers[4].headers["retry-after"]) <= 60


async def test_concurrent_requests_on_two_processes_never_pass_the_limit(
    settings: Settings, user: ApiUser, fresh_address: None
) -> None:
    async with api_processes(settings, 2, rate_limit_per_minute=10) as apis:
        answers = await asyncio.gather(
            *(apis[i % 2].get("/api/v1/user/profile", headers=user.headers) for i in range(30))
        )
    statuses = sorted(a.status_code for a in answers)
    assert statuses.count(200) == 10, statuses
    assert statuses.count(429) == 20, statuses


async def test_invalid_keys_are_limited_per_address(
    settings: Settings, user: ApiUser, fresh_address: None
) -> None:
    async with api_processes(settings, 2, rate_limit_per_address_per_minute=5) as apis:
        answers = [
            await apis[i % 2].get(
                "/api/v1/podcasts", headers={"Authorization": f"Bearer pnx_{secrets.token_hex(8)}"}
            )
            for i in range(8)
        ]
        statuses = [a.status_code for a in answers]
        assert statuses == [401] * 5 + [429] * 3, statuses
        refused = answers[-1].json()
        assert refused["code"] == "RATE_LIMITED"
        assert 1 <= int(answers[-1].headers["retry-after"]) <= 60
        # the address is spent: even a valid key from it waits
        valid = await apis[0].get("/api/v1/user/profile", headers=user.headers)
        assert valid.status_code == 429


async def test_address_limit_counts_requests_without_a_key(
    settings: Settings, fresh_address: None
) -> None:
    async with api_processes(settings, 1, rate_limit_per_address_per_minute=2) as (api,):
        statuses = [(await api.get("/api/v1/user/profile")).status_code for _ in range(4)]
        assert statuses == [401, 401, 429, 429]
        assert (await api.get("/api/health")).status_code == 200, "probes are never limited"


async def test_both_limits_zero_turn_limiting_off(
    settings: Settings, user: ApiUser, fresh_address: None
) -> None:
    async with api_processes(
        settings, 1, rate_limit_per_minute=0, rate_limit_per_address_per_minute=0
    ) as (api,):
        for _ in range(5):
            response = await api.get("/api/v1/user/profile", headers=user.headers)
            assert response.status_code == 200
            assert "ratelimit-limit" not in response.headers


async def test_window_starts_again_after_it_ends(
    settings: Settings, db: Database, user: ApiUser, fresh_address: None
) -> None:
    async with api_processes(settings, 1, rate_limit_per_minute=1) as (api,):
        assert (await api.get("/api/v1/user/profile", headers=user.headers)).status_code == 200
        assert (await api.get("/api/v1/user/profile", headers=user.headers)).status_code == 429
        async with db.transaction() as session:  # the minute passes
            await session.execute(
                text(
                    "UPDATE rate_limit_buckets SET window_ends_at = now() - interval '1 second' "
                    "WHERE bucket LIKE 'key:%'"
                )
            )
        response = await api.get("/api/v1/user/profile", headers=user.headers)
        assert response.status_code == 200
        assert response.headers["ratelimit-remaining"] == "0"
