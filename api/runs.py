"""Starting a podcast's workflow run and waiting for its admission (update-with-start)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowHandle,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from podnex.models import Podcast
from podnex.temporal import PODCAST_ID, USER_ID, workflow_id_for
from workflows.types import Admission, PodcastInput

WORKFLOW_TYPE = "PodcastWorkflow"
ADMIT_UPDATE = "admit"
DEFAULT_ADMISSION_TIMEOUT = timedelta(seconds=20)
DESCRIBE_TIMEOUT = timedelta(seconds=5)
_TIMED_OUT = {RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED}


def run_input_for(podcast: Podcast, *, speech_concurrency: int) -> PodcastInput:
    """The workflow input for a stored podcast."""
    return PodcastInput(
        podcast_id=str(podcast.id),
        user_id=str(podcast.user_id),
        note_content=podcast.note_content,
        title=podcast.title,
        duration=podcast.duration.value,
        host_voice=podcast.host_voice,
        guest_voice=podcast.guest_voice,
        tts_provider=podcast.tts_provider,
        language=podcast.language,
        instructions=podcast.instructions,
        speech_concurrency=speech_concurrency,
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
