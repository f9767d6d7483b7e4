"""Write the host/guest script from the notes."""

from __future__ import annotations

import asyncio

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.context import ActivityDeps, log
from workflows.types import Script, ScriptRequest


class ScriptActivities:
    def __init__(self, deps: ActivityDeps) -> None:
        self.deps = deps

    @activity.defn(name="write_script")
    async def write_script(self, request: ScriptRequest) -> Script:
        try:
            script = await asyncio.to_thread(
                self.deps.writer.write, request.note_content, request.duration, request.title
            )
        except ValueError as exc:
            raise ApplicationError(str(exc), type="InvalidNotes", non_retryable=True) from exc
        log().info("script written", lines=len(script.lines), words=script.word_count)
        return script
