"""Every call the API makes to Temporal, and what its failures mean.

The only module of `api/` that imports the Temporal client: starting a podcast's run with
update-with-start and waiting for its admission, the progress query, the cancel signal,
Temporal's own cancel request, webhook redeliveries and the health check. Failures come out
as the exceptions below, which the services map to answers.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import structlog
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (
    DeleteWorkflowExecutionRequest,
    DescribeTaskQueueRequest,
)
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from podnex import podcasts
from podnex.models import Podcast
from podnex.providers import SPEECH_PROVIDERS, SpeechProvider
from podnex.script.types import ScriptLine
from podnex.settings import Settings
from podnex.temporal import PODCAST_ID, USER_ID, connect
from workflows.types import (
    ADMIT_UPDATE,
    CANCEL_SIGNAL,
    PROGRESS_QUERY,
    WEBHOOK_WORKFLOW_TYPE,
    WORKFLOW_TYPE,
    Admission,
    PodcastInput,
    Progress,
    WebhookDeliveryInput,
    webhook_workflow_id,
    workflow_id_for,
)

log = structlog.get_logger("podnex.api")

DEFAULT_ADMISSION_TIMEOUT = timedelta(seconds=20)
DESCRIBE_TIMEOUT = timedelta(seconds=5)
CLOSING_WAIT = timedelta(seconds=5)
"""How long a re-render waits for the podcast's previous run to finish closing."""
PROGRESS_QUERY_TIMEOUT = timedelta(seconds=1)
"""How long /status waits for the live run before the stored record answers."""
_TIMED_OUT = {RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED}

UNAVAILABLE_CODES = {
    RPCStatusCode.UNAVAILABLE,
    RPCStatusCode.DEADLINE_EXCEEDED,
    RPCStatusCode.CANCELLED,
    RPCStatusCode.UNKNOWN,
}
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (RuntimeError, OSError, TimeoutError)


RUN_STATUSES = ("Running", "Completed", "Failed", "Canceled", "Terminated", "TimedOut")
"""Temporal's `ExecutionStatus` values the admin statistics count."""


@dataclass(frozen=True)
class QueueState:
    """One task queue as Temporal describes it: tasks waiting, workers polling."""

    name: str
    kind: str
    backlog: int
    pollers: int


def _speech_provider(podcast: Podcast) -> SpeechProvider:
    """The declaration of the podcast's speech engine; an engine no longer declared (a
    stored podcast of a removed provider) reads as the defaults: one line an activity,
    eight at a time."""
    name = podcasts.spec_of(podcast).tts_provider
    return SPEECH_PROVIDERS.get(name) or SpeechProvider(name=name, label=name)


class RunAlreadyStarted(Exception):
    """The podcast's workflow is already running."""


class WorkflowServiceUnavailable(Exception):
    """Temporal could not be reached (or did not answer in time)."""


def is_unavailable(error: BaseException) -> bool:
    """Whether ``error`` means Temporal could not be reached."""
    if isinstance(error, RPCError):
        return error.status in UNAVAILABLE_CODES
    return isinstance(error, CONNECTION_ERRORS)


def run_input_for(
    podcast: Podcast,
    *,
    speech_concurrency: int,
    lines_per_activity: int = 4,
    speech_rounds: int = 2,
    script: list[ScriptLine] | None = None,
) -> PodcastInput:
    """The workflow input for a stored podcast; with ``script``, a re-render of that edited
    script publishing the podcast's next version."""
    return PodcastInput(
        podcast_id=str(podcast.id),
        user_id=str(podcast.user_id),
        spec=podcasts.spec_of(podcast),
        speech_concurrency=speech_concurrency,
        lines_per_activity=lines_per_activity,
        speech_rounds=speech_rounds,
        script=script,
        version=None if script is None else max(podcast.version, 1) + 1,
    )


async def start_podcast_run(
    client: Client,
    task_queue: str,
    run_input: PodcastInput,
    *,
    summary: str,
    admission_timeout: timedelta = DEFAULT_ADMISSION_TIMEOUT,
) -> tuple[Admission | None, WorkflowHandle[Any, Any]]:
    """Start `podcast-<id>` and wait for the limit check's answer.

    Returns (None, handle) when no worker answered within `admission_timeout`: the run is
    started and will be admitted or refused when a worker picks it up.
    """
    start: WithStartWorkflowOperation[Any, Any] = WithStartWorkflowOperation(
        WORKFLOW_TYPE,
        run_input,
        id=workflow_id_for(run_input.podcast_id),
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(PODCAST_ID, run_input.podcast_id),
                SearchAttributePair(USER_ID, run_input.user_id),
            ]
        ),
        static_summary=summary,
        result_type=None,
    )
    try:
        admission = await client.execute_update_with_start_workflow(
            ADMIT_UPDATE,
            start_workflow_operation=start,
            result_type=Admission,
            rpc_timeout=admission_timeout,
        )
    except (WorkflowUpdateRPCTimeoutOrCancelledError, RPCError) as exc:
        if isinstance(exc, RPCError) and exc.status not in _TIMED_OUT:
            raise
        # The wait timed out. If the run was started it is admitted or refused later, by
        # whichever worker picks it up; if it was not, the caller sees the original error.
        handle = client.get_workflow_handle(workflow_id_for(run_input.podcast_id))
        try:
            await handle.describe(rpc_timeout=DESCRIBE_TIMEOUT)
        except RPCError:
            raise exc from None
        return None, handle
    return admission, await start.workflow_handle()


@dataclass
class PodcastRuns:
    """The API's Temporal client: connects on first use and again after a failure, so the
    API starts without Temporal."""

    settings: Settings
    _client: Client | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def client(self) -> Client:
        if self._client is None:
            async with self._lock:
                if self._client is None:
                    self._client = await connect(self.settings)
        return self._client

    async def healthy(self, within: timedelta) -> bool:
        """Whether Temporal answers its health check."""
        client = await self.client()
        return await client.service_client.check_health(timeout=within)

    def lines_per_activity(self, podcast: Podcast) -> int:
        """`SPEECH_LINES_PER_ACTIVITY` when set, else the podcast's speech engine's own."""
        if self.settings.speech_lines_per_activity is not None:
            return self.settings.speech_lines_per_activity
        return _speech_provider(podcast).lines_per_activity

    def speech_concurrency(self, podcast: Podcast) -> int:
        """`SPEECH_CONCURRENCY` when set, else the podcast's speech engine's own."""
        if self.settings.speech_concurrency is not None:
            return self.settings.speech_concurrency
        return _speech_provider(podcast).activities_at_once

    def speech_rounds(self, podcast: Podcast) -> int:
        """The podcast's speech engine's own rounds of batches."""
        return _speech_provider(podcast).speech_rounds

    async def start(
        self, podcast: Podcast, script: list[ScriptLine] | None = None
    ) -> Admission | None:
        """Start the podcast's run (a re-render of ``script`` when given) and wait for
        admission: None when no worker answered in time (the run decides later).

        A re-render asked for as soon as the podcast reads COMPLETED may find the run
        before it not yet closed (the row is written in the usage's transaction, the run
        closes a workflow task later): it waits up to `CLOSING_WAIT` for that run to
        close, then starts.

        Raises :class:`RunAlreadyStarted` or :class:`WorkflowServiceUnavailable`.
        """
        try:
            return await self._start(podcast, script)
        except RunAlreadyStarted:
            if script is None or not await self.wait_closed(
                workflow_id_for(str(podcast.id)), CLOSING_WAIT
            ):
                raise
        return await self._start(podcast, script)

    async def _start(self, podcast: Podcast, script: list[ScriptLine] | None) -> Admission | None:
        run_input = run_input_for(
            podcast,
            speech_concurrency=self.speech_concurrency(podcast),
            lines_per_activity=self.lines_per_activity(podcast),
            speech_rounds=self.speech_rounds(podcast),
            script=script,
        )
        try:
            client = await self.client()
            admission, _ = await start_podcast_run(
                client,
                self.settings.temporal_task_queue,
                run_input,
                summary=(
                    f"Podcast {podcast.title or podcast.id} ({podcast.duration.value})"
                    + ("" if run_input.version is None else f", re-render v{run_input.version}")
                ),
            )
        except WorkflowAlreadyStartedError as exc:
            raise RunAlreadyStarted(str(exc)) from exc
        except (RPCError, RuntimeError, OSError, TimeoutError) as exc:
            if not is_unavailable(exc):
                raise
            log.error("temporal unavailable", podcast_id=str(podcast.id), error=str(exc))
            raise WorkflowServiceUnavailable(str(exc)) from exc
        return admission

    async def progress(self, workflow_id: str) -> Progress | None:
        """The run's live progress, or None when it cannot answer within
        `PROGRESS_QUERY_TIMEOUT` (closed, no worker, Temporal down or still connecting)."""
        try:
            async with asyncio.timeout(PROGRESS_QUERY_TIMEOUT.total_seconds()):
                client = await self.client()
                return await client.get_workflow_handle(workflow_id).query(
                    PROGRESS_QUERY, result_type=Progress, rpc_timeout=PROGRESS_QUERY_TIMEOUT
                )
        except Exception as exc:  # any failure: the stored record answers instead
            log.info("progress query unanswered", workflow_id=workflow_id, error=str(exc))
            return None

    async def cancel(self, workflow_id: str, wait: timedelta) -> None:
        """Send the run's cancel signal and wait up to ``wait`` for it to close.

        A run that is already closed needs nothing. Raises
        :class:`WorkflowServiceUnavailable` when Temporal does not answer.
        """
        try:
            client = await self.client()
            await client.get_workflow_handle(workflow_id).signal(CANCEL_SIGNAL)
        except RPCError as exc:
            if exc.status is RPCStatusCode.NOT_FOUND:
                return
            raise WorkflowServiceUnavailable(str(exc)) from exc
        await self.wait_closed(workflow_id, wait)

    async def wait_closed(self, workflow_id: str, within: timedelta) -> bool:
        """Wait up to ``within`` for the run to close, however it ends; True if it did."""
        try:
            client = await self.client()
            await asyncio.wait_for(
                client.get_workflow_handle(workflow_id).result(), within.total_seconds()
            )
        except TimeoutError:
            return False
        except (WorkflowFailureError, asyncio.CancelledError):
            return True  # failed or cancelled: closed all the same
        except RPCError as exc:
            if exc.status is not RPCStatusCode.NOT_FOUND:
                raise WorkflowServiceUnavailable(str(exc)) from exc
        return True

    async def delete_histories(self, workflow_id: str) -> int:
        """Delete the histories of every (closed) run of ``workflow_id``; how many. A run
        still going is left alone (deleting it would end it without its clean-up)."""
        client = await self.client()
        try:
            latest = await client.get_workflow_handle(workflow_id).describe()
        except RPCError as exc:
            if exc.status is RPCStatusCode.NOT_FOUND:
                return 0
            raise
        # Visibility (the list) may lag behind a run that just closed: each run's own
        # description says whether it is still going.
        run_ids = {latest.run_id}
        async for run in client.list_workflows(f"WorkflowId = '{workflow_id}'"):
            run_ids.add(run.run_id)
        deleted = 0
        for run_id in run_ids:
            described = await client.get_workflow_handle(workflow_id, run_id=run_id).describe()
            if described.status in (None, WorkflowExecutionStatus.RUNNING):
                continue
            await client.workflow_service.delete_workflow_execution(
                DeleteWorkflowExecutionRequest(
                    namespace=client.namespace,
                    workflow_execution=WorkflowExecution(workflow_id=workflow_id, run_id=run_id),
                )
            )
            deleted += 1
        return deleted

    async def request_cancel(self, workflow_id: str) -> None:
        """Ask Temporal to cancel the run; a run that is already closed needs nothing."""
        try:
            client = await self.client()
            await client.get_workflow_handle(workflow_id).cancel()
        except RPCError as exc:
            if exc.status is not RPCStatusCode.NOT_FOUND:
                log.warning("cancel request failed", workflow_id=workflow_id, error=str(exc))

    async def redeliver_webhook(self, delivery_id: str, redelivery: int) -> None:
        """Start the delivery workflow of a manual redelivery (its own workflow id).

        Raises :class:`WorkflowServiceUnavailable` when Temporal does not answer."""
        try:
            client = await self.client()
            await client.start_workflow(
                WEBHOOK_WORKFLOW_TYPE,
                WebhookDeliveryInput(delivery_id=delivery_id),
                id=webhook_workflow_id(delivery_id, redelivery),
                task_queue=self.settings.temporal_task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
        except WorkflowAlreadyStartedError:
            return
        except (RPCError, RuntimeError, OSError, TimeoutError) as exc:
            if not is_unavailable(exc):
                raise
            raise WorkflowServiceUnavailable(str(exc)) from exc

    async def count_podcast_runs(self, user_id: str | None = None) -> dict[str, int]:
        """Podcast runs in Temporal's visibility by `ExecutionStatus` (those carrying the
        `PodcastId` search attribute; one user's with ``user_id``).

        Raises :class:`WorkflowServiceUnavailable` when Temporal does not answer."""
        base = f"WorkflowType = '{WORKFLOW_TYPE}' AND {PODCAST_ID.name} IS NOT NULL"
        if user_id is not None:
            safe = user_id.replace("'", "")
            base += f" AND {USER_ID.name} = '{safe}'"
        counts: dict[str, int] = {}
        try:
            client = await self.client()
            for status in RUN_STATUSES:
                result = await client.count_workflows(
                    f"{base} AND ExecutionStatus = '{status}'", rpc_timeout=DESCRIBE_TIMEOUT
                )
                counts[status] = result.count
        except (RPCError, RuntimeError, OSError, TimeoutError) as exc:
            raise WorkflowServiceUnavailable(str(exc)) from exc
        return counts

    async def describe_queues(self, queues: list[str]) -> list[QueueState]:
        """Backlog and pollers of each queue, for workflow and activity tasks.

        Raises :class:`WorkflowServiceUnavailable` when Temporal does not answer."""
        kinds = {
            "workflow": TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
            "activity": TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
        }
        states = []
        try:
            client = await self.client()
            for name in queues:
                for kind, queue_type in kinds.items():
                    described = await client.workflow_service.describe_task_queue(
                        DescribeTaskQueueRequest(
                            namespace=client.namespace,
                            task_queue=TaskQueue(name=name),
                            task_queue_type=queue_type,
                            report_stats=True,
                        ),
                        timeout=DESCRIBE_TIMEOUT,
                    )
                    states.append(
                        QueueState(
                            name=name,
                            kind=kind,
                            backlog=int(described.stats.approximate_backlog_count),
                            pollers=len(described.pollers),
                        )
                    )
        except (RPCError, RuntimeError, OSError, TimeoutError) as exc:
            raise WorkflowServiceUnavailable(str(exc)) from exc
        return states
