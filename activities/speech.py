"""Synthesise one line of dialogue, cached by content in storage."""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.context import ActivityDeps, heartbeating, log, retry_delay
from podnex import metrics
from podnex.speakable import speakable
from podnex.speech.base import SpeechError
from podnex.storage.keys import segment_key
from workflows.types import SpeechRequest, SpeechResult


class SpeechActivities:
    def __init__(self, deps: ActivityDeps) -> None:
        self.deps = deps

    @activity.defn(name="synthesize_line")
    async def synthesize_line(self, request: SpeechRequest) -> SpeechResult:
        engine = self.deps.engines.get(request.provider)
        if engine is None:
            raise ApplicationError(
                f"unknown speech provider {request.provider!r}",
                type="UnknownProvider",
                non_retryable=True,
            )
        # Numbers, symbols and shorthand in words (the transcript keeps the text); the
        # segment is stored by what the engine says.
        spoken = speakable(request.text, request.language)
        key = segment_key(request.podcast_id, engine.name, request.voice, spoken)
        storage = self.deps.storage
        if await storage.exists(key):
            metrics.count_speech_cache(activity.metric_meter(), hit=True)
            log().info("speech cache hit", line=request.index, key=key)
            return SpeechResult(key=key, duration_seconds=0.0, cached=True)
        metrics.count_speech_cache(activity.metric_meter(), hit=False)
        try:
            async with heartbeating():
                audio = await engine.synthesize(spoken, request.voice)
        except SpeechError as exc:
            metrics.count_provider_error(
                activity.metric_meter(),
                provider=engine.name,
                step="speech",
                kind=speech_error_kind(exc),
            )
            log().warning(
                "speech failed",
                line=request.index,
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
            metadata={"podcast-id": request.podcast_id, "line": str(request.index)},
        )
        log().info("line synthesised", line=request.index, seconds=round(audio.duration_seconds, 2))
        return SpeechResult(key=key, duration_seconds=audio.duration_seconds, cached=False)


def speech_error_kind(error: SpeechError) -> str:
    """A bounded label for a speech failure: rate_limited, transient or refused."""
    if error.retry_after is not None:
        return "rate_limited"
    return "transient" if error.retryable else "refused"
