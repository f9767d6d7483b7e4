"""/api/v1/podcasts: create, list, read, live status and download links."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

import structlog
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_202_ACCEPTED
from temporalio.service import RPCError

from api.errors import ApiError
from api.runs import run_input_for, start_podcast_run
from api.schemas import (
    CreatePodcastRequest,
    DownloadOut,
    Envelope,
    PageEnvelope,
    Pagination,
    PodcastOut,
    PodcastStatusOut,
)
from api.state import AppState
from api.temporal_errors import is_unavailable
from podnex import podcasts
from podnex.models import Podcast, PodcastDuration, PodcastStatus, User
from podnex.storage import signing
from workflows.types import Admission, Progress

log = structlog.get_logger("podnex.api")

PROGRESS_QUERY_TIMEOUT = timedelta(seconds=2)
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


def validate_speech_choice(state: AppState, body: CreatePodcastRequest) -> str:
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
    if problems:
        summary = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
        raise ApiError(
            400, f"Validation failed: {summary}", code="VALIDATION_ERROR", details=problems
        )
    return provider


class PodcastController(Controller):
    path = "/api/v1/podcasts"
    tags = ["podcasts"]
    security = [{"BearerAuth": []}]

    @post(
        "/",
        operation_id="createPodcast",
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
        provider = validate_speech_choice(state, data)
        async with state.db.transaction() as session:
            podcast = await podcasts.create_podcast(
                session,
                user.id,
                podcasts.NewPodcast(
                    note_content=data.note_content,
                    duration=PodcastDuration(data.duration),
                    title=data.title,
                    note_id=data.note_id,
                    host_voice=data.host_voice,
                    guest_voice=data.guest_voice,
                    tts_provider=provider,
                ),
            )
        workflow_input = run_input_for(
            podcast, speech_concurrency=state.settings.speech_concurrency
        )
        status_code = HTTP_201_CREATED
        try:
            client = await state.temporal.client()
            admission, _ = await start_podcast_run(
                client,
                state.settings.temporal_task_queue,
                workflow_input,
                summary=f"Podcast {podcast.title or podcast.id} ({podcast.duration.value})",
            )
            if admission is None:
                log.warning("admission not answered in time", podcast_id=str(podcast.id))
                status_code = HTTP_202_ACCEPTED
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
                "The workflow service is unavailable; the podcast was not started. "
                "Try again shortly.",
            ) from exc
        if admission is not None and not admission.admitted:
            raise limit_refusal(admission)
        async with state.db.transaction() as session:
            fresh = await session.get(Podcast, podcast.id)
        return Response(Envelope(data=podcast_out(fresh or podcast)), status_code=status_code)

    @get("/", operation_id="listPodcasts", summary="List your podcasts")
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

    @get("/{podcast_id:str}", operation_id="getPodcast", summary="Get one podcast")
    async def get_podcast(
        self, request: Request[User, Any, Any], podcast_id: FromPath[str]
    ) -> Envelope[PodcastOut]:
        return Envelope(data=podcast_out(await self._owned(request, podcast_id)))

    @get(
        "/{podcast_id:str}/status",
        operation_id="getPodcastStatus",
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

    async def _owned(self, request: Request[User, Any, Any], podcast_id: str) -> Podcast:
        async with state_of(request).db.transaction() as session:
            podcast = await podcasts.get_for_user(session, request.user.id, podcast_id)
        if podcast is None:
            raise ApiError(404, NOT_FOUND)
        return podcast

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
