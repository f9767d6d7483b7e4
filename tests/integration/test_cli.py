"""The `podnex` command run as a real subprocess against the test database."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from podnex.db import Database
from podnex.plans import Plan
from tests.conftest import LiveApi, make_user

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class CliResult:
    code: int
    stdout: str
    stderr: str


Cli = Callable[..., Awaitable[CliResult]]


@pytest.fixture
def cli(database_url: str, db: Database) -> Cli:
    """Runs `python -m podnex.cli ARGS…` with DATABASE_URL set to the migrated test database."""
    env = {**os.environ, "DATABASE_URL": database_url}

    async def run(*args: str) -> CliResult:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "podnex.cli",
            *args,
            cwd=ROOT,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
        assert process.returncode is not None
        return CliResult(process.returncode, stdout.decode(), stderr.decode())

    return run


def new_email() -> str:
    return f"cli-{uuid.uuid4().hex[:10]}@example.com"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def only_line(result: CliResult) -> str:
    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and result.stdout == lines[0] + "\n", result.stdout
    return lines[0]


async def test_users_create_prints_only_a_working_key(cli: Cli, api: LiveApi) -> None:
    email = new_email()
    key = only_line(await cli("users", "create", "--email", email, "--name", "Grace"))
    assert key.startswith("pnx_")
    response = await api.client.get("/api/v1/user/profile", headers=bearer(key))
    assert response.status_code == 200, response.text
    profile = response.json()["data"]
    assert (profile["email"], profile["name"]) == (email, "Grace")
    usage = (await api.client.get("/api/v1/user/usage", headers=bearer(key))).json()["data"]
    assert usage["subscription"]["plan"] == "FREE"

    again = await cli("users", "create", "--email", email)
    assert again.code == 1 and again.stdout == ""
    assert "already exists" in again.stderr


async def test_set_plan_changes_the_limits(cli: Cli, api: LiveApi, db: Database) -> None:
    owner = await make_user(db, Plan.FREE)
    result = await cli("users", "set-plan", "--email", owner.email.upper(), "--plan", "PRO")
    assert result.code == 0, result.stderr
    assert "PRO" in result.stdout
    data = (await api.client.get("/api/v1/user/subscription", headers=owner.headers)).json()
    assert data["data"]["plan"] == "PRO"
    assert (data["data"]["monthlyPodcastLimit"], data["data"]["monthlyMinutesLimit"]) == (
        200,
        1000,
    )

    result = await cli("users", "set-plan", "--email", owner.email, "--plan", "BUSINESS")
    assert result.code == 0, result.stderr
    data = (await api.client.get("/api/v1/user/subscription", headers=owner.headers)).json()
    assert data["data"]["monthlyPodcastLimit"] is None


async def test_keys_create_list_and_revoke(cli: Cli, api: LiveApi, db: Database) -> None:
    owner = await make_user(db)
    key = only_line(await cli("keys", "create", "--email", owner.email, "--name", "deploy bot"))
    assert key.startswith("pnx_") and key != owner.key
    response = await api.client.get("/api/v1/api-keys", headers=bearer(key))
    assert response.status_code == 200
    created = next(k for k in response.json()["data"] if k["name"] == "deploy bot")
    default_named = only_line(await cli("keys", "create", "--email", owner.email))

    listing = await cli("keys", "list", "--email", owner.email)
    assert listing.code == 0, listing.stderr
    header, *rows = listing.stdout.splitlines()
    assert header.split() == ["ID", "PREFIX", "NAME", "CREATED", "LAST", "USED", "REVOKED"]
    assert len(rows) == 3
    assert rows[0].split()[2] == "cli" and rows[1].startswith(created["id"])
    assert created["prefix"] in rows[1] and "deploy bot" in rows[1]
    assert rows[1].rstrip().endswith(" -"), "not revoked"
    assert rows[2].split()[2] == "test"
    for secret in (key, default_named, owner.key):
        assert secret not in listing.stdout

    revoked = await cli("keys", "revoke", "--id", created["id"])
    assert revoked.code == 0, revoked.stderr
    response = await api.client.get("/api/v1/api-keys", headers=bearer(key))
    assert response.status_code == 401
    response = await api.client.get("/api/v1/api-keys", headers=owner.headers)
    assert created["id"] not in {k["id"] for k in response.json()["data"]}

    listing = await cli("keys", "list", "--email", owner.email)
    row = next(line for line in listing.stdout.splitlines() if line.startswith(created["id"]))
    assert not row.rstrip().endswith(" -"), "the revoked key shows when it was revoked"


@pytest.mark.parametrize(
    "args",
    [
        ("users", "set-plan", "--email", "nobody@example.com", "--plan", "PRO"),
        ("keys", "create", "--email", "nobody@example.com"),
        ("keys", "list", "--email", "nobody@example.com"),
        ("keys", "revoke", "--id", str(uuid.uuid4())),
        ("keys", "revoke", "--id", "not-a-uuid"),
    ],
)
async def test_unknown_user_or_key_exits_1(cli: Cli, args: tuple[str, ...]) -> None:
    result = await cli(*args)
    assert result.code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("error: ")


async def test_revoking_twice_exits_1(cli: Cli, db: Database, api: LiveApi) -> None:
    owner = await make_user(db)
    listed = (await api.client.get("/api/v1/api-keys", headers=owner.headers)).json()["data"]
    key_id = listed[0]["id"]
    assert (await cli("keys", "revoke", "--id", key_id)).code == 0
    again = await cli("keys", "revoke", "--id", key_id)
    assert again.code == 1 and "no live API key" in again.stderr


async def test_bad_arguments_are_refused_by_the_parser(cli: Cli) -> None:
    result = await cli("users", "set-plan", "--email", new_email(), "--plan", "GOLD")
    assert result.code == 2 and "invalid choice" in result.stderr
    result = await cli("keys", "create", "--email", new_email(), "--name", "  ")
    assert result.code == 2 and "1 to 100" in result.stderr
