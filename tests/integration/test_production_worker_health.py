"""The worker's readiness port: 503 before its workers poll, 200 while they do, 503 once
they stop; /health answers throughout. Real workers on the test Temporal server."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
from temporalio.client import Client

import worker as worker_module
from podnex.embedded import free_port
from podnex.settings import Settings


async def status_of(client: httpx.AsyncClient, path: str) -> int:
    return (await client.get(path)).status_code


async def test_ready_follows_the_workers(settings: Settings, temporal_client: Client) -> None:
    own = settings.model_copy(
        update={
            "temporal_task_queue": f"health-{uuid.uuid4().hex[:8]}",
            "worker_max_concurrent_workflow_tasks": 7,
        }
    )
    deps = worker_module.build_deps(own)
    group = worker_module.build_worker(temporal_client, own, deps)
    main = group.workers[0]
    assert main.config()["max_concurrent_workflow_tasks"] == 7
    assert main.config()["max_concurrent_activities"] == own.worker_max_concurrent_activities
    port = free_port()
    server = worker_module.probe_server(group).start("127.0.0.1", port)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
            assert await status_of(http, "/health") == 200
            assert await status_of(http, "/ready") == 503
            assert await status_of(http, "/nothing") == 404
            async with group:
                deadline = time.monotonic() + 30
                while await status_of(http, "/ready") != 200:
                    assert time.monotonic() < deadline, "never ready"
                    await asyncio.sleep(0.05)
                body = (await http.get("/ready")).json()
                assert body == {"ready": True, "taskQueues": group.task_queues}
            assert await status_of(http, "/ready") == 503
            assert await status_of(http, "/health") == 200
    finally:
        server.close()
        await deps.db.dispose()
