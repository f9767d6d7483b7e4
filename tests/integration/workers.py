"""Test workers on their own task queues, with a speech engine that fails or dawdles on cue."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from temporalio.client import Client
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

import worker as worker_module
from podnex.settings import Settings
from podnex.speech.base import SpeechAudio, SpeechError
from podnex.speech.espeak import EspeakEngine


class ScriptedEngine:
    """Real espeak speech, with a failure or a delay injected on chosen calls; in this
    process, or in espeak-ng's pool of ``processes`` (0: one a core) as the worker speaks."""

    name = "espeak"

    def __init__(
        self, *, fail_after: int | None = None, delay: float = 0.0, processes: int = 1
    ) -> None:
        self.inner = EspeakEngine(processes=processes)
        self.lines_at_once = self.inner.lines_at_once
        self.fail_after = fail_after
        self.delay = delay
        self.calls = 0

    def voices(self) -> Mapping[str, str]:
        return self.inner.voices()

    async def synthesize(self, text: str, voice: str) -> SpeechAudio:
        self.calls += 1
        if self.fail_after is not None and self.calls > self.fail_after:
            raise SpeechError("voice model rejected the text", retryable=False)
        await asyncio.sleep(self.delay)
        return await self.inner.synthesize(text, voice)


@asynccontextmanager
async def worker_with(
    settings: Settings,
    client: Client,
    engine: ScriptedEngine,
    interceptors: Sequence[Interceptor] = (),
) -> AsyncIterator[str]:
    """A worker on its own task queue whose speech engine is `engine`."""
    queue = f"outcomes-{uuid.uuid4().hex[:8]}"
    deps = worker_module.build_deps(settings)
    deps.engines = {engine.name: engine}
    own = settings.model_copy(update={"temporal_task_queue": queue})
    async with worker_module.build_worker(client, own, deps, extra_interceptors=interceptors):
        yield queue
    await deps.db.dispose()


class AfterEachActivity(Interceptor):
    """A worker interceptor that runs `after` once each activity has done its work, in
    that activity's context (its info, its heartbeats); what `after` returns or raises is
    the activity's outcome."""

    async def after(self, input: ExecuteActivityInput, result: Any) -> Any:
        return result

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _After(next, self)


class _After(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, owner: AfterEachActivity) -> None:
        super().__init__(next)
        self.owner = owner

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        return await self.owner.after(input, await self.next.execute_activity(input))
