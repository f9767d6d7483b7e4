"""/api/v1/podcasts: create, list, read, live status and download links."""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

import structlog
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_202_ACCEPTED
from sqlalchemy import update as sql_update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from api.errors import ApiError
from api.openapi import AUTHENTICATED, error_responses
from api.runs import run_input_for, start_podcast_run
from api.schemas import (
    CreatePodcastRequest,
    DownloadOut,
    Envelope,
    MessageEnvelope,
    PageEnvelope,
    Pagination,
    PodcastOut,
    PodcastStatusOut,
    RetryOut,
    TranscriptLineOut,
    TranscriptOut,
    UpdatePodcastRequest,
)
from api.state import AppState
from api.temporal_errors import is_unavailable
from podnex import podcasts
from podnex.models import Podcast, PodcastDuration, PodcastStatus, User
from podnex.settings import Settings
from podnex.storage import delete_podcast_objects, presigned_get_url, signing
from workflows.types import Admission, Progress

log = structlog.get_logger("podnex.api")

PROGRESS_QUERY_TIMEOUT = timedelta(seconds=2)
CANCEL_WAIT = timedelta(seconds=5)
NOT_FOUND = "Podcast not found"


def state_of(request: Request[Any, Any, Any]) -> AppState:
    return request.app.state.podnex  # type: ignore[no-any-return]


def download_path(podcast: Podcast) -> str:
    return f"/api/v1/podcasts/{podcast.id}/download"


def podcast_out(podcast: Podcast) -> PodcastOut:
    return PodcastOut(
        id=str(podcast.id),
        user_id=str(podcast.user_id),
        note_content=podcast.note_content,
        title=podcast.title,
        note_id=podcast.note_id,
        duration=podcast.duration.value,
        host_voice=podcast.host_voice,
        guest_voice=podcast.guest_voice,
        tts_provider=podcast.tts_provider,
        language=podcast.language,
        instructions=podcast.instructions,
        status=podcast.status.value,
        progress=podcast.progress,
        current_step=podcast.current_step,
        error=podcast.error,
        audio_url=download_path(podcast) if podcast.audio_key else None,
        audio_duration=round(podcast.audio_duration, 3) if podcast.audio_duration else None,
        retry_count=podcast.retry_count,
        workflow_id=podcast.workflow_id,
        created_at=podcast.created_at,
        updated_at=podcast.updated_at,
        started_at=podcast.started_at,
        completed_at=podcast.completed_at,
    )


def limit_refusal(admission: Admission) -> ApiError:
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
            "limits": {"podcasts": admission.limit_podcasts, "minutes": admission.limit_minutes},
        },
    )


ENGLISH_ONLY_ENGINES = {"espeak"}


def is_english(language: str) -> bool:
    return language.lower() == "en" or language.lower().startswith("en-")


def english_only_parts(settings: Settings, provider: str) -> list[str]:
    """The parts of a run that would ignore a non-English `language`."""
    parts = []
    if settings.script_writer == "offline":
        parts.append("the offline script writer")
    if provider in ENGLISH_ONLY_ENGINES:
        parts.append(f"the {provider} speech engine")
    return parts


def validate_generation_choices(state: AppState, body: CreatePodcastRequest) -> str:
    provider = body.tts_provider or state.settings.default_tts_provider
    engine = state.engines.get(provider)
    if engine is None:
        raise ApiError(
            400,
            f"Validation failed: ttsProvider: unknown provider {provider!r}",
            code="VALIDATION_ERROR",
            details=[
                {
                    "field": "ttsProvider",
                    "message": f"must be one of: {', '.join(sorted(state.engines))}",
                }
            ],
        )
    voices = engine.voices()
    problems = [
        {"field": field, "message": f"unknown voice {voice!r}; valid: {', '.join(sorted(voices))}"}
        for field, voice in (("hostVoice", body.host_voice), ("guestVoice", body.guest_voice))
        if voice not in voices
    ]
    if body.language and not is_english(body.language):
        limited = english_only_parts(state.settings, provider)
        if limited:
            problems.append(
                {
                    "field": "language",
                    "message": f"{body.language!r} is not available here: "
                    f"{' and '.join(limited)} only work in English",
                }
            )
    if problems:
        summary = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
        raise ApiError(
            400, f"Validation failed: {summary}", code="VALIDATION_ERROR", details=problems
        )
    return provider


IDEMPOTENCY_KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")


def idempotency_key(request: Request[Any, Any, Any]) -> str | None:
    """The Idempotency-Key header: 1..255 visible ASCII characters, or absent."""
    value = request.headers.get("idempotency-key")
    if value is None:
        return None
    if not IDEMPOTENCY_KEY_PATTERN.match(value):
        raise ApiError(
            400,
            "Validation failed: Idempotency-Key: 1 to 255 visible ASCII characters",
            code="VALIDATION_ERROR",
            details=[{"field": "Idempotency-Key", "message": "1 to 255 visible ASCII characters"}],
        )
    return value


def request_fingerprint(body: CreatePodcastRequest) -> str:
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def replay(earlier: Podcast, fingerprint: str) -> Response[Envelope[PodcastOut]]:
    """The answer to a repeated Idempotency-Key: the same podcast, or 422 for another body."""
    if earlier.request_fingerprint != fingerprint:
        raise ApiError(
            422,
            "This Idempotency-Key was already used with a different request body",
            code="IDEMPOTENCY_KEY_REUSED",
        )
    if earlier.deleted_at is not None:
        raise ApiError(404, NOT_FOUND)
    return Response(
        Envelope(data=podcast_out(earlier)),
        status_code=HTTP_200_OK,
        headers={"Idempotent-Replayed": "true"},
    )


async def owned_row(
    session: AsyncSession, user: User, podcast_id: str, *, for_update: bool = False
) -> Podcast:
    """The caller's podcast, or the 404 that a missing, deleted or foreign one gets."""
    podcast = await podcasts.get_for_user(session, user.id, podcast_id, for_update=for_update)
    if podcast is None:
        raise ApiError(404, NOT_FOUND)
    return podcast


async def reload(state: AppState, podcast: Podcast) -> Podcast:
    async with state.db.transaction() as session:
        fresh = await session.get(Podcast, podcast.id)
    return fresh or podcast


async def start_run(state: AppState, podcast: Podcast) -> bool:
    """Start the podcast's workflow run and wait for admission.

    True when admitted, False when no worker answered in time (the run will decide later).
    Raises the seed's 403 when refused and 503 (marking the podcast FAILED) when Temporal
    cannot be reached.
    """
    run_input = run_input_for(podcast, speech_concurrency=state.settings.speech_concurrency)
    try:
        client = await state.temporal.client()
        admission, _ = await start_podcast_run(
            client,
            state.settings.temporal_task_queue,
            run_input,
            summary=f"Podcast {podcast.title or podcast.id} ({podcast.duration.value})",
        )
    except WorkflowAlreadyStartedError as exc:
        raise ApiError(409, "The podcast is already being made", code="CONFLICT") from exc
    except (RPCError, RuntimeError, OSError, TimeoutError) as exc:
        if not is_unavailable(exc):
            raise
        log.error("temporal unavailable", podcast_id=str(podcast.id), error=str(exc))
        async with state.db.transaction() as session:
            failed = await session.get(Podcast, podcast.id)
            if failed is not None:
                failed.status = PodcastStatus.FAILED
                failed.error = "Could not start: the workflow service is unavailable"
                failed.current_step = "Not started"
        raise ApiError(
            503,
            "The workflow service is unavailable; the podcast was not started. Try again shortly.",
        ) from exc
    if admission is None:
        log.warning("admission not answered in time", podcast_id=str(podcast.id))
        return False
    if not admission.admitted:
        raise limit_refusal(admission)
    return True


def transcript_vtt(lines: list[dict[str, Any]]) -> str:
    """The transcript as WebVTT, one cue a line, with the speaker as a voice span."""

    def stamp(seconds: float) -> str:
        millis = round(seconds * 1000)
        hours, rest = divmod(millis, 3_600_000)
        minutes, rest = divmod(rest, 60_000)
        secs, millis = divmod(rest, 1000)
        return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"

    cues = ["WEBVTT", ""]
    for number, line in enumerate(lines, start=1):
        speaker = str(line["speaker"]).capitalize()
        text = str(line["text"]).replace("-->", "->")
        cues += [
            str(number),
            f"{stamp(line['start_seconds'])} --> {stamp(line['end_seconds'])}",
            f"<v {speaker}>{text}",
            "",
        ]
    return "\n".join(cues)


class PodcastController(Controller):
    path = "/api/v1/podcasts"
    tags = ["podcasts"]
    security = [{"BearerAuth": []}]

    @post(
        "/",
        operation_id="createPodcast",
        responses={
            HTTP_200_OK: ResponseSpec(
                data_container=Envelope[PodcastOut],
                description="A repeated Idempotency-Key: the podcast the first request made",
            ),
            HTTP_202_ACCEPTED: ResponseSpec(
                data_container=Envelope[PodcastOut],
                description="Started, but no worker answered the admission in time",
            ),
            **error_responses(
                400,
                403,
                409,
                413,
                422,
                503,
                *AUTHENTICATED,
                descriptions={
                    403: "Subscription limit reached: `details` has reason, current, limits",
                    409: "The podcast's workflow is already running",
                    422: "Idempotency-Key reused with another body",
                },
            ),
        },
        summary="Create a podcast from notes",
        status_code=HTTP_201_CREATED,
        description=(
            "Starts a PodcastWorkflow and answers once the plan's limit check has admitted "
            "(201) or refused (403) it. 202 when no worker answered the admission in time: "
            "the podcast stays QUEUED and is admitted or refused when a worker runs."
        ),
    )
    async def create(
        self, request: Request[User, Any, Any], data: JSONBody[CreatePodcastRequest]
    ) -> Response[Envelope[PodcastOut]]:
        state = state_of(request)
        user = request.user
        provider = validate_generation_choices(state, data)
        key = idempotency_key(request)
        fingerprint = request_fingerprint(data)
        if key is not None:
            async with state.db.transaction() as session:
                earlier = await podcasts.find_by_idempotency_key(session, user.id, key)
            if earlier is not None:
                return replay(earlier, fingerprint)
        new = podcasts.NewPodcast(
            note_content=data.note_content,
            duration=PodcastDuration(data.duration),
            title=data.title,
            note_id=data.note_id,
            host_voice=data.host_voice,
            guest_voice=data.guest_voice,
            tts_provider=provider,
            language=data.language,
            instructions=data.instructions,
            idempotency_key=key,
            request_fingerprint=fingerprint if key else None,
        )
        try:
            async with state.db.transaction() as session:
                podcast = await podcasts.create_podcast(session, user.id, new)
        except IntegrityError:
            # The same key raced in from a concurrent request, which won: answer as it did.
            async with state.db.transaction() as session:
                earlier = await podcasts.find_by_idempotency_key(session, user.id, key or "")
            if key is None or earlier is None:
                raise
            return replay(earlier, fingerprint)
        admitted = await start_run(state, podcast)
        fresh = await reload(state, podcast)
        status_code = HTTP_201_CREATED if admitted else HTTP_202_ACCEPTED
        return Response(Envelope(data=podcast_out(fresh)), status_code=status_code)

    @get(
        "/",
        operation_id="listPodcasts",
        summary="List your podcasts",
        responses=error_responses(400, *AUTHENTICATED),
    )
    async def list_podcasts(
        self,
        request: Request[User, Any, Any],
        page: Annotated[int, QueryParameter(ge=1)] = 1,
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
        status: FromQuery[PodcastStatus | None] = None,
        sort: FromQuery[Literal["createdAt", "updatedAt"]] = "createdAt",
        order: FromQuery[Literal["asc", "desc"]] = "desc",
    ) -> PageEnvelope[PodcastOut]:
        state = state_of(request)
        async with state.db.transaction() as session:
            rows, total = await podcasts.list_for_user(
                session,
                request.user.id,
                page=page,
                limit=limit,
                status=status,
                sort=sort,
                order=order,
            )
        return PageEnvelope(
            data=[podcast_out(p) for p in rows],
            pagination=Pagination(
                page=page, limit=limit, total=total, total_pages=math.ceil(total / limit)
            ),
        )

    @get(
        "/{podcast_id:str}",
        operation_id="getPodcast",
        summary="Get one podcast",
        responses=error_responses(400, 404, *AUTHENTICATED),
    )
    async def get_podcast(
        self, request: Request[User, Any, Any], podcast_id: FromPath[str]
    ) -> Envelope[PodcastOut]:
        return Envelope(data=podcast_out(await self._owned(request, podcast_id)))

    @get(
        "/{podcast_id:str}/status",
        operation_id="getPodcastStatus",
        responses=error_responses(400, 404, *AUTHENTICATED),
        summary="Live progress of a podcast",
        description="Asks the running workflow; falls back to the stored record when the "
        "run is closed or no worker answers.",
    )
    async def status(
        self, request: Request[User, Any, Any], podcast_id: FromPath[str]
    ) -> Envelope[PodcastStatusOut]:
        podcast = await self._owned(request, podcast_id)
        live = None
        if not podcast.status.finished and podcast.workflow_id:
            live = await self._query_progress(state_of(request), podcast.workflow_id)
        stored_lines = len(podcast.transcript or [])
        return Envelope(
            data=PodcastStatusOut(
                id=str(podcast.id),
                status=live.status if live else podcast.status.value,
                progress=live.progress if live else podcast.progress,
                current_step=live.current_step if live else podcast.current_step,
                error=live.error if live else podcast.error,
                lines_done=live.lines_done if live else stored_lines,
                lines_total=live.lines_total if live else stored_lines,
                audio_url=download_path(podcast) if podcast.audio_key else None,
                created_at=podcast.created_at,
                completed_at=podcast.completed_at,
                source="workflow" if live else "database",
            )
        )

    @get(
        "/{podcast_id:str}/download",
        operation_id="getPodcastDownload",
        responses=error_responses(
            400, 404, *AUTHENTICATED, descriptions={404: "Not found, or audio not available yet"}
        ),
        summary="A signed, expiring link to the MP3",
    )
    async def download(
        self, request: Request[User, Any, Any], podcast_id: FromPath[str]
    ) -> Envelope[DownloadOut]:
        state = state_of(request)
        podcast = await self._owned(request, podcast_id)
        if podcast.status is not PodcastStatus.COMPLETED or not podcast.audio_key:
            raise ApiError(404, "Audio not available yet", code="AUDIO_NOT_READY")
        ttl = state.settings.download_url_ttl_seconds
        expires = int(time.time()) + ttl
        url = presigned_get_url(state.storage, podcast.audio_key, ttl)
        if url is None:  # storage without its own links: the API serves the file
            signature = signing.sign(state.secret_key, podcast.audio_key, expires)
            base = (state.settings.public_base_url or str(request.base_url)).rstrip("/")
            url = f"{base}/api/v1/files/{podcast.audio_key}?expires={expires}&signature={signature}"
        return Envelope(
            data=DownloadOut(
                url=url,
                expires_at=datetime.fromtimestamp(expires, UTC),
                audio_duration=podcast.audio_duration,
                size_bytes=podcast.audio_size_bytes,
            )
        )

    @patch(
        "/{podcast_id:str}",
        operation_id="updatePodcast",
        summary="Change title or notes",
        responses=error_responses(
            400,
            404,
            409,
            413,
            *AUTHENTICATED,
            descriptions={409: "Notes cannot change while the podcast is being made"},
        ),
    )
    async def update_podcast(
        self,
        request: Request[User, Any, Any],
        podcast_id: FromPath[str],
        data: JSONBody[UpdatePodcastRequest],
    ) -> Envelope[PodcastOut]:
        state = state_of(request)
        async with state.db.transaction() as session:
            podcast = await owned_row(session, request.user, podcast_id, for_update=True)
            if data.note_content is not None:
                if not podcast.status.finished:
                    raise ApiError(
                        409,
                        "Notes cannot change while the podcast is being made",
                        code="PODCAST_PROCESSING",
                    )
                podcast.note_content = data.note_content
            if data.title is not None:
                podcast.title = data.title
        return Envelope(data=podcast_out(await reload(state, podcast)))

    @delete(
        "/{podcast_id:str}",
        operation_id="deletePodcast",
        responses=error_responses(400, 404, *AUTHENTICATED),
        summary="Delete a podcast",
        description="Soft delete: the podcast disappears from every route, a run in "
        "progress is cancelled and the audio is removed from storage.",
        status_code=HTTP_200_OK,
    )
    async def delete_podcast(
        self, request: Request[User, Any, Any], podcast_id: FromPath[str]
    ) -> MessageEnvelope:
        state = state_of(request)
        async with state.db.transaction() as session:
            podcast = await owned_row(session, request.user, podcast_id, for_update=True)
            podcast.deleted_at = datetime.now(UTC)
            running = not podcast.status.finished
        if running and podcast.workflow_id:
            await self._request_cancel(state, podcast.workflow_id)
        await delete_podcast_objects(state.storage, str(podcast.id))
        return MessageEnvelope(message="Podcast deleted")

    @post(
        "/{podcast_id:str}/cancel",
        operation_id="cancelPodcast",
        responses={
            HTTP_202_ACCEPTED: ResponseSpec(
                data_container=Envelope[PodcastOut], description="Cancellation still under way"
            ),
            **error_responses(
                400,
                404,
                409,
                503,
                *AUTHENTICATED,
                descriptions={409: "The podcast has already finished"},
            ),
        },
        summary="Cancel a queued or running podcast",
        description="Sends the workflow's `cancel` signal and waits briefly for the run to "
        "stop: 200 with the CANCELLED podcast, or 202 while it is still stopping. 409 when "
        "the podcast has already finished.",
        status_code=HTTP_200_OK,
    )
    async def cancel_podcast(
        self, request: Request[User, Any, Any], podcast_id: FromPath[str]
    ) -> Response[Envelope[PodcastOut]]:
        state = state_of(request)
        podcast = await self._owned(request, podcast_id)
        if podcast.status.finished:
            raise ApiError(
                409, f"Podcast already {podcast.status.value.lower()}", code="PODCAST_FINISHED"
            )
        try:
            client = await state.temporal.client()
            handle = client.get_workflow_handle(podcast.workflow_id or "")
            await handle.signal("cancel")
            await asyncio.wait_for(handle.result(), CANCEL_WAIT.total_seconds())
        except TimeoutError:
            pass
        except WorkflowFailureError:
            pass  # the run ended in a failure before the cancellation took effect
        except RPCError as exc:
            if exc.status is not RPCStatusCode.NOT_FOUND:
                raise ApiError(503, "The workflow service is unavailable") from exc
        fresh = await reload(state, podcast)
        code = HTTP_200_OK if fresh.status.finished else HTTP_202_ACCEPTED
        return Response(Envelope(data=podcast_out(fresh)), status_code=code)

    @post(
        "/{podcast_id:str}/retry",
        operation_id="retryPodcast",
        responses={
            HTTP_202_ACCEPTED: ResponseSpec(
                data_container=Envelope[RetryOut],
                description="Started, but no worker answered the admission in time",
            ),
            **error_responses(
                400,
                403,
                404,
                409,
                503,
                *AUTHENTICATED,
                descriptions={
                    400: "Not FAILED or CANCELLED: Can only retry failed podcasts",
                    403: "Subscription limit reached",
                    409: "The podcast's workflow is already running",
                },
            ),
        },
        summary="Retry a failed or cancelled podcast",
        description="Starts a new run of the podcast's workflow; the plan's limits are "
        "checked again (403 when refused).",
        status_code=HTTP_200_OK,
    )
    async def retry_podcast(
        self, request: Request[User, Any, Any], podcast_id: FromPath[str]
    ) -> Response[Envelope[RetryOut]]:
        state = state_of(request)
        async with state.db.transaction() as session:
            podcast = await owned_row(session, request.user, podcast_id, for_update=True)
            if podcast.status not in (PodcastStatus.FAILED, PodcastStatus.CANCELLED):
                raise ApiError(400, "Can only retry failed podcasts", code="NOT_RETRYABLE")
            podcasts.reset_for_retry(podcast)
        admitted = await start_run(state, podcast)
        async with state.db.transaction() as session:
            await session.execute(
                sql_update(Podcast)
                .where(Podcast.id == podcast.id)
                .values(retry_count=Podcast.retry_count + 1)
            )
        fresh = await reload(state, podcast)
        return Response(
            Envelope(data=RetryOut(job_id=fresh.workflow_run_id, podcast=podcast_out(fresh))),
            status_code=HTTP_200_OK if admitted else HTTP_202_ACCEPTED,
        )

    @get(
        "/{podcast_id:str}/transcript",
        operation_id="getPodcastTranscript",
        responses=error_responses(
            400, 404, *AUTHENTICATED, descriptions={404: "Not found, or not completed yet"}
        ),
        summary="The script with each line's place in the audio",
        description="JSON by default; `?format=vtt` returns WebVTT captions.",
    )
    async def transcript(
        self,
        request: Request[User, Any, Any],
        podcast_id: FromPath[str],
        format: FromQuery[Literal["json", "vtt"]] = "json",
    ) -> Response[Any]:
        podcast = await self._owned(request, podcast_id)
        if podcast.status is not PodcastStatus.COMPLETED or not podcast.transcript:
            raise ApiError(404, "Transcript not available yet", code="TRANSCRIPT_NOT_READY")
        if format == "vtt":
            return Response(transcript_vtt(podcast.transcript), media_type="text/vtt")
        return Response(
            Envelope(
                data=TranscriptOut(
                    podcast_id=str(podcast.id),
                    lines=[TranscriptLineOut.model_validate(line) for line in podcast.transcript],
                )
            )
        )

    async def _request_cancel(self, state: AppState, workflow_id: str) -> None:
        """Ask Temporal to cancel the run; a run that is already closed needs nothing."""
        try:
            client = await state.temporal.client()
            await client.get_workflow_handle(workflow_id).cancel()
        except RPCError as exc:
            if exc.status is not RPCStatusCode.NOT_FOUND:
                log.warning("cancel request failed", workflow_id=workflow_id, error=str(exc))

    async def _owned(self, request: Request[User, Any, Any], podcast_id: str) -> Podcast:
        async with state_of(request).db.transaction() as session:
            return await owned_row(session, request.user, podcast_id)

    async def _query_progress(self, state: AppState, workflow_id: str) -> Progress | None:
        try:
            client = await state.temporal.client()
            handle = client.get_workflow_handle(workflow_id)
            return await handle.query(
                "progress", result_type=Progress, rpc_timeout=PROGRESS_QUERY_TIMEOUT
            )
        except Exception as exc:  # any failure: the stored record answers instead
            log.info("progress query unanswered", workflow_id=workflow_id, error=str(exc))
            return None
