"""Synthesise lines of dialogue, each cached by content in storage."""

from __future__ import annotations

import asyncio

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.context import ActivityDeps, heartbeating, log, retry_delay
from podnex import metrics
from podnex.speakable import speakable
from podnex.speech.base import SpeechEngine, SpeechError
from podnex.storage.keys import segment_key
from workflows.types import (
    SpeechBatch,
    SpeechBatchResult,
    SpeechLine,
    SpeechRequest,
    SpeechResult,
)


class SpeechActivities:
    def __init__(self, deps: ActivityDeps) -> None:
        self.deps = deps

    @activity.defn(name="synthesize_line")
    async def synthesize_line(self, request: SpeechRequest) -> SpeechResult:
        """One line (runs started before lines were spoken in batches still call this)."""
        engine = self._engine(request.provider)
        line = SpeechLine(
            index=request.index, speaker=request.speaker, text=request.text, voice=request.voice
        )
        async with heartbeating():
            return await self._speak(engine, request.podcast_id, line, request.language)

    @activity.defn(name="synthesize_lines")
    async def synthesize_lines(self, batch: SpeechBatch) -> SpeechBatchResult:
        """Several lines, up to the engine's `lines_at_once` at a time in the script's
        order (espeak-ng: one a core; a cloud engine: one after another), each stored as
        soon as it is spoken.

        The heartbeat details are the indexes of the lines stored so far: a retry skips
        them, so a worker lost mid-batch costs only the lines it was speaking. A line that
        fails for a reason worth retrying does not stop the others; the batch fails after
        them, so its retry speaks only what is still missing. A failure not worth retrying
        fails the batch at once (the lines being spoken are stopped and waited for).
        """
        engine = self._engine(batch.provider)
        stored: dict[int, SpeechResult] = {}
        details = activity.info().heartbeat_details
        done_before = set(details[0]) if details and isinstance(details[0], list) else set()
        for line in batch.lines:
            if line.index in done_before:
                # Spoken by an earlier attempt of this batch: as if it had reported it.
                key = self._key(engine, batch.podcast_id, line, batch.language)
                stored[line.index] = SpeechResult(key=key, duration_seconds=0.0, cached=False)
        slots = asyncio.Semaphore(max(1, engine.lines_at_once))
        # A line said twice in the batch (same voice, same text) waits for its first
        # saying: a cache hit, not a second engine call at the same time.
        sayings: dict[tuple[str, str], asyncio.Lock] = {}

        async def speak(line: SpeechLine) -> None:
            async with sayings.setdefault((line.voice, line.text), asyncio.Lock()), slots:
                stored[line.index] = await self._speak(
                    engine, batch.podcast_id, line, batch.language
                )
            activity.heartbeat(sorted(stored))

        failure: ApplicationError | None = None
        async with heartbeating(details=lambda: (sorted(stored),)):
            speaking = [
                asyncio.create_task(speak(line))
                for line in batch.lines
                if line.index not in done_before
            ]
            try:
                for spoken in asyncio.as_completed(speaking):
                    try:
                        await spoken
                    except ApplicationError as exc:
                        if exc.non_retryable:
                            raise
                        failure = _later(failure, exc)
            finally:
                for task in speaking:
                    task.cancel()
                await asyncio.gather(*speaking, return_exceptions=True)
        if failure is not None:
            raise failure
        return SpeechBatchResult(results=[stored[line.index] for line in batch.lines])

    def _engine(self, provider: str) -> SpeechEngine:
        engine = self.deps.engines.get(provider)
        if engine is None:
            raise ApplicationError(
                f"unknown speech provider {provider!r}",
                type="UnknownProvider",
                non_retryable=True,
            )
        return engine

    @staticmethod
    def _key(engine: SpeechEngine, podcast_id: str, line: SpeechLine, language: str | None) -> str:
        return segment_key(podcast_id, engine.name, line.voice, speakable(line.text, language))

    async def _speak(
        self, engine: SpeechEngine, podcast_id: str, line: SpeechLine, language: str | None
    ) -> SpeechResult:
        # Numbers, symbols and shorthand in words (the transcript keeps the text); the
        # segment is stored by what the engine says.
        spoken = speakable(line.text, language)
        key = segment_key(podcast_id, engine.name, line.voice, spoken)
        storage = self.deps.storage
        if await storage.exists(key):
            metrics.count_speech_cache(activity.metric_meter(), hit=True)
            log().info("speech cache hit", line=line.index, key=key)
            return SpeechResult(key=key, duration_seconds=0.0, cached=True)
        metrics.count_speech_cache(activity.metric_meter(), hit=False)
        try:
            audio = await engine.synthesize(spoken, line.voice)
        except SpeechError as exc:
            metrics.count_provider_error(
                activity.metric_meter(),
                provider=engine.name,
                step="speech",
                kind=speech_error_kind(exc),
            )
            log().warning(
                "speech failed",
                line=line.index,
                provider=engine.name,
                error=str(exc),
                retryable=exc.retryable,
                retry_after=exc.retry_after,
            )
            raise ApplicationError(
                str(exc),
                type="SpeechError",
                non_retryable=not exc.retryable,
                next_retry_delay=retry_delay(exc.retry_after),
            ) from exc
        await storage.put(
            key,
            audio.wav,
            content_type="audio/wav",
            metadata={"podcast-id": podcast_id, "line": str(line.index)},
        )
        log().info("line synthesised", line=line.index, seconds=round(audio.duration_seconds, 2))
        return SpeechResult(key=key, duration_seconds=audio.duration_seconds, cached=False)


def _later(first: ApplicationError | None, other: ApplicationError) -> ApplicationError:
    """Of two retryable failures, the one asking for the longer wait before the retry."""
    if first is None:
        return other
    wait = first.next_retry_delay.total_seconds() if first.next_retry_delay else 0.0
    other_wait = other.next_retry_delay.total_seconds() if other.next_retry_delay else 0.0
    return other if other_wait > wait else first


def speech_error_kind(error: SpeechError) -> str:
    """A bounded label for a speech failure: rate_limited, transient or refused."""
    if error.retry_after is not None:
        return "rate_limited"
    return "transient" if error.retryable else "refused"
