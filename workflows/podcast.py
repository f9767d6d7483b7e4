"""PodcastWorkflow: notes in, a published two-voice MP3 out.

Deterministic code only: every side effect is an activity, every value that crosses into
history is small (audio moves through storage, named by key).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    FailureError,
    is_cancelled_exception,
)

with workflow.unsafe.imports_passed_through():
    from activities.audio import AudioActivities
    from activities.limits import LimitActivities
    from activities.publish import PublishActivities
    from activities.script import ScriptActivities
    from activities.speech import SpeechActivities
    from activities.status import StatusActivities
    from activities.storage import StorageActivities
    from activities.usage import UsageActivities
    from podnex import metrics, pacing
    from podnex.vocabulary import PodcastStatus
    from workflows.types import (
        ADMIT_UPDATE,
        CANCEL_SIGNAL,
        PROGRESS_QUERY,
        WORKFLOW_TYPE,
        Admission,
        CleanupRequest,
        CombineRequest,
        LimitRequest,
        PodcastInput,
        PodcastResult,
        Progress,
        ProgressBands,
        PublishPodcastRequest,
        PublishRequest,
        PublishResult,
        RerenderLimitRequest,
        Script,
        ScriptRequest,
        SegmentRef,
        SpeechBatch,
        SpeechBatchResult,
        SpeechLine,
        SpeechRequest,
        SpeechResult,
        StatusUpdate,
        TranscriptLine,
        UsageRequest,
        speech_task_queue,
    )

QUICK = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=10,
)
WORK = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=5,
)

# Fan-out and long steps wait for their activities to finish cancelling, so clean-up never
# races a late write.
WAIT_FOR_CANCEL = workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED

SPEECH_QUEUE_PATCH = "per-provider-speech-queue"
"""Runs started before speech had its own task queues keep synthesising on the main one."""
SPEECH_BATCH_PATCH = "speech-in-batches"
"""Runs started before lines were spoken in batches keep one activity a line."""
FEWER_MIRRORS_PATCH = "fewer-status-mirrors"
"""Runs started before it mirror every step into Postgres; newer runs mirror only the
states the database needs (the lines to speak, the point of no return, the end) and show
the other steps through the progress query alone."""
FOLDED_MIRRORS_PATCH = "mirrors-folded-into-steps"
"""Runs started before it mirror the speech's start, the upload's start and the end in
activities of their own; newer runs mirror each in the step that comes with it: the
script's transaction, the upload, the usage's transaction (the podcast is completed and
charged together)."""
LOCAL_LIMIT_CHECK_PATCH = "limit-check-in-workflow-task"
"""Runs started before it check the plan's limits in an activity of their own; newer runs
in a local activity (`PodcastWorkflow._check_limits`)."""
PUBLISH_STEP_PATCH = "publish-in-one-step"
"""Runs started before it publish in up to three activities (upload, usage, a re-render's
removal of its previous version, `_publish_in_steps`); newer runs in one
(`publish_podcast`), each part of which is safe to repeat."""


def failure_message(error: BaseException) -> str:
    """The most specific readable message of a failure chain."""
    current: BaseException | None = error
    message = str(error)
    while current is not None:
        if isinstance(current, FailureError) and not isinstance(current, ActivityError):
            message = current.message
        current = current.__cause__
    return message


T = TypeVar("T")


async def _all_or_first_failure(tasks: list[asyncio.Task[T]]) -> list[T]:
    """The tasks' results in order, or the first failure once it happens; either way no
    task is left running (the others are cancelled one by one and waited for) and every
    failure is seen, so none is reported as never retrieved."""
    try:
        await workflow.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
        return [task.result() for task in tasks]
    finally:
        pending = [task for task in tasks if not task.done()]
        for task in pending:
            task.cancel()
        if pending:
            await workflow.wait(pending)
        for task in tasks:
            if task.done() and not task.cancelled():
                task.exception()


SPEECH_ROUNDS = 2
"""Batches are made small enough that each speech slot runs about this many in turn, so
progress (lines done) moves several times while the lines are spoken. Each batch costs an
activity (events, a workflow task): two rounds, not three, save a quarter of them. The
run's input may ask for other (`PodcastInput.speech_rounds`: one for espeak-ng, whose
lines take moments altogether); this is its default, the rounds of every run before it."""
SPEECH_BATCHES_PATCH = "even-speech-batches"
"""Runs started before it deal their lines with `speech_batches_before`."""


def speech_batches(
    total: int, concurrency: int, size: int, rounds: int = SPEECH_ROUNDS
) -> list[list[int]]:
    """Line indexes in batches of at most ``size`` lines, dealt out a wave at a time, so
    that every speech slot speaks about as many lines as every other.

    The size is at most total / (concurrency x ``rounds``), rounded up: one line for a
    short script. The lines are split into as few waves of equal length (within a line) as
    that size allows, each wave into at most ``concurrency`` batches of equal length
    (within a line); batch j of a wave takes its lines j, j + n, j + 2n... (n: the wave's
    batch count), so each round of the batches speaks the next lines of the script. With
    ``concurrency`` slots taking batches as they free up, no slot speaks many more than
    total / concurrency lines (a slow engine's lines end together).
    speech_batches(10, 2, 3) -> [[0, 2, 4], [1, 3], [5, 7, 9], [6, 8]].
    """
    size = max(1, min(size, math.ceil(total / (concurrency * rounds))))
    waves = math.ceil(total / (concurrency * size))
    batches: list[list[int]] = []
    start = 0
    for wave_index in range(waves):
        length = math.ceil((total - start) / (waves - wave_index))
        wave = list(range(start, start + length))
        count = min(concurrency, length)
        batches.extend(wave[j::count] for j in range(count))
        start += length
    return batches


def speech_batches_before(total: int, concurrency: int, size: int) -> list[list[int]]:
    """How runs from before `SPEECH_BATCHES_PATCH` dealt their lines: sized for three
    rounds, in waves of concurrency x size lines (the last one short).
    speech_batches_before(10, 2, 3) -> [[0, 2], [1, 3], [4, 6], [5, 7], [8, 9]]."""
    size = max(1, min(size, math.ceil(total / (concurrency * 3))))
    batches: list[list[int]] = []
    for start in range(0, total, concurrency * size):
        wave = list(range(start, min(total, start + concurrency * size)))
        count = min(concurrency, math.ceil(len(wave) / size))
        batches.extend(wave[j::count] for j in range(count))
    return batches


@workflow.defn(name=WORKFLOW_TYPE)
class PodcastWorkflow:
    @workflow.init
    def __init__(self, input: PodcastInput) -> None:
        self._input = input
        self._admission: Admission | None = None
        self._cancel_requested = False
        self._stopping = False  # the run is being cancelled: nothing may be published
        self._committed = False  # past the point of no return: the run completes
        self._closed = False  # the final state is written (completed, failed or cleaned up)
        self._progress = Progress(status=PodcastStatus.QUEUED, progress=0, current_step="Queued")
        self._fewer_mirrors = False
        self._folded_mirrors = False

    # -- messages -------------------------------------------------------------------------

    @workflow.update(name=ADMIT_UPDATE)
    async def admit(self) -> Admission:
        """Answers once the limit check has run: the API waits on this to reply 201 or 403."""
        await workflow.wait_condition(lambda: self._admission is not None)
        assert self._admission is not None
        return self._admission

    @workflow.query(name=PROGRESS_QUERY)
    def progress(self) -> Progress:
        return self._progress

    @workflow.signal(name=CANCEL_SIGNAL)
    def cancel(self) -> None:
        """Programs cancel a run with this signal; Temporal's own cancel request works too.

        Once the run has begun publishing (the point of no return, at upload) it completes.
        """
        self._cancel_requested = True

    # -- the run --------------------------------------------------------------------------

    @workflow.run
    async def run(self, input: PodcastInput) -> PodcastResult:
        """Every way a run can end leaves the podcast clean: a cancellation that arrives
        anywhere (Temporal's, outside the guarded wait: during the limit check, the
        admitted mirror or a clean-up) gets the same clean-up as one during the work."""
        try:
            return await self._run(input)
        except BaseException as err:
            # Temporal's cancel reaches an activity wait as an ActivityError caused by
            # CancelledError, and any other wait as asyncio.CancelledError.
            if not is_cancelled_exception(err):
                raise
            if not self._closed:
                await self._uncancellable(
                    self._clean_up(PodcastStatus.CANCELLED, "Cancelled", None)
                )
                metrics.count_finished(workflow.metric_meter(), "cancelled")
            if self._admission is None:
                # Cancelled before the limit check answered: tell the waiting API so.
                self._admission = Admission(
                    admitted=False,
                    cancelled=True,
                    reason="Cancelled before it was admitted",
                    current_podcasts=0,
                    current_minutes=0.0,
                    limit_podcasts=None,
                    limit_minutes=None,
                )
                await self._uncancellable(workflow.wait_condition(workflow.all_handlers_finished))
            raise

    async def _run(self, input: PodcastInput) -> PodcastResult:
        self._fewer_mirrors = workflow.patched(FEWER_MIRRORS_PATCH)
        self._folded_mirrors = workflow.patched(FOLDED_MIRRORS_PATCH)
        admission = await self._check_limits(input)
        self._admission = admission
        if not admission.admitted and input.rerender:
            # Nothing was written: the podcast still reads as its last version.
            self._closed = True
            await workflow.wait_condition(workflow.all_handlers_finished)
            return PodcastResult(
                podcast_id=input.podcast_id,
                status=PodcastStatus.FAILED,
                error=admission.reason or "Subscription limit reached",
            )
        if not admission.admitted:
            reason = admission.reason or "Subscription limit reached"
            await self._set(
                PodcastStatus.FAILED, 0, "Refused: subscription limit reached", error=reason
            )
            metrics.count_finished(workflow.metric_meter(), "refused")
            return PodcastResult(
                podcast_id=input.podcast_id, status=PodcastStatus.FAILED, error=reason
            )

        # check_limits (or check_rerender) wrote the admitted state with the reservation.
        await self._step(
            ProgressBands.ADMITTED,
            "Re-render admitted" if input.rerender else "Admitted",
            admitted=True,
        )
        pipeline = asyncio.create_task(self._produce(input))
        requested_by_temporal = False
        while True:
            try:
                await workflow.wait_condition(
                    lambda: pipeline.done() or (self._cancel_requested and not self._committed)
                )
                break
            except asyncio.CancelledError:
                if not self._committed:
                    requested_by_temporal = True
                    break
                # Past the point of no return: the run publishes and completes.

        if not pipeline.done():
            self._stopping = True
            pipeline.cancel()
            cancelled = await self._uncancellable(workflow.wait([pipeline]))
            if not pipeline.cancelled():
                pipeline.exception()  # its cancelled activity's error: seen, not reported
            cancelled |= await self._uncancellable(
                self._clean_up(PodcastStatus.CANCELLED, "Cancelled", None)
            )
            metrics.count_finished(workflow.metric_meter(), "cancelled")
            if requested_by_temporal or cancelled:
                raise asyncio.CancelledError()
            return PodcastResult(podcast_id=input.podcast_id, status=PodcastStatus.CANCELLED)

        try:
            return pipeline.result()
        except (ActivityError, ApplicationError) as err:
            message = failure_message(err)
            await self._uncancellable(self._clean_up(PodcastStatus.FAILED, "Failed", message))
            metrics.count_finished(workflow.metric_meter(), "failed")
            raise ApplicationError(
                f"Podcast generation failed: {message}", type="PodcastFailed", non_retryable=True
            ) from err

    async def _check_limits(self, input: PodcastInput) -> Admission:
        """The plan's check: a new podcast reserves its share, a re-render (which counts
        no new podcast) has only its minutes checked.

        A local activity (`LOCAL_LIMIT_CHECK_PATCH`): run by the worker inside the run's
        first workflow task, so the API's `admit` update is answered in that task, without
        an activity's round trips through the server. A cancel that arrives meanwhile
        waits for it to end (committed or rolled back) before the clean-up releases what
        it reserved."""
        request: LimitRequest | RerenderLimitRequest
        if input.script is not None:
            check: Any = LimitActivities.check_rerender
            request = RerenderLimitRequest(
                podcast_id=input.podcast_id,
                words=sum(len(line.text.split()) for line in input.script),
            )
        else:
            check = LimitActivities.check_limits
            request = LimitRequest(podcast_id=input.podcast_id)
        if workflow.patched(LOCAL_LIMIT_CHECK_PATCH):
            return await workflow.execute_local_activity_method(
                check,
                request,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=QUICK,
                cancellation_type=WAIT_FOR_CANCEL,
            )
        return await workflow.execute_activity_method(
            check,
            request,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=QUICK,
        )

    async def _produce(self, input: PodcastInput) -> PodcastResult:
        script: Script
        if input.script is not None:
            # A re-render: the edited script is the run's input, nothing is written.
            script = Script(title="", lines=input.script)
        else:
            await self._step(ProgressBands.SCRIPT_START, "Writing the script")
            # The speech's start is mirrored with the saved script (its line count known).
            speech_state = (
                self._state(
                    PodcastStatus.PROCESSING, ProgressBands.SPEECH_START, "Synthesising speech"
                )
                if self._folded_mirrors
                else None
            )
            script = await workflow.execute_activity_method(
                ScriptActivities.write_script,
                ScriptRequest(
                    podcast_id=input.podcast_id, spec=input.spec, speech_state=speech_state
                ),
                # An LLM may condense long notes and revise a draft: minutes, with heartbeats.
                start_to_close_timeout=timedelta(minutes=10),
                heartbeat_timeout=timedelta(seconds=30),
                retry_policy=WORK,
            )
            self._progress = self._progress.model_copy(
                update={"progress": ProgressBands.SCRIPT_DONE, "current_step": "Script written"}
            )
            if speech_state is not None:
                self._show(speech_state.model_copy(update={"lines_total": len(script.lines)}))

        speech = await self._synthesize(input, script)

        resynthesised: int | None = None
        combine_step = "Combining audio"
        if input.rerender:
            resynthesised = sum(1 for result in speech if not result.cached)
            combine_step = (
                f"Combining audio ({resynthesised} of {len(speech)} lines re-synthesised)"
            )
            workflow.logger.info("%d of %d lines re-synthesised", resynthesised, len(speech))
        if input.rerender:  # the stored step says how many lines were spoken again
            await self._set(PodcastStatus.PROCESSING, ProgressBands.COMBINE_START, combine_step)
        else:
            await self._step(ProgressBands.COMBINE_START, combine_step)
        combined = await workflow.execute_activity_method(
            AudioActivities.combine_audio,
            CombineRequest(
                podcast_id=input.podcast_id,
                segments=[
                    SegmentRef(key=result.key, speaker=line.speaker, pause_before_ms=pause)
                    for result, line, pause in zip(
                        speech, script.lines, pacing.pauses(script.lines), strict=True
                    )
                ],
            ),
            start_to_close_timeout=timedelta(minutes=15),
            # It beats every second from the event loop (the mix runs in its own threads):
            # a worker lost mid-combine, or a start that never reached one, costs 10 s.
            heartbeat_timeout=timedelta(seconds=10),
            cancellation_type=WAIT_FOR_CANCEL,
            retry_policy=WORK,
        )

        if self._stopping or self._cancel_requested:
            # A cancel arrived while the combine finished: it wins, nothing is published.
            raise asyncio.CancelledError()
        self._committed = True  # the point of no return: from here the run completes
        upload_state = self._state(
            PodcastStatus.PROCESSING, ProgressBands.UPLOAD_START, "Uploading audio"
        )
        upload = PublishRequest(
            podcast_id=input.podcast_id,
            staging_key=combined.key,
            duration_seconds=combined.duration_seconds,
            version=input.version or 1,
            upload_state=upload_state if self._folded_mirrors else None,
        )
        transcript = [
            TranscriptLine(**timing.model_dump(), text=line.text)
            for line, timing in zip(script.lines, combined.timings, strict=True)
        ]
        final_state = self._state(
            PodcastStatus.COMPLETED,
            ProgressBands.DONE,
            "Completed",
            title=input.spec.title or script.title,
            audio_duration=combined.duration_seconds,
            transcript=transcript,
            version=input.version,  # a re-render's, set exactly (None: a first run's)
            script=input.script,  # a re-render's edited script becomes the stored one
        )
        if self._folded_mirrors and workflow.patched(PUBLISH_STEP_PATCH):
            self._show(upload_state)  # the step mirrors it before it uploads
            published = await workflow.execute_activity_method(
                PublishActivities.publish_podcast,
                PublishPodcastRequest(
                    upload=upload, final_state=final_state, rerender=input.rerender
                ),
                start_to_close_timeout=timedelta(minutes=5),
                retry_policy=WORK,
            )
            self._show(final_state)  # completed and charged in one transaction
        else:
            published = await self._publish_in_steps(input, upload, upload_state, final_state)
        metrics.count_finished(workflow.metric_meter(), "completed")
        metrics.record_audio(workflow.metric_meter(), combined.duration_seconds)
        return PodcastResult(
            podcast_id=input.podcast_id,
            status=PodcastStatus.COMPLETED,
            audio_key=published.audio_key,
            audio_duration=combined.duration_seconds,
            lines_resynthesised=resynthesised,
        )

    async def _publish_in_steps(
        self,
        input: PodcastInput,
        upload: PublishRequest,
        upload_state: StatusUpdate,
        final_state: StatusUpdate,
    ) -> PublishResult:
        """How runs from before `PUBLISH_STEP_PATCH` publish: the upload, the usage and a
        re-render's removal of its previous version, an activity each (the points of no
        return and completion in activities of their own in runs from before
        `FOLDED_MIRRORS_PATCH`)."""
        if self._folded_mirrors:
            self._show(upload_state)  # the upload mirrors it before it begins
        else:
            await self._mirror(upload_state)
        published = await workflow.execute_activity_method(
            StorageActivities.upload_audio,
            upload,
            start_to_close_timeout=timedelta(minutes=5),
            retry_policy=WORK,
        )
        final_state = final_state.with_audio(published)
        await self._step(ProgressBands.USAGE_START, "Recording usage")
        await workflow.execute_activity_method(
            # A re-render's minutes follow the new duration; it counts no new podcast.
            UsageActivities.settle_usage if input.rerender else UsageActivities.record_usage,
            UsageRequest(
                podcast_id=input.podcast_id,
                seconds=upload.duration_seconds,
                final_state=final_state if self._folded_mirrors else None,
            ),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=QUICK,
        )
        if self._folded_mirrors:
            self._show(final_state)  # completed and charged in one transaction
        else:
            await self._mirror(final_state)
        if input.rerender:
            # The row names the new version now: the one before it goes.
            await workflow.execute_activity_method(
                StorageActivities.delete_previous_audio,
                CleanupRequest(podcast_id=input.podcast_id, version=input.version),
                start_to_close_timeout=timedelta(minutes=2),
                retry_policy=QUICK,
            )
        return published

    async def _synthesize(self, input: PodcastInput, script: Script) -> list[SpeechResult]:
        """The lines in batches (`_synthesize_batches`), or one activity per line in runs
        from before batches, at most `speech_concurrency` at a time, results in order.

        Lines go to the provider's own task queue (`speech_task_queue`), whose workers
        hold the provider's concurrency cap across every podcast.
        """
        total = len(script.lines)
        if input.rerender or not self._folded_mirrors:
            # Else `write_script` mirrored the speech's start with the script.
            await self._set(
                PodcastStatus.PROCESSING,
                ProgressBands.SPEECH_START,
                "Re-rendering speech" if input.rerender else "Synthesising speech",
                lines_total=total,
            )
        queue = workflow.info().task_queue
        if workflow.patched(SPEECH_QUEUE_PATCH):
            queue = speech_task_queue(queue, input.spec.tts_provider)
        if workflow.patched(SPEECH_BATCH_PATCH):
            return await self._synthesize_batches(input, script, queue)
        limit = asyncio.Semaphore(input.speech_concurrency)
        done = 0

        async def speak(index: int) -> SpeechResult:
            nonlocal done
            line = script.lines[index]
            async with limit:
                result = await workflow.execute_activity_method(
                    SpeechActivities.synthesize_line,
                    SpeechRequest(
                        podcast_id=input.podcast_id,
                        index=index,
                        speaker=line.speaker,
                        text=line.text,
                        voice=input.spec.voice_of(line.speaker),
                        provider=input.spec.tts_provider,
                        language=input.spec.language,
                    ),
                    task_queue=queue,
                    start_to_close_timeout=timedelta(minutes=2),
                    # Workers heartbeat every second (worker.HEARTBEAT_THROTTLE), so a cancel
                    # stops a line within about a second; a killed worker's lines are retried
                    # after this timeout, which leaves room for a busy worker's slow beat.
                    heartbeat_timeout=timedelta(seconds=5),
                    cancellation_type=WAIT_FOR_CANCEL,
                    retry_policy=WORK,
                    summary=f"line {index + 1}/{total} ({line.speaker})",
                )
            done += 1
            self._progress = self._progress.model_copy(
                update={
                    "progress": ProgressBands.speech(done, total),
                    "lines_done": done,
                    "current_step": f"Synthesising speech ({done}/{total} lines)",
                }
            )
            return result

        return await _all_or_first_failure(
            [asyncio.create_task(speak(index)) for index in range(total)]
        )

    async def _synthesize_batches(
        self, input: PodcastInput, script: Script, queue: str
    ) -> list[SpeechResult]:
        """The lines in batches of `lines_per_activity`, at most `speech_concurrency`
        batches at a time, results in the script's order.

        Each wave of lines is dealt out like cards (batch j of a wave speaks its lines j,
        j + n, ...), so the lines finish roughly in script order and the beginning of the
        episode is ready first (`speech_batches`).
        """
        total = len(script.lines)
        if workflow.patched(SPEECH_BATCHES_PATCH):
            batches = speech_batches(
                total, input.speech_concurrency, input.lines_per_activity, input.speech_rounds
            )
        else:
            batches = speech_batches_before(
                total, input.speech_concurrency, input.lines_per_activity
            )
        limit = asyncio.Semaphore(input.speech_concurrency)
        results: dict[int, SpeechResult] = {}

        async def speak(indexes: list[int]) -> None:
            async with limit:
                spoken: SpeechBatchResult = await workflow.execute_activity_method(
                    SpeechActivities.synthesize_lines,
                    SpeechBatch(
                        podcast_id=input.podcast_id,
                        provider=input.spec.tts_provider,
                        language=input.spec.language,
                        lines=[
                            SpeechLine(
                                index=index,
                                speaker=script.lines[index].speaker,
                                text=script.lines[index].text,
                                voice=input.spec.voice_of(script.lines[index].speaker),
                            )
                            for index in indexes
                        ],
                    ),
                    task_queue=queue,
                    # Each line gets the time a one-line activity had.
                    start_to_close_timeout=timedelta(minutes=2) * len(indexes),
                    # Workers heartbeat every second (worker.HEARTBEAT_THROTTLE), so a cancel
                    # stops a batch within about a second; a killed worker's batch is retried
                    # after this timeout, from its first line not yet stored.
                    heartbeat_timeout=timedelta(seconds=5),
                    cancellation_type=WAIT_FOR_CANCEL,
                    retry_policy=WORK,
                    summary=f"lines {', '.join(str(i + 1) for i in indexes)} of {total}",
                )
            results.update(zip(indexes, spoken.results, strict=True))
            done = len(results)
            self._progress = self._progress.model_copy(
                update={
                    "progress": ProgressBands.speech(done, total),
                    "lines_done": done,
                    "current_step": f"Synthesising speech ({done}/{total} lines)",
                }
            )

        await _all_or_first_failure([asyncio.create_task(speak(batch)) for batch in batches])
        return [results[index] for index in range(total)]

    # -- state ----------------------------------------------------------------------------

    async def _step(self, progress: int, step: str, *, admitted: bool = False) -> None:
        """A step of a PROCESSING run the database need not hear of (`FEWER_MIRRORS_PATCH`):
        shown by the progress query; mirrored too in runs from before the patch."""
        if not self._fewer_mirrors:
            await self._set(PodcastStatus.PROCESSING, progress, step, admitted=admitted)
            return
        self._show(self._state(PodcastStatus.PROCESSING, progress, step))

    def _state(
        self,
        status: PodcastStatus,
        progress: int,
        step: str,
        *,
        error: str | None = None,
        lines_total: int | None = None,
        admitted: bool = False,
        **fields: object,
    ) -> StatusUpdate:
        """The run's state as the database keeps it, lines counted as the run knows them."""
        return StatusUpdate(
            podcast_id=self._input.podcast_id,
            status=status,
            progress=progress,
            current_step=step,
            error=error,
            admitted=admitted,
            lines_done=self._progress.lines_done,
            lines_total=self._progress.lines_total if lines_total is None else lines_total,
            **fields,  # type: ignore[arg-type]
        )

    async def _set(self, status: PodcastStatus, progress: int, step: str, **fields: Any) -> None:
        """Mirror the state (`_state`'s fields) into Postgres, then show it to the
        `progress` query."""
        await self._mirror(self._state(status, progress, step, **fields))

    async def _mirror(self, state: StatusUpdate) -> None:
        """Mirror ``state`` into Postgres in an activity of its own, then show it.

        In that order, so a client that sees a status through the query finds the stored
        record (audio, transcript, error) already written.
        """
        await workflow.execute_activity_method(
            StatusActivities.update_podcast_status,
            state,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=QUICK,
        )
        self._show(state)

    def _show(self, state: StatusUpdate) -> None:
        """Show a state already in the database (or being written by the step about to
        run) to the `progress` query and the Web UI."""
        if state.status.finished:
            self._closed = True
        self._progress = Progress(
            status=state.status,
            progress=state.progress,
            current_step=state.current_step,
            lines_done=state.lines_done or 0,
            lines_total=state.lines_total or 0,
            error=state.error,
        )
        workflow.set_current_details(f"{state.status}: {state.current_step} ({state.progress}%)")

    async def _uncancellable(self, work: Awaitable[object]) -> bool:
        """Run ``work`` to its end even when Temporal's cancel arrives meanwhile (a clean-up
        must not stop half-way); True when one arrived, for the caller to honour after."""
        task = asyncio.ensure_future(work)
        cancelled = False
        while not task.done():
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError:
                if task.done():
                    break
                cancelled = True
        task.result()
        return cancelled

    async def _clean_up(self, status: PodcastStatus, step: str, error: str | None) -> None:
        """Compensate a run that will not complete: audio removed, reservation returned.

        A re-render's compensation removes only what it wrote: the podcast keeps its
        previous version (audio, transcript, script, usage) and reads COMPLETED again.
        """
        self._closed = True
        rerender = self._input.rerender
        request = CleanupRequest(podcast_id=self._input.podcast_id, version=self._input.version)
        await workflow.execute_activity_method(
            StorageActivities.delete_partial_audio,
            request,
            start_to_close_timeout=timedelta(minutes=2),
            retry_policy=QUICK,
        )
        if rerender:
            kept = (self._input.version or 2) - 1
            outcome = "cancelled" if status is PodcastStatus.CANCELLED else "failed"
            await self._set(
                PodcastStatus.COMPLETED,
                ProgressBands.DONE,
                f"Re-render {outcome}; version {kept} kept",
                error=None if error is None else f"Re-render failed: {error}",
                keep_results=True,
            )
            return
        await workflow.execute_activity_method(
            LimitActivities.release_podcast,
            request,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=QUICK,
        )
        await self._set(status, self._progress.progress, step, error=error)
