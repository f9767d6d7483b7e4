"""The podcast use cases, each end to end: create (with idempotency), read, live status,
download link, change, delete, cancel, retry, transcript, script and its edits (each a
re-render).

One `PodcastService` per request, for the authenticated user (provided to the controller by
dependency injection). It owns the rules of the API's side (which provider and voices a
request may choose, what an Idempotency-Key means, when a podcast may be cancelled or
retried), changes podcasts only through `podnex.podcasts`, reaches Temporal only through
`api.temporal_client`, and says what went wrong with `ApiError`s.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import ApiError
from api.schemas import SCRIPT_MAX_CHARS, SCRIPT_MAX_LINES, CreatePodcastRequest
from api.state import AppState
from api.temporal_client import RunAlreadyStarted, WorkflowServiceUnavailable
from podnex import podcasts
from podnex.models import Podcast, User
from podnex.providers import ENGLISH, parts_not_speaking
from podnex.script.notes import parse_document
from podnex.script.types import ScriptLine
from podnex.spec import PodcastSpec, TranscriptLine
from podnex.storage import DownloadLink, delete_podcast_objects
from podnex.vocabulary import RETRYABLE, PodcastStatus, Speaker
from workflows.types import Admission, Progress, ProgressBands, workflow_id_for

log = structlog.get_logger("podnex.api")

CANCEL_WAIT = timedelta(seconds=5)
NOT_FOUND = "Podcast not found"

# -- the event stream (GET /api/v1/podcasts/{id}/events) ------------------------------------

POLL_SECONDS = 0.5
"""How often the stream asks the run's `progress` query."""
HEARTBEAT_SECONDS = 15.0
"""A comment after this long without an event, so proxies keep the stream open."""
STREAM_MAX_SECONDS = 3600.0
"""A stream closes after this long; the client reconnects with Last-Event-ID."""

_LINES_SPAN = 10_000
_FINAL_OFFSET = 2_000_000
_RUN_STRIDE = 10_000_000


def event_id(retry_count: int, progress: int, lines_done: int, *, final: bool = False) -> int:
    """The stream's event id of a state: monotonic within a run (progress, then lines done),
    the final event above every progress event, and each retry's run above the last."""
    base = retry_count * _RUN_STRIDE
    if final:
        return base + _FINAL_OFFSET
    return base + progress * _LINES_SPAN + min(max(lines_done, 0), _LINES_SPAN - 1)


@dataclass(frozen=True)
class ProgressEvent:
    """One event of a podcast's stream: its state, and whether it is the last."""

    id: int
    status: Status
    final: bool = False


class Heartbeat:
    """Nothing new: the stream sends a comment to keep the connection open."""


HEARTBEAT = Heartbeat()


@dataclass(frozen=True)
class Started:
    """A podcast whose run was started: ``admitted`` False when no worker answered the
    admission in time (the run decides later); ``replayed`` when an Idempotency-Key
    repeated an earlier request, whose podcast this is."""

    podcast: Podcast
    admitted: bool = True
    replayed: bool = False


@dataclass(frozen=True)
class Rerender:
    """A podcast whose re-render was started, and the version it will publish."""

    podcast: Podcast
    version: int


def line_index(lines: list[ScriptLine], index: int) -> int:
    """``index`` when the script has such a line; 404 naming the index otherwise."""
    if not 0 <= index < len(lines):
        raise ApiError(
            404,
            f"Script line {index} not found: the script has lines 0 to {len(lines) - 1}",
            code="LINE_NOT_FOUND",
            details=[{"field": "index", "message": f"must be 0 to {len(lines) - 1}"}],
        )
    return index


@dataclass(frozen=True)
class Status:
    """A podcast and its run's live progress (None: the stored record answers)."""

    podcast: Podcast
    live: Progress | None


def request_fingerprint(body: CreatePodcastRequest) -> str:
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def require_something_to_say(notes: str) -> None:
    """Refuse notes of which nothing would be read aloud (only code, links, tables or
    markup), as the script writers read them, instead of failing their run later."""
    parsed = await asyncio.to_thread(parse_document, notes)
    if not any(section.sentences for section in parsed.sections):
        raise validation_error(
            [
                {
                    "field": "noteContent",
                    "message": "nothing in these notes can be read aloud: they hold only "
                    "code, links, tables or markup",
                }
            ]
        )


def validation_error(problems: list[dict[str, str]]) -> ApiError:
    summary = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
    return ApiError(400, f"Validation failed: {summary}", code="VALIDATION_ERROR", details=problems)


class Refused(Exception):
    """The plan's limits refused the run."""

    def __init__(self, admission: Admission) -> None:
        super().__init__(admission.reason)
        self.admission = admission

    def answer(self) -> ApiError:
        """The seed's 403 for a refused admission."""
        admission = self.admission
        return ApiError(
            403,
            "Subscription limit reached",
            code="SUBSCRIPTION_LIMIT_REACHED",
            details={
                "reason": admission.reason,
                "current": {
                    "podcasts": admission.current_podcasts,
                    "minutes": admission.current_minutes,
                },
                "limits": {
                    "podcasts": admission.limit_podcasts,
                    "minutes": admission.limit_minutes,
                },
            },
        )


def unavailable() -> ApiError:
    return ApiError(
        503,
        "The workflow service is unavailable; the podcast was not started. Try again shortly.",
    )


class PodcastService:
    """The podcast use cases of one user."""

    def __init__(self, state: AppState, user: User) -> None:
        self.state = state
        self.user = user

    # -- create -----------------------------------------------------------------------------

    def spec_for(self, body: CreatePodcastRequest) -> PodcastSpec:
        """What the request asks for, its choices checked against what this deployment
        offers: the engine, its voices, and a language every chosen provider speaks."""
        provider = body.tts_provider or self.state.settings.default_tts_provider
        engine = self.state.engines.get(provider)
        if engine is None:
            known = ", ".join(sorted(self.state.engines))
            raise ApiError(
                400,
                f"Validation failed: ttsProvider: unknown provider {provider!r}",
                code="VALIDATION_ERROR",
                details=[{"field": "ttsProvider", "message": f"must be one of: {known}"}],
            )
        voices = engine.voices()
        problems = [
            {
                "field": field,
                "message": f"unknown voice {voice!r}; valid: {', '.join(sorted(voices))}",
            }
            for field, voice in (("hostVoice", body.host_voice), ("guestVoice", body.guest_voice))
            if voice not in voices
        ]
        if not problems and voices[body.host_voice] == voices[body.guest_voice]:
            same = (
                f"host and guest must be different voices ({body.host_voice!r} and "
                f"{body.guest_voice!r} are the same voice); see GET /api/v1/voices"
            )
            problems += [
                {"field": "hostVoice", "message": same},
                {"field": "guestVoice", "message": same},
            ]
        if body.language:
            limited = parts_not_speaking(self.state.settings, provider, body.language)
            if limited:
                labels = " and ".join(part.label for part in limited)
                english_only = all(part.languages == ENGLISH for part in limited)
                problems.append(
                    {
                        "field": "language",
                        "message": f"{body.language!r} is not available here: {labels} "
                        + ("only work in English" if english_only else "cannot speak it"),
                    }
                )
        if problems:
            raise validation_error(problems)
        return PodcastSpec.model_validate(
            {**body.model_dump(exclude={"note_id"}), "tts_provider": provider}
        )

    async def create(self, body: CreatePodcastRequest, idempotency_key: str | None) -> Started:
        """Store the podcast and start its run (or answer a repeated Idempotency-Key)."""
        spec = self.spec_for(body)
        await require_something_to_say(body.note_content)
        fingerprint = request_fingerprint(body)
        if idempotency_key is not None:
            earlier = await self._by_idempotency_key(idempotency_key)
            if earlier is not None:
                return self._replay(earlier, fingerprint)
        new = podcasts.NewPodcast(
            spec=spec,
            note_id=body.note_id,
            idempotency_key=idempotency_key,
            request_fingerprint=fingerprint if idempotency_key else None,
        )
        try:
            async with self.state.db.transaction() as session:
                podcast = await podcasts.create_podcast(
                    session, self.user.id, new, workflow_id_for=workflow_id_for
                )
        except IntegrityError:
            # The same key raced in from a concurrent request, which won: answer as it did.
            earlier = await self._by_idempotency_key(idempotency_key or "")
            if idempotency_key is None or earlier is None:
                raise
            return self._replay(earlier, fingerprint)
        try:
            admitted = await self._start_run(podcast)
        except (WorkflowServiceUnavailable, Refused) as exc:
            # Refused or not started: nothing is remembered, not even the Idempotency-Key,
            # so the same request may simply be sent again.
            async with self.state.db.transaction() as session:
                await podcasts.discard(session, podcast.id)
            raise exc.answer() if isinstance(exc, Refused) else unavailable() from exc
        return Started(await self._reload(podcast), admitted=admitted)

    async def _by_idempotency_key(self, key: str) -> Podcast | None:
        async with self.state.db.transaction() as session:
            return await podcasts.find_by_idempotency_key(session, self.user.id, key)

    def _replay(self, earlier: Podcast, fingerprint: str) -> Started:
        """The answer to a repeated Idempotency-Key: the same podcast, or 422 for another
        body."""
        if earlier.request_fingerprint != fingerprint:
            raise ApiError(
                422,
                "This Idempotency-Key was already used with a different request body",
                code="IDEMPOTENCY_KEY_REUSED",
            )
        if earlier.deleted_at is not None:
            raise ApiError(404, NOT_FOUND)
        return Started(earlier, replayed=True)

    async def _start_run(self, podcast: Podcast) -> bool:
        """Start the podcast's run and wait for admission.

        True when admitted, False when no worker answered in time. Raises
        :class:`Refused` (the seed's 403), :class:`WorkflowServiceUnavailable` (503: the
        caller decides what becomes of the podcast) or a 409 `ApiError`.
        """
        try:
            admission = await self.state.runs.start(podcast)
        except RunAlreadyStarted as exc:
            raise ApiError(409, "The podcast is already being made", code="CONFLICT") from exc
        if admission is None:
            log.warning("admission not answered in time", podcast_id=str(podcast.id))
            return False
        if admission.cancelled:
            raise ApiError(
                409, "The podcast was cancelled before it was admitted", code="PODCAST_CANCELLED"
            )
        if not admission.admitted:
            raise Refused(admission)
        return True

    # -- read -------------------------------------------------------------------------------

    async def get(self, podcast_id: str) -> Podcast:
        """The caller's podcast, or the 404 that a missing, deleted or foreign one gets."""
        async with self.state.db.transaction() as session:
            return await self._owned(session, podcast_id)

    async def list_podcasts(
        self,
        *,
        page: int,
        limit: int,
        status: PodcastStatus | None,
        sort: Literal["createdAt", "updatedAt"],
        order: Literal["asc", "desc"],
    ) -> tuple[list[Podcast], int]:
        async with self.state.db.transaction() as session:
            return await podcasts.list_for_user(
                session, self.user.id, page=page, limit=limit, status=status, sort=sort, order=order
            )

    async def status(self, podcast_id: str) -> Status:
        """The podcast with its run's live progress while it is being made."""
        podcast = await self.get(podcast_id)
        live = None
        if not podcast.status.finished and podcast.workflow_id:
            live = await self.state.runs.progress(podcast.workflow_id)
        return Status(podcast, live)

    async def events(
        self, podcast_id: str, last_event_id: int | None
    ) -> AsyncIterator[ProgressEvent | Heartbeat] | None:
        """The podcast's progress as a stream of events, after ``last_event_id``.

        The run's `progress` query is the source, asked every `POLL_SECONDS`; an event goes
        out when the state changed. Once the podcast has finished, the stored record gives
        the final event and the stream ends. None: the client already has the final event
        of a finished podcast (nothing more will come).
        """
        podcast = await self.get(podcast_id)
        final = event_id(podcast.retry_count, 0, 0, final=True)
        if podcast.status.finished and last_event_id is not None and last_event_id >= final:
            return None
        return self._follow(podcast, -1 if last_event_id is None else last_event_id)

    async def _follow(
        self, podcast: Podcast, last: int
    ) -> AsyncIterator[ProgressEvent | Heartbeat]:
        started = sent = time.monotonic()
        while True:
            live = None
            if not podcast.status.finished and podcast.workflow_id:
                live = await self.state.runs.progress(podcast.workflow_id)
            if live is None or live.status.finished:
                # Closed, finished or not answering: the stored record (which the run
                # writes before its query shows a state) speaks.
                podcast = await self._reload(podcast)
                live = None
                if podcast.status.finished:
                    final = event_id(podcast.retry_count, 0, 0, final=True)
                    if final > last:
                        yield ProgressEvent(final, Status(podcast, None), final=True)
                    return
            found = Status(podcast, live)
            current = event_id(
                podcast.retry_count,
                live.progress if live else podcast.progress,
                live.lines_done if live else 0,
            )
            now = time.monotonic()
            if current > last:
                last, sent = current, now
                yield ProgressEvent(current, found)
            elif now - sent >= HEARTBEAT_SECONDS:
                sent = now
                yield HEARTBEAT
            if now - started >= STREAM_MAX_SECONDS:
                return
            await asyncio.sleep(POLL_SECONDS)

    async def download(self, podcast_id: str, base_url: str) -> tuple[Podcast, DownloadLink]:
        """An expiring link to the podcast's audio (404 until it is COMPLETED)."""
        podcast = await self.get(podcast_id)
        # Published audio stays downloadable while a re-render makes the next version.
        if not podcast.audio_key:
            raise ApiError(404, "Audio not available yet", code="AUDIO_NOT_READY")
        return podcast, self.state.audio_link(podcast.audio_key, base_url)

    async def transcript(self, podcast_id: str) -> tuple[Podcast, list[TranscriptLine]]:
        """The finished episode's lines with their times (404 until it is COMPLETED)."""
        podcast = await self.get(podcast_id)
        # The published version's transcript, also while a re-render makes the next one.
        if not podcast.audio_key or not podcast.transcript:
            raise ApiError(404, "Transcript not available yet", code="TRANSCRIPT_NOT_READY")
        return podcast, podcasts.transcript_of(podcast)

    async def script(self, podcast_id: str) -> tuple[Podcast, list[ScriptLine]]:
        """The podcast's written script (404 until its run has written it)."""
        podcast = await self.get(podcast_id)
        lines = podcasts.script_of(podcast)
        if not lines:
            raise ApiError(404, "Script not written yet", code="SCRIPT_NOT_READY")
        return podcast, lines

    # -- edit and re-render -----------------------------------------------------------------

    async def replace_script(self, podcast_id: str, lines: list[ScriptLine]) -> Rerender:
        """PUT .../script: the whole script replaced, and re-rendered."""
        return await self._rerender(podcast_id, lambda _: list(lines))

    async def edit_line(
        self, podcast_id: str, index: int, *, speaker: Speaker | None, text: str | None
    ) -> Rerender:
        """PATCH .../script/lines/{index}: one line's text and/or speaker, re-rendered."""
        if speaker is None and text is None:
            raise validation_error(
                [{"field": "text", "message": "give the line's new text, speaker or both"}]
            )

        def edit(lines: list[ScriptLine]) -> list[ScriptLine]:
            old = lines[line_index(lines, index)]
            lines[index] = ScriptLine(speaker=speaker or old.speaker, text=text or old.text)
            return lines

        return await self._rerender(podcast_id, edit)

    async def insert_line(
        self, podcast_id: str, position: int, *, speaker: Speaker, text: str
    ) -> Rerender:
        """POST .../script/lines: a new line before the one at ``position``, re-rendered."""

        def edit(lines: list[ScriptLine]) -> list[ScriptLine]:
            if position > len(lines):
                raise validation_error(
                    [
                        {
                            "field": "position",
                            "message": f"must be at most {len(lines)} (the number of lines)",
                        }
                    ]
                )
            lines.insert(position, ScriptLine(speaker=speaker, text=text))
            return lines

        return await self._rerender(podcast_id, edit)

    async def delete_line(self, podcast_id: str, index: int) -> Rerender:
        """DELETE .../script/lines/{index}: the line removed, the rest re-rendered."""

        def edit(lines: list[ScriptLine]) -> list[ScriptLine]:
            del lines[line_index(lines, index)]
            if not lines:
                raise validation_error(
                    [{"field": "index", "message": "the script's only line cannot be deleted"}]
                )
            return lines

        return await self._rerender(podcast_id, edit)

    async def _rerender(
        self, podcast_id: str, edit: Callable[[list[ScriptLine]], list[ScriptLine]]
    ) -> Rerender:
        """Apply ``edit`` to the stored script of a COMPLETED podcast and start the re-render
        run publishing its next version (409 when not COMPLETED or a run is going).

        Nothing is stored here: the run carries the edited script, and the podcast's script,
        audio, transcript and usage change only when it publishes.
        """
        podcast = await self.get(podcast_id)
        self._require_rerenderable(podcast)
        before = podcasts.script_of(podcast)
        lines = edit(list(before))
        if len(lines) > SCRIPT_MAX_LINES:
            raise validation_error(
                [{"field": "lines", "message": f"at most {SCRIPT_MAX_LINES} lines are allowed"}]
            )
        total = sum(len(line.text) for line in lines)
        if total > SCRIPT_MAX_CHARS:
            raise validation_error(
                [
                    {
                        "field": "lines",
                        "message": f"the script would have {total} characters; at most "
                        f"{SCRIPT_MAX_CHARS} are allowed",
                    }
                ]
            )
        if lines == before:
            raise validation_error(
                [{"field": "lines", "message": "the script is unchanged: nothing to re-render"}]
            )
        # The run that published the current version closes just after it says so.
        await self._wait_closed(podcast, "The podcast's run is still going")
        seen = podcast.version
        async with self.state.db.transaction() as session:
            podcast = await self._owned(session, podcast_id, for_update=True)
            self._require_rerenderable(podcast)
            if podcast.version != seen:
                # Another edit was published meanwhile: this one was made on the old script.
                raise ApiError(
                    409,
                    f"The script changed meanwhile (version {podcast.version} is published "
                    "now); edit it again",
                    code="CONFLICT",
                )
        try:
            admission = await self.state.runs.start(podcast, script=lines)
        except RunAlreadyStarted as exc:
            raise ApiError(409, "The podcast's run is still going", code="CONFLICT") from exc
        except WorkflowServiceUnavailable as exc:
            raise unavailable() from exc
        if admission is not None and admission.cancelled:
            raise ApiError(409, "The re-render was cancelled", code="PODCAST_CANCELLED")
        if admission is not None and not admission.admitted:
            raise Refused(admission).answer()
        return Rerender(await self._reload(podcast), max(podcast.version, 1) + 1)

    @staticmethod
    def _require_rerenderable(podcast: Podcast) -> None:
        if podcast.status is not PodcastStatus.COMPLETED:
            raise ApiError(
                409,
                f"Only a completed podcast can be edited and re-rendered; this one is "
                f"{podcast.status.value}",
                code="PODCAST_NOT_COMPLETED",
            )
        if not podcasts.script_of(podcast):
            raise ApiError(404, "Script not written yet", code="SCRIPT_NOT_READY")

    # -- change -----------------------------------------------------------------------------

    async def update(
        self, podcast_id: str, *, title: str | None, note_content: str | None
    ) -> Podcast:
        if note_content is not None:
            await require_something_to_say(note_content)
        async with self.state.db.transaction() as session:
            podcast = await self._owned(session, podcast_id, for_update=True)
            try:
                podcasts.update_details(podcast, title=title, note_content=note_content)
            except podcasts.PodcastBusy as exc:
                raise ApiError(409, str(exc), code="PODCAST_PROCESSING") from exc
        return await self._reload(podcast)

    async def delete(self, podcast_id: str) -> None:
        """Soft delete: gone from every route, a run in progress cancelled, audio removed.

        The objects go once the run has stopped (or after `CANCEL_WAIT`), so a run past the
        point of no return cannot publish audio after it; what a slower run leaves behind
        the reconciler removes.
        """
        async with self.state.db.transaction() as session:
            podcast = await self._owned(session, podcast_id, for_update=True)
            podcasts.soft_delete(podcast, datetime.now(UTC))
            running = not podcast.status.finished
        if running and podcast.workflow_id:
            await self.state.runs.request_cancel(podcast.workflow_id)
            try:
                await self.state.runs.wait_closed(podcast.workflow_id, CANCEL_WAIT)
            except WorkflowServiceUnavailable:
                log.warning("run not confirmed closed", podcast_id=str(podcast.id))
        await delete_podcast_objects(self.state.storage, str(podcast.id))
        if podcast.workflow_id:
            # The notes live on in the runs' histories: they go with the podcast.
            try:
                await self.state.runs.delete_histories(podcast.workflow_id)
            except Exception as exc:  # the podcast is deleted all the same
                log.warning(
                    "workflow histories not deleted", podcast_id=str(podcast.id), error=str(exc)
                )

    async def cancel(self, podcast_id: str) -> Podcast:
        """Signal the run to cancel and wait briefly for it: the podcast as it is then.

        409 once it has finished, or once it is being published (upload and usage: the point
        of no return, after which the run completes). A cancelled re-render leaves the
        podcast COMPLETED with the version it had.
        """
        podcast = await self.get(podcast_id)
        self._refuse_cancel_when_past_return(podcast)
        try:
            await self.state.runs.cancel(podcast.workflow_id or "", CANCEL_WAIT)
        except WorkflowServiceUnavailable as exc:
            raise ApiError(503, "The workflow service is unavailable") from exc
        fresh = await self._reload(podcast)
        if (
            fresh.status is PodcastStatus.COMPLETED
            and podcast.audio_key is not None
            and fresh.version == podcast.version
        ):
            return fresh  # a re-render cancelled: COMPLETED again with the version it had
        if fresh.status is PodcastStatus.COMPLETED:
            self._refuse_cancel_when_past_return(fresh)
        return fresh

    @staticmethod
    def _refuse_cancel_when_past_return(podcast: Podcast) -> None:
        if podcast.status.finished:
            raise ApiError(
                409, f"Podcast already {podcast.status.value.lower()}", code="PODCAST_FINISHED"
            )
        if podcast.progress >= ProgressBands.UPLOAD_START:
            raise ApiError(
                409,
                "Podcast is being published and will complete; it can no longer be cancelled",
                code="PODCAST_PUBLISHING",
            )

    async def _wait_closed(self, podcast: Podcast, still_going: str) -> None:
        """Wait a moment for the podcast's last run to close; 409 ``still_going`` if it
        does not, 503 when the workflow service cannot say."""
        if not podcast.workflow_id:
            return
        try:
            closed = await self.state.runs.wait_closed(podcast.workflow_id, CANCEL_WAIT)
        except WorkflowServiceUnavailable as exc:
            raise unavailable() from exc
        if not closed:
            raise ApiError(409, still_going, code="CONFLICT")

    async def retry(self, podcast_id: str) -> Started:
        """A new run of a FAILED or CANCELLED podcast; the plan's limits are checked again.

        A run writes its final state just before it closes: a retry in that instant waits
        for the previous run to close, and a start that fails leaves the podcast as it was.
        """
        podcast = await self.get(podcast_id)
        self._require_retryable(podcast)
        await self._wait_closed(podcast, "The previous run is still stopping; retry in a moment")
        async with self.state.db.transaction() as session:
            podcast = await self._owned(session, podcast_id, for_update=True)
            self._require_retryable(podcast)
            before = podcasts.reset_for_retry(podcast)
        try:
            admitted = await self._start_run(podcast)
        except Refused as exc:
            raise exc.answer() from exc  # the refused run marks the podcast FAILED itself
        except WorkflowServiceUnavailable as exc:
            async with self.state.db.transaction() as session:
                await podcasts.mark_not_started(
                    session, podcast.id, "Could not start: the workflow service is unavailable"
                )
            raise unavailable() from exc
        except ApiError:
            async with self.state.db.transaction() as session:
                await podcasts.restore(session, podcast.id, before)
            raise
        async with self.state.db.transaction() as session:
            await podcasts.count_retry(session, podcast.id)
        return Started(await self._reload(podcast), admitted=admitted)

    # -- helpers ----------------------------------------------------------------------------

    @staticmethod
    def _require_retryable(podcast: Podcast) -> None:
        if podcast.status not in RETRYABLE:
            raise ApiError(400, "Can only retry failed podcasts", code="NOT_RETRYABLE")

    async def _owned(
        self, session: AsyncSession, podcast_id: str, *, for_update: bool = False
    ) -> Podcast:
        podcast = await podcasts.get_for_user(
            session, self.user.id, podcast_id, for_update=for_update
        )
        if podcast is None:
            raise ApiError(404, NOT_FOUND)
        return podcast

    async def _reload(self, podcast: Podcast) -> Podcast:
        async with self.state.db.transaction() as session:
            fresh = await session.get(Podcast, podcast.id)
        return fresh or podcast
