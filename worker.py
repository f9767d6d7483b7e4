"""The Temporal worker: `python worker.py`. Serves PodcastWorkflow and its activities.

One process runs a group of workers: the main one (the workflow and every activity, on
TEMPORAL_TASK_QUEUE) and one speech worker per enabled speech provider on
`<TEMPORAL_TASK_QUEUE>-speech-<provider>`, capped at that provider's concurrency (and,
when set, its rate across all workers), so speech never outruns a provider's limits.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Sequence
from datetime import timedelta
from types import TracebackType

import structlog
from temporalio.client import Client
from temporalio.worker import Worker

from activities import ActivityDeps, all_activities, speech_activities
from podnex.db import Database
from podnex.logging import configure_logging
from podnex.script.base import create_writer
from podnex.settings import Settings, get_settings
from podnex.speech import create_engines
from podnex.storage import create_storage
from podnex.temporal import connect
from workflows.podcast import PodcastWorkflow, speech_task_queue

log = structlog.get_logger("podnex.worker")


class WorkerGroup:
    """Several workers started and stopped together with one ``async with``."""

    def __init__(self, workers: Sequence[Worker]) -> None:
        self.workers = list(workers)
        self._running: list[Worker] = []

    @property
    def task_queues(self) -> list[str]:
        """The task queue each worker polls, in order."""
        return [worker.task_queue for worker in self.workers]

    async def __aenter__(self) -> WorkerGroup:
        """Start every worker (stopping those already started if one cannot start)."""
        try:
            for worker in self.workers:
                await worker.__aenter__()
                self._running.append(worker)
        except BaseException as exc:
            await self.__aexit__(type(exc), exc, exc.__traceback__)
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Shut every started worker down at once; re-raise the first worker's fatal error."""
        running, self._running = self._running, []
        results = await asyncio.gather(
            *(worker.__aexit__(exc_type, exc, traceback) for worker in running),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result


def build_worker(client: Client, settings: Settings, deps: ActivityDeps) -> WorkerGroup:
    """The main worker plus one speech worker per engine in ``deps.engines``."""
    graceful = timedelta(seconds=settings.worker_graceful_shutdown_seconds)
    main = Worker(
        client,
        task_queue=settings.temporal_task_queue,
        workflows=[PodcastWorkflow],
        activities=all_activities(deps),
        max_concurrent_activities=settings.worker_max_concurrent_activities,
        graceful_shutdown_timeout=graceful,
    )
    speech = []
    for provider in deps.engines:
        concurrency, per_second = settings.speech_task_limits(provider)
        speech.append(
            Worker(
                client,
                task_queue=speech_task_queue(settings.temporal_task_queue, provider),
                activities=speech_activities(deps),
                max_concurrent_activities=concurrency,
                max_task_queue_activities_per_second=per_second,
                graceful_shutdown_timeout=graceful,
            )
        )
    return WorkerGroup([main, *speech])


def build_deps(settings: Settings) -> ActivityDeps:
    """Open what the activities share: database, storage, script writer, speech engines."""
    return ActivityDeps(
        db=Database(settings),
        storage=create_storage(settings),
        writer=create_writer(settings),
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
        task_queues=worker.task_queues,
        temporal=settings.temporal_address,
        writer=deps.writer.name,
        storage=deps.storage.name,
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
