"""Observability of a whole run, as an operator sees it.

The worker (`python worker.py`) and the API (`uvicorn api.app:app`) run as real processes
with LOG_FORMAT=json and the worker's metrics and health ports, on the test Postgres and
Temporal dev server. One podcast is made through HTTP; then:

- the worker's readiness port says ready, its metrics port exposes the Temporal SDK's
  series and podnex's domain series for the run (completed, seconds of audio, cache misses);
- the API's /metrics (no API key, not in the OpenAPI schema) counts the requests by route
  template and status and the podcast created;
- the worker's JSON log filtered by the run's workflow id shows every activity of the run,
  each line with its run id, activity name and attempt; the API's lines carry the request
  id and the user id; no secret appears in either log;
- SIGTERM stops both processes cleanly.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from podnex.db import Database
from podnex.embedded import free_port
from podnex.settings import PROJECT_ROOT, SETTING_VARIABLES, Settings
from tests.conftest import make_user
from tests.integration.notes import NOTES

SECRET = "observability-secret-key-0123456789"
ACTIVITIES = {  # a completed first run's (its states are mirrored by these steps)
    "check_limits",  # a local activity: logged with the run's ids all the same
    "write_script",
    "synthesize_lines",
    "combine_audio",
    "publish_podcast",
}


@dataclass
class Stack:
    api_url: str
    metrics_url: str
    health_url: str
    worker: subprocess.Popen[bytes]
    api: subprocess.Popen[bytes]
    worker_log: Path
    api_log: Path


def environment(settings: Settings, **extra: str) -> dict[str, str]:
    names = set(SETTING_VARIABLES)
    env = {key: value for key, value in os.environ.items() if key.upper() not in names}
    assert settings.database_url is not None
    env.update(
        ENVIRONMENT="production",
        LOG_FORMAT="json",
        DATABASE_URL=settings.database_url,
        TEMPORAL_ADDRESS=settings.temporal_address,
        TEMPORAL_TASK_QUEUE=f"observed-{uuid.uuid4().hex[:8]}",
        VAR_DIR=str(settings.var_dir),
        STORAGE_DIR=str(settings.resolved_storage_dir),
        SECRET_KEY=SECRET,
        SPEECH_CONCURRENCY="4",
        RATE_LIMIT_PER_MINUTE="1000",
    )
    env.update(extra)
    return env


async def wait_until_ok(url: str, limit_s: float, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + limit_s
    async with httpx.AsyncClient(timeout=5) as client:
        while time.monotonic() < deadline:
            assert process.poll() is None, f"{process.args!r} exited with {process.returncode}"
            try:
                if (await client.get(url)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.25)
    raise AssertionError(f"{url} never answered 200")


def spawned_children(pid: int) -> list[int]:
    """The child processes of ``pid`` started by multiprocessing's spawn (not its
    resource tracker)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        parent = int(stat[stat.rindex(")") + 2 :].split()[1])
        if parent == pid and any(b"spawn_main" in part for part in command):
            found.append(int(entry.name))
    return found


def launch(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start `command` in the project root, its stdout and stderr going to `log`."""
    with log.open("wb") as out:
        return subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=out, stderr=out)


def stop(process: subprocess.Popen[bytes]) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise
    return process.returncode


@pytest.fixture
async def stack(settings: Settings, tmp_path: Path) -> AsyncIterator[Stack]:
    metrics_port, health_port, api_port = free_port(), free_port(), free_port()
    env = environment(
        settings,
        WORKER_METRICS_PORT=str(metrics_port),
        WORKER_HEALTH_PORT=str(health_port),
        WORKER_BIND_HOST="127.0.0.1",
    )
    worker_log, api_log = tmp_path / "worker.log", tmp_path / "api.log"
    worker = launch([sys.executable, "worker.py"], env, worker_log)
    api = launch(
        [sys.executable, "-m", "uvicorn", "api.app:app", "--host", "127.0.0.1", "--port",
         str(api_port), "--no-access-log"],
        env,
        api_log,
    )  # fmt: skip
    stack = Stack(
        api_url=f"http://127.0.0.1:{api_port}",
        metrics_url=f"http://127.0.0.1:{metrics_port}/metrics",
        health_url=f"http://127.0.0.1:{health_port}",
        worker=worker,
        api=api,
        worker_log=worker_log,
        api_log=api_log,
    )
    try:
        await wait_until_ok(f"{stack.health_url}/ready", 90, worker)
        # Ready means warmed up: espeak-ng's speaking processes (one a core, by default)
        # already run, before any podcast asked for a line.
        cores = os.cpu_count() or 1
        assert len(spawned_children(worker.pid)) == (cores if cores > 1 else 0)
        await wait_until_ok(f"{stack.api_url}/api/ready", 90, api)
        yield stack
    finally:
        stop(api)
        stop(worker)


def samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    return [
        (sample.name, sample.labels, sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    ]


def value(found: list[tuple[str, dict[str, str], float]], name: str, **labels: str) -> float:
    """The sum of every sample `name` whose labels include `labels`."""
    matching = [
        v for n, have, v in found if n == name and all(have.get(k) == w for k, w in labels.items())
    ]
    assert matching, f"no {name}{labels} in {sorted({n for n, _, _ in found})}"
    return sum(matching)


def json_lines(path: Path) -> list[dict[str, Any]]:
    lines = []
    for line in path.read_text().splitlines():
        if line.strip():
            lines.append(json.loads(line))  # every line is JSON: nothing escapes the format
    return lines


async def test_one_run_is_visible_in_metrics_and_logs(stack: Stack, db: Database) -> None:
    user = await make_user(db)
    request_id = f"obs-{uuid.uuid4().hex[:12]}"
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=60) as client:
        created = await client.post(
            "/api/v1/podcasts",
            headers={**user.headers, "X-Request-ID": request_id},
            json={"noteContent": NOTES, "duration": "SHORT"},
        )
        assert created.status_code == 201, created.text
        podcast_id = created.json()["data"]["id"]
        deadline = time.monotonic() + 240
        while True:
            status = await client.get(f"/api/v1/podcasts/{podcast_id}", headers=user.headers)
            data = status.json()["data"]
            if data["status"] in {"COMPLETED", "FAILED", "CANCELLED"}:
                break
            assert time.monotonic() < deadline, data
            await asyncio.sleep(0.5)
        assert data["status"] == "COMPLETED", data

        # -- the API's metrics: no key needed, route templates, not in the schema -----------
        api_metrics = await client.get("/metrics")
        assert api_metrics.status_code == 200
        assert api_metrics.headers["content-type"].startswith("text/plain")
        assert podcast_id not in api_metrics.text, "routes are labelled by template, not path"
        found = samples(api_metrics.text)
        create = {"method": "POST", "route": "/api/v1/podcasts"}
        assert value(found, "podnex_http_requests_total", **create, status="201") == 1
        assert value(found, "podnex_podcasts_created_total") >= 1
        detail_routes = {
            labels["route"]
            for name, labels, _ in found
            if name == "podnex_http_requests_total" and labels["method"] == "GET"
        }
        assert any(route.startswith("/api/v1/podcasts/{") for route in detail_routes), detail_routes
        assert value(found, "podnex_http_request_duration_seconds_count", **create) == 1
        assert value(found, "podnex_http_request_duration_seconds_bucket", **create, le="+Inf") == 1
        schema = (await client.get("/schema/openapi.json")).json()
        assert "/metrics" not in schema["paths"]

        # -- the worker: ready, SDK series and domain series ---------------------------------
        ready = await client.get(f"{stack.health_url}/ready")
        assert ready.status_code == 200 and ready.json()["ready"] is True
        worker_metrics = await client.get(stack.metrics_url)
    assert worker_metrics.status_code == 200
    found = samples(worker_metrics.text)
    names = {name for name, _, _ in found}
    assert any(name.startswith("temporal_") for name in names), sorted(names)
    assert value(found, "temporal_workflow_completed_total", workflow_type="PodcastWorkflow") >= 1
    assert value(found, "podnex_podcasts_finished_total", outcome="completed") == 1
    audio_seconds = value(found, "podnex_podcast_audio_seconds_sum")
    assert abs(audio_seconds - data["audioDuration"]) < 0.5, (audio_seconds, data)
    assert value(found, "podnex_podcast_audio_seconds_count") == 1
    assert value(found, "podnex_speech_cache_total", result="miss") >= 2
    # Each counter in the worker's text exposition is declared once (one metrics port).
    assert worker_metrics.text.count("# TYPE podnex_podcasts_finished_total counter") == 1

    # -- SIGTERM: both stop cleanly (uvicorn re-raises the signal once it has shut down) ------
    assert stop(stack.api) in (0, -signal.SIGTERM)
    assert stop(stack.worker) == 0

    # -- the worker's log, filtered by the run's workflow id ----------------------------------
    workflow_id = f"podcast-{podcast_id}"
    worker_lines = json_lines(stack.worker_log)
    run_lines = [line for line in worker_lines if line.get("workflow_id") == workflow_id]
    assert {line.get("activity") for line in run_lines} >= ACTIVITIES, run_lines
    run_ids = {line.get("run_id") for line in run_lines}
    assert len(run_ids) == 1 and None not in run_ids, run_ids
    for line in run_lines:
        assert isinstance(line["attempt"], int) and line["attempt"] >= 1, line
        assert line["activity"] in ACTIVITIES, line
    speech_lines = [line for line in run_lines if line["activity"] == "synthesize_lines"]
    assert len({line["line"] for line in speech_lines if "line" in line}) >= 2
    assert any(line["event"] == "worker started" for line in worker_lines)
    assert any(line["event"] == "worker stopped" for line in worker_lines)

    # -- the API's log: request id and user id on its lines -----------------------------------
    api_lines = json_lines(stack.api_log)
    assert any(line["event"] == "api stopped" for line in api_lines), "lifespan shut down"
    ours = [line for line in api_lines if line.get("request_id") == request_id]
    access = [line for line in ours if line["event"] == "request"]
    assert len(access) == 1, ours
    assert access[0]["user_id"] == str(user.id)
    assert access[0]["route"] == "/api/v1/podcasts" and access[0]["status"] == 201
    authenticated = [
        line
        for line in api_lines
        if line.get("event") == "request" and str(line.get("route", "")).startswith("/api/v1/")
    ]
    assert authenticated and all(line["user_id"] == str(user.id) for line in authenticated)
    assert all(line.get("request_id") for line in authenticated)

    # -- no secret in either log ------------------------------------------------------------------
    everything = stack.worker_log.read_text() + stack.api_log.read_text()
    assert SECRET not in everything
    assert user.key not in everything
