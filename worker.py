"""The Temporal worker: `python worker.py`. Serves PodcastWorkflow and its activities."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import timedelta

import structlog
from temporalio.worker import Worker

from activities import ActivityDeps, all_activities
from podnex.db import Database
from podnex.logging import configure_logging
from podnex.script.offline import OfflineScriptWriter
from podnex.settings import Settings, get_settings
from podnex.speech import create_engines
from podnex.storage import create_storage
from podnex.temporal import connect
from workflows.podcast import PodcastWorkflow

log = structlog.get_logger("podnex.worker")


def build_worker(client: object, settings: Settings, deps: ActivityDeps) -> Worker:
    return Worker(
        client,  # type: ignore[arg-type]
        task_queue=settings.temporal_task_queue,
        workflows=[PodcastWorkflow],
        activities=all_activities(deps),
        max_concurrent_activities=settings.worker_max_concurrent_activities,
        graceful_shutdown_timeout=timedelta(seconds=settings.worker_graceful_shutdown_seconds),
    )


def build_deps(settings: Settings) -> ActivityDeps:
    return ActivityDeps(
        db=Database(settings),
        storage=create_storage(settings),
        writer=OfflineScriptWriter(),
        engines=create_engines(settings),
    )


async def run(settings: Settings) -> None:
    client = await connect(settings)
    deps = build_deps(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    worker = build_worker(client, settings, deps)
    log.info(
        "worker started",
        task_queue=settings.temporal_task_queue,
        temporal=settings.temporal_address,
        engines=sorted(deps.engines),
    )
    try:
        async with worker:
            await stop.wait()
            log.info("worker stopping")
    finally:
        await deps.db.dispose()
    log.info("worker stopped")


def main() -> None:
    settings = get_settings()
    configure_logging(settings)
    asyncio.run(run(settings))
    # temporalio can abort the interpreter during teardown (sdk-python issue 300) after a
    # clean shutdown; the work is done, so leave without running that teardown.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
