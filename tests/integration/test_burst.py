"""Twenty podcasts started at once on one worker: no step stalls (issue #20).

A benchmark once saw a `combine_audio` attempt recorded as started that never ran: it
waited out its 30 s heartbeat timeout before a retry did the work. Under a burst like the
benchmark's (real espeak-ng speech, real ffmpeg combines, every podcast on one worker),
every activity of every run must succeed at its first attempt: a start that is lost, a
heartbeat starved by the worker's load or a slot that never frees shows here as a timed
out attempt.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle

from api.temporal_client import run_input_for, start_podcast_run
from podnex.db import Database
from podnex.providers import SPEECH_PROVIDERS
from podnex.settings import Settings
from podnex.speech import espeak
from tests.conftest import ApiUser
from tests.integration.podcasts import stored_podcast
from tests.integration.workers import ScriptedEngine, worker_with

BURST = 20


async def attempts_and_timeouts(handle: WorkflowHandle[Any, Any]) -> tuple[Counter[str], int]:
    """Each activity type's attempts beyond the first, and the run's timed-out attempts."""
    history = await handle.fetch_history()
    names: dict[int, str] = {}
    retried: Counter[str] = Counter()
    timeouts = 0
    for event in history.events:
        if event.HasField("activity_task_scheduled_event_attributes"):
            names[event.event_id] = (
                event.activity_task_scheduled_event_attributes.activity_type.name
            )
        elif event.HasField("activity_task_started_event_attributes"):
            started = event.activity_task_started_event_attributes
            if started.attempt > 1:
                retried[names[started.scheduled_event_id]] += started.attempt - 1
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
            timeouts += 1
    return retried, timeouts


async def test_a_burst_of_twenty_podcasts_runs_every_step_once(
    settings: Settings, db: Database, temporal_client: Client, user: ApiUser
) -> None:
    engine = ScriptedEngine(processes=0)  # as the worker speaks: one process a core
    podcasts = [await stored_podcast(db, user, f"Burst {n}") for n in range(BURST)]
    try:
        async with worker_with(settings, temporal_client, engine) as queue:
            handles = [
                handle
                for _, handle in await asyncio.gather(
                    *(
                        start_podcast_run(
                            temporal_client,
                            queue,
                            run_input_for(
                                podcast,
                                speech_concurrency=SPEECH_PROVIDERS["espeak"].activities_at_once,
                                lines_per_activity=SPEECH_PROVIDERS["espeak"].lines_per_activity,
                                speech_rounds=SPEECH_PROVIDERS["espeak"].speech_rounds,
                            ),
                            summary=f"burst {n}",
                        )
                        for n, podcast in enumerate(podcasts)
                    )
                )
            ]
            results = await asyncio.gather(*(handle.result() for handle in handles))
    finally:
        espeak.shutdown()
    assert [result["status"] for result in results] == ["COMPLETED"] * BURST
    for handle in handles:
        retried, timeouts = await attempts_and_timeouts(handle)
        assert timeouts == 0 and not retried, (handle.id, retried, timeouts)
