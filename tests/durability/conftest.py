"""Fixtures of the durability suite: its own Temporal and Postgres, which tests may restart.

The suite does not share the session's services (tests/conftest.py): it stops and starts
its own. Temporal keeps its state in a file on a fixed port, Postgres is an embedded
pgserver; every test gets its own task queue, storage folder and events file, and every
process a test starts is killed when it ends.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
from temporalio.client import Client

from podnex.db import Database
from podnex.migrate import upgrade_to_head
from podnex.settings import Settings
from podnex.temporal import connect
from tests.conftest import ApiUser, make_user
from tests.durability.processes import Harness, RestartablePostgres, RestartableTemporal

SECRET_KEY = "durability-secret-key"
SPEECH_CONCURRENCY = 4


@pytest.fixture(scope="session")
def durable_postgres() -> Iterator[RestartablePostgres]:
    """An embedded Postgres of the suite's own, in a short /tmp path (Unix socket)."""
    base = Path("/tmp") / f"podnex-dur-{uuid.uuid4().hex[:8]}"
    base.mkdir()
    postgres = RestartablePostgres(base)
    try:
        yield postgres
    finally:
        postgres.destroy()


@pytest.fixture(scope="session")
async def durable_database_url(durable_postgres: RestartablePostgres) -> str:
    """A migrated database on the suite's Postgres."""
    conninfo = durable_postgres.url().replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute('CREATE DATABASE "podnex_durability"')
    url = durable_postgres.url("podnex_durability")
    await upgrade_to_head(url)
    return url


@pytest.fixture(scope="session")
def durable_temporal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RestartableTemporal]:
    """A Temporal dev server with a state file, on a port that stays the same on restart."""
    directory = tmp_path_factory.mktemp("temporal")
    server = RestartableTemporal(directory / "temporal.db", directory / "temporal.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def durable_settings(
    durable_database_url: str,
    durable_temporal: RestartableTemporal,
    tmp_path_factory: pytest.TempPathFactory,
) -> Settings:
    """What the test process itself uses (its task queue is replaced per test)."""
    var = tmp_path_factory.mktemp("durable-var")
    return Settings(
        environment="test",
        database_url=durable_database_url,
        temporal_address=durable_temporal.address,
        var_dir=var,
        storage_dir=var / "storage",
        secret_key=SECRET_KEY,  # type: ignore[arg-type]
        speech_concurrency=SPEECH_CONCURRENCY,
    )


@pytest.fixture(scope="session")
async def durable_db(durable_settings: Settings) -> AsyncIterator[Database]:
    database = Database(durable_settings)
    yield database
    await database.dispose()


@pytest.fixture(scope="session")
async def client(durable_settings: Settings) -> Client:
    return await connect(durable_settings)


@pytest.fixture
def settings_for_test(durable_settings: Settings, tmp_path: Path) -> Settings:
    """This test's settings: its own task queue and storage folder."""
    return durable_settings.model_copy(
        update={
            "temporal_task_queue": f"durability-{uuid.uuid4().hex[:8]}",
            "var_dir": tmp_path / "var",
            "storage_dir": tmp_path / "storage",
        }
    )


def process_env(settings: Settings) -> dict[str, str]:
    """The environment that gives a worker or API process these settings."""
    inherited = {
        name: value
        for name, value in os.environ.items()
        if name in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "XDG_RUNTIME_DIR")
    }
    return {
        **inherited,
        "PYTHONUNBUFFERED": "1",
        "ENVIRONMENT": "test",
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
        "DATABASE_URL": settings.resolved_database_url(),
        "TEMPORAL_ADDRESS": settings.temporal_address,
        "TEMPORAL_TASK_QUEUE": settings.temporal_task_queue,
        "VAR_DIR": str(settings.var_dir),
        "STORAGE_DIR": str(settings.resolved_storage_dir),
        "SECRET_KEY": SECRET_KEY,
        "SPEECH_CONCURRENCY": str(settings.speech_concurrency),
        "WORKER_GRACEFUL_SHUTDOWN_SECONDS": str(settings.worker_graceful_shutdown_seconds),
        "RATE_LIMIT_PER_MINUTE": "0",
    }


@pytest.fixture
def harness(settings_for_test: Settings, tmp_path: Path) -> Iterator[Harness]:
    """This test's processes, all killed when it ends (passed or failed)."""
    settings_for_test.resolved_storage_dir.mkdir(parents=True)
    running = Harness(env=process_env(settings_for_test), directory=tmp_path)
    try:
        yield running
    finally:
        running.close()


@pytest.fixture
async def owner(durable_db: Database) -> ApiUser:
    return await make_user(durable_db)
