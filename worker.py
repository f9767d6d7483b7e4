"""The Temporal worker: `python worker.py`. Serves PodcastWorkflow and its activities.

One process runs a group of workers: the main one (the workflow and every activity, on
TEMPORAL_TASK_QUEUE) and one speech worker per enabled speech provider on
`<TEMPORAL_TASK_QUEUE>-speech-<provider>`, capped at that provider's concurrency (and,
when set, its rate across all workers), so speech never outruns a provider's limits.

Operability: with WORKER_METRICS_PORT the Temporal runtime serves Prometheus metrics (the
SDK's and podnex's domain counters) at `/metrics`; with WORKER_HEALTH_PORT a small HTTP
server answers `/health` (the process lives) and `/ready` (200 once every worker of the
group polls, 503 from the moment it starts stopping). SIGTERM or SIGINT stops polling,
lets running activities finish for WORKER_GRACEFUL_SHUTDOWN_SECONDS, then cancels the rest,
which Temporal retries on another worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Sequence
from datetime import timedelta
from types import TracebackType

import structlog
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
)
from temporalio.service import RPCError
from temporalio.worker import Interceptor, Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities import ActivityDeps, all_activities, speech_activities
from activities.context import ActivityLogContext, DatabaseUnavailable
from podnex.db import Database
from podnex.logging import configure_logging
from podnex.probes import ProbeServer
from podnex.providers import SPEECH_PROVIDERS, create_engines, create_writer
from podnex.settings import Settings, settings_or_exit
from podnex.speech import espeak
from podnex.storage import create_storage
from podnex.temporal import connect, prometheus_runtime, tls_config
from podnex.webhooks import WebhookPolicy
from workflows.podcast import PodcastWorkflow
from workflows.reconcile import ReconcileWorkflow
from workflows.types import (
    RECONCILE_SCHEDULE_ID,
    RECONCILE_WORKFLOW_TYPE,
    ReconcileRequest,
    speech_task_queue,
)
from workflows.webhooks import WebhookDeliveryWorkflow

log = structlog.get_logger("podnex.worker")

WORKFLOW_RUNNER = SandboxedWorkflowRunner(
    restrictions=SandboxRestrictions.default.with_passthrough_all_modules()
)
"""Workflows run in the sandbox, which still refuses non-deterministic calls (the clock,
random, I/O), but without re-importing their modules for every run: podnex's workflow
modules keep no state of their own, and a fresh import per run cost about 4 ms of worker
CPU a workflow (bench/README.md, #20)."""

HEARTBEAT_THROTTLE = timedelta(seconds=1)
"""Heartbeats reach Temporal at least this often (the SDK's default waits up to 0.8 x the
heartbeat timeout), and a cancel request reaches a running activity only with a heartbeat's
answer: a cancelled podcast stops its speech and its combine within about a second."""


class WorkerGroup:
    """Several workers started and stopped together with one ``async with``."""

    def __init__(self, workers: Sequence[Worker]) -> None:
        self.workers = list(workers)
        self._running: list[Worker] = []
        self._stopping = False

    @property
    def ready(self) -> bool:
        """Every worker has passed its namespace check and polls, and none is stopping."""
        return (
            not self._stopping
            and len(self._running) == len(self.workers)
            and all(worker.is_running for worker in self.workers)
        )

    @property
    def task_queues(self) -> list[str]:
        """The task queue each worker polls, in order."""
        return [worker.task_queue for worker in self.workers]

    async def __aenter__(self) -> WorkerGroup:
        """Start every worker (stopping those already started if one cannot start)."""
        self._stopping = False
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
        self._stopping = True
        running, self._running = self._running, []
        results = await asyncio.gather(
            *(worker.__aexit__(exc_type, exc, traceback) for worker in running),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result


def build_worker(
    client: Client,
    settings: Settings,
    deps: ActivityDeps,
    *,
    extra_interceptors: Sequence[Interceptor] = (),
) -> WorkerGroup:
    """The main worker plus one speech worker per engine in ``deps.engines``.

    ``extra_interceptors`` wrap every activity too (the tests pause steps with them)."""
    graceful = timedelta(seconds=settings.worker_graceful_shutdown_seconds)
    interceptors = [ActivityLogContext(), DatabaseUnavailable(), *extra_interceptors]
    main = Worker(
        client,
        task_queue=settings.temporal_task_queue,
        workflows=[PodcastWorkflow, ReconcileWorkflow, WebhookDeliveryWorkflow],
        workflow_runner=WORKFLOW_RUNNER,
        activities=all_activities(deps),
        max_concurrent_activities=settings.worker_max_concurrent_activities,
        max_concurrent_workflow_tasks=settings.worker_max_concurrent_workflow_tasks,
        max_cached_workflows=settings.worker_max_cached_workflows,
        # A run's next workflow task waits this long for the worker that cached it before
        # any worker may take it: 3 s instead of 10 s lets a run outlive a killed worker
        # sooner, at the cost of a replay when a busy worker misses the window.
        sticky_queue_schedule_to_start_timeout=timedelta(seconds=3),
        # No eager activity dispatch (the dev server has it on): an eagerly dispatched
        # activity is recorded as started when the workflow task completes, so a completion
        # whose answer never reaches this worker (an RPC given up under load) leaves it
        # started and running nowhere until its heartbeat timeout, the signature of the 30 s
        # `combine_audio` stall of #20 (the likely cause; it did not reproduce). Through the
        # task queue a step goes to a poll that is already waiting for it.
        disable_eager_activity_execution=True,
        graceful_shutdown_timeout=graceful,
        max_heartbeat_throttle_interval=HEARTBEAT_THROTTLE,
        interceptors=interceptors,
    )
    speech = []
    for provider in deps.engines:
        concurrency, per_second = SPEECH_PROVIDERS[provider].task_limits(settings)
        speech.append(
            Worker(
                client,
                task_queue=speech_task_queue(settings.temporal_task_queue, provider),
                activities=speech_activities(deps),
                max_concurrent_activities=concurrency,
                max_task_queue_activities_per_second=per_second,
                graceful_shutdown_timeout=graceful,
                max_heartbeat_throttle_interval=HEARTBEAT_THROTTLE,
                interceptors=interceptors,
            )
        )
    return WorkerGroup([main, *speech])


async def keep_reconcile_schedule(client: Client, settings: Settings) -> None:
    """The reconciler's Schedule, as the settings say: every RECONCILE_INTERVAL_SECONDS
    a ReconcileWorkflow on the main task queue (created, or updated when the settings
    changed; removed when the interval is 0). Every worker may call it: the first creates."""
    handle = client.get_schedule_handle(RECONCILE_SCHEDULE_ID)
    if settings.reconcile_interval_seconds <= 0:
        with contextlib.suppress(RPCError):
            await handle.delete()
        return
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(
            RECONCILE_WORKFLOW_TYPE,
            ReconcileRequest(
                grace_seconds=settings.reconcile_grace_seconds,
                segment_retention_seconds=(
                    settings.segment_retention_days * 86400
                    if settings.segment_retention_days > 0
                    else None
                ),
            ),
            id=f"{RECONCILE_SCHEDULE_ID}-run",
            task_queue=settings.temporal_task_queue,
        ),
        spec=ScheduleSpec(
            intervals=[
                ScheduleIntervalSpec(every=timedelta(seconds=settings.reconcile_interval_seconds))
            ]
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )
    try:
        await client.create_schedule(RECONCILE_SCHEDULE_ID, schedule)
    except ScheduleAlreadyRunningError:
        await handle.update(lambda _: ScheduleUpdate(schedule=schedule))


def build_deps(settings: Settings) -> ActivityDeps:
    """Open what the activities share: database, storage, script writer, speech engines."""
    return ActivityDeps(
        db=Database(settings),
        storage=create_storage(settings),
        writer=create_writer(settings),
        engines=create_engines(settings),
        webhooks=WebhookPolicy(
            give_up_after=timedelta(hours=settings.webhook_retry_hours),
            disable_after=settings.webhook_disable_after_failures,
            allow_private=settings.webhooks_allow_private,
            timeout_seconds=settings.webhook_timeout_seconds,
        ),
    )


async def warm_up_engines(deps: ActivityDeps) -> None:
    """Start what the speech engines keep running (espeak-ng's speaking processes,
    `EspeakEngine.warm_up`) before the worker polls, so its first podcast waits for none."""
    for engine in deps.engines.values():
        warm_up = getattr(engine, "warm_up", None)
        if warm_up is not None:
            await warm_up()


class WorkerStartError(Exception):
    """The worker could not start (Temporal unreachable, a port taken): the reason, no
    traceback, for the operator."""


def probe_server(group: WorkerGroup) -> ProbeServer:
    """`/ready` is 200 while every worker of ``group`` polls and none is stopping."""
    return ProbeServer(lambda: group.ready, lambda: {"taskQueues": group.task_queues})


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def run(settings: Settings, deps: ActivityDeps | None = None) -> None:
    """Serve until SIGINT or SIGTERM. ``deps`` replaces what `build_deps` would open
    (the durability tests and the benchmarks run the real worker with their own engines)."""
    host = settings.worker_bind_host
    runtime = None
    if settings.worker_metrics_port is not None:
        try:
            runtime = prometheus_runtime(_address(host, settings.worker_metrics_port))
        except Exception as exc:
            raise WorkerStartError(
                f"cannot serve metrics on {_address(host, settings.worker_metrics_port)} "
                f"(WORKER_METRICS_PORT): {exc}"
            ) from exc
    try:
        client = await connect(settings, runtime=runtime)
    except Exception as exc:
        raise WorkerStartError(
            f"cannot connect to Temporal at {settings.temporal_address} "
            f"(namespace {settings.temporal_namespace}): {exc}"
        ) from exc
    if deps is None:
        deps = build_deps(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    worker = build_worker(client, settings, deps)
    health: ProbeServer | None = None
    try:
        if settings.worker_health_port is not None:
            try:
                health = probe_server(worker).start(host, settings.worker_health_port)
            except OSError as exc:
                raise WorkerStartError(
                    f"cannot serve health checks on "
                    f"{_address(host, settings.worker_health_port)} (WORKER_HEALTH_PORT): {exc}"
                ) from exc
        await warm_up_engines(deps)
        async with worker:
            await keep_reconcile_schedule(client, settings)
            log.info(
                "worker started",
                task_queues=worker.task_queues,
                temporal=settings.temporal_address,
                namespace=settings.temporal_namespace,
                tls=tls_config(settings) is not False,
                writer=deps.writer.name,
                storage=deps.storage.name,
                engines=sorted(deps.engines),
                max_concurrent_activities=settings.worker_max_concurrent_activities,
                max_concurrent_workflow_tasks=settings.worker_max_concurrent_workflow_tasks,
                metrics_port=settings.worker_metrics_port,
                health_port=settings.worker_health_port,
            )
            await stop.wait()
            log.info(
                "worker stopping",
                graceful_shutdown_seconds=settings.worker_graceful_shutdown_seconds,
            )
    finally:
        if health is not None:
            health.close()
        # espeak's child processes (ESPEAK_PROCESSES): main() leaves with os._exit, which
        # skips the interpreter's own stop of them.
        await asyncio.to_thread(espeak.shutdown)
        await deps.db.dispose()
    log.info("worker stopped")


def main() -> None:
    settings = settings_or_exit("worker")
    configure_logging(settings)
    try:
        asyncio.run(run(settings))
    except WorkerStartError as exc:
        log.error("worker could not start", reason=str(exc))
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(1)
    # temporalio can abort the interpreter during teardown (sdk-python issue 300) after a
    # clean shutdown; the work is done, so leave without running that teardown.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
