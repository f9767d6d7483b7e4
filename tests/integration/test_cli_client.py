"""`podnex make|status|list|cancel` end to end: the real CLI process against the live API."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update
from temporalio.client import Client

from api.app import create_app
from podnex.db import Database
from podnex.models import Subscription
from podnex.plans import Plan
from podnex.settings import Settings
from tests.conftest import ApiUser, LiveApi, make_user, serve
from tests.integration.notes import NOTES
from tests.integration.workers import ScriptedEngine, worker_with

pytestmark = pytest.mark.usefixtures("worker")


async def podnex(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "podnex.cli",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env if env is not None else client_env(),
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    return process.returncode or 0, out.decode(), err.decode()


def client_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PODNEX_")}
    return {**env, **extra}


def env_for(api_url: str, owner: ApiUser) -> dict[str, str]:
    return client_env(PODNEX_API_URL=api_url, PODNEX_API_KEY=owner.key)


async def test_make_shows_progress_writes_the_mp3_and_lists_it(
    api: LiveApi, user: ApiUser, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.md"
    notes.write_text(NOTES)
    out = tmp_path / "episode.mp3"
    code, stdout, stderr = await podnex(
        "make", str(notes), "--out", str(out), env=env_for(api.base_url, user)
    )
    assert code == 0, stderr
    assert f"Wrote {out}" in stdout and " s)" in stdout, stdout
    assert "100%" in stderr, stderr  # the progress bar reached the end
    data = out.read_bytes()
    assert len(data) > 10_000 and (data[:3] == b"ID3" or data[0] == 0xFF)
    podcast_id = stdout.split("Created podcast ")[1].split()[0]
    listen = stdout.split("Listen while it is made: ")[1].split()[0]
    assert listen.endswith("/index.m3u8") and f"/podcasts/{podcast_id}/stream/" in listen

    code, stdout, _ = await podnex("status", podcast_id, env=env_for(api.base_url, user))
    assert code == 0 and "COMPLETED" in stdout and "100%" in stdout, stdout
    # Flags win over the environment.
    code, stdout, _ = await podnex(
        "list", "--api-url", api.base_url, "--api-key", user.key, env=client_env()
    )
    assert code == 0 and podcast_id in stdout, stdout


async def test_clear_errors(api: LiveApi, user: ApiUser, tmp_path: Path) -> None:
    notes = tmp_path / "short.md"
    notes.write_text("too short")
    code, _, stderr = await podnex("make", str(notes), env=client_env())
    assert code == 2 and "no API key" in stderr and "PODNEX_API_KEY" in stderr, stderr

    code, _, stderr = await podnex("make", str(notes), env=env_for(api.base_url, user))
    assert code == 1 and stderr.startswith("error: Validation failed: noteContent"), stderr

    bad = client_env(PODNEX_API_URL=api.base_url, PODNEX_API_KEY="pnx_not_a_key")
    code, _, stderr = await podnex("list", env=bad)
    assert code == 1 and "PODNEX_API_KEY" in stderr, stderr

    code, _, stderr = await podnex("status", "nope", env=env_for(api.base_url, user))
    assert code == 1 and "Podcast not found" in stderr, stderr

    code, _, stderr = await podnex(
        "make", str(tmp_path / "missing.md"), env=env_for(api.base_url, user)
    )
    assert code == 2 and "cannot read" in stderr, stderr


async def test_a_refused_podcast_says_why(api: LiveApi, db: Database, tmp_path: Path) -> None:
    owner = await make_user(db, Plan.FREE)
    async with db.transaction() as session:
        await session.execute(
            update(Subscription)
            .where(Subscription.user_id == owner.id)
            .values(current_podcast_count=5)
        )
    notes = tmp_path / "notes.md"
    notes.write_text(NOTES)
    code, stdout, stderr = await podnex("make", str(notes), env=env_for(api.base_url, owner))
    assert code == 1, (stdout, stderr)
    assert stderr.startswith("error: ") and "Monthly podcast limit reached (5)" in stderr, stderr
    assert "Created podcast" not in stdout, stdout
    code, stdout, _ = await podnex("list", env=env_for(api.base_url, owner))
    assert code == 0, stdout


async def test_ctrl_c_asks_and_cancels_the_run(
    settings: Settings, temporal_client: Client, user: ApiUser, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.md"
    notes.write_text(NOTES)
    slow = ScriptedEngine(delay=1.0)
    async with worker_with(settings, temporal_client, slow) as queue:
        app = create_app(settings.model_copy(update={"temporal_task_queue": queue}))
        async with serve(app) as live:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "podnex.cli",
                "make",
                str(notes),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=env_for(live.base_url, user),
            )
            assert process.stdout is not None and process.stdin is not None
            line = (await asyncio.wait_for(process.stdout.readline(), 60)).decode()
            assert line.startswith("Created podcast "), line
            podcast_id = line.split()[-1]
            await asyncio.sleep(1.5)  # into the speech
            process.send_signal(signal.SIGINT)
            process.stdin.write(b"y\n")
            await process.stdin.drain()
            rest, stderr = await asyncio.wait_for(process.communicate(), 60)
            assert process.returncode == 130, stderr.decode()
            assert "Cancel podcast" in stderr.decode()
            assert f"Podcast {podcast_id}: " in rest.decode(), rest
            async with httpx.AsyncClient(base_url=live.base_url) as client:
                for _ in range(100):
                    got = await client.get(f"/api/v1/podcasts/{podcast_id}", headers=user.headers)
                    if got.json()["data"]["status"] == "CANCELLED":
                        break
                    await asyncio.sleep(0.1)
                assert got.json()["data"]["status"] == "CANCELLED", got.text
