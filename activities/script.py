"""Write the host/guest script from the notes."""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.context import ActivityDeps, heartbeating, log, podcast_uuid, retry_delay
from activities.status import mirror
from podnex import metrics, podcasts
from podnex.providers import SPEECH_PROVIDERS
from podnex.script.base import ScriptError, WriteRequest
from podnex.spec import PodcastSpec
from workflows.types import Script, ScriptRequest


def write_request(spec: PodcastSpec) -> WriteRequest:
    """What the writer gets of a podcast's spec, with its engine's speaking rate."""
    engine = SPEECH_PROVIDERS.get(spec.tts_provider)
    return WriteRequest.from_spec(
        spec, words_per_minute=engine.words_per_minute if engine else None
    )


class ScriptActivities:
    def __init__(self, deps: ActivityDeps) -> None:
        self.deps = deps

    @activity.defn(name="write_script")
    async def write_script(self, request: ScriptRequest) -> Script:
        """Write the script with the configured writer, and keep it with the podcast (and,
        when asked, the state of the speech about to start, in the same transaction).

        Writer failures become ApplicationErrors of the writer's kind: non-retryable when
        trying again is pointless (notes with nothing to say, a refused request, output
        still malformed after the writer's own attempts), otherwise retried by Temporal
        after the provider's Retry-After when it gave one.
        """
        writer = self.deps.writer
        try:
            async with heartbeating():
                script = await writer.write(write_request(request.spec))
        except ScriptError as exc:
            metrics.count_provider_error(
                activity.metric_meter(), provider=writer.name, step="script", kind=exc.kind
            )
            log().warning(
                "script failed",
                writer=writer.name,
                error=str(exc),
                retryable=exc.retryable,
                retry_after=exc.retry_after,
            )
            raise ApplicationError(
                str(exc),
                type=exc.kind,
                non_retryable=not exc.retryable,
                next_retry_delay=retry_delay(exc.retry_after),
            ) from exc
        async with self.deps.db.transaction() as session:
            await podcasts.save_script(session, podcast_uuid(request.podcast_id), script)
            if request.speech_state is not None:
                state = request.speech_state.model_copy(update={"lines_total": len(script.lines)})
                await mirror(self.deps, session, state)
        log().info(
            "script written", writer=writer.name, lines=len(script.lines), words=script.word_count
        )
        return script
