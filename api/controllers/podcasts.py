"""/api/v1/podcasts: HTTP for the podcast use cases of `api.podcast_service`.

Each handler parses the request, calls the service and shapes its answer; the rules live
in the service and in `podnex.podcasts`.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

from litestar import Controller, Request, Response, delete, get, patch, post, put
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_202_ACCEPTED

from api.errors import ApiError
from api.openapi import AUTHENTICATED, error_responses
from api.podcast_docs import (
    CANCEL_RESPONSES,
    CREATE_RESPONSES,
    DOWNLOAD_RESPONSES,
    RERENDER_RESPONSES,
    RETRY_RESPONSES,
    SCRIPT_RESPONSES,
    TRANSCRIPT_RESPONSES,
    UPDATE_RESPONSES,
)
from api.podcast_service import PodcastService, Rerender, Started
from api.schemas import (
    CreatePodcastRequest,
    DownloadOut,
    EditLineRequest,
    Envelope,
    InsertLineRequest,
    MessageEnvelope,
    PageEnvelope,
    Pagination,
    PodcastOut,
    PodcastStatusOut,
    ReplaceScriptRequest,
    RerenderOut,
    RetryOut,
    ScriptLineOut,
    ScriptOut,
    TranscriptLineOut,
    TranscriptOut,
    UpdatePodcastRequest,
)
from api.state import state_of
from podnex.captions import webvtt
from podnex.models import User
from podnex.script.types import ScriptLine
from podnex.vocabulary import PodcastStatus

Service = NamedDependency[PodcastService]
"""The request's podcast service (`provide_service`)."""

IDEMPOTENCY_KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")


RERENDER_DESCRIPTION = (
    "Starts a re-render run of the COMPLETED podcast with the edited script: only lines "
    "whose engine, voice or text changed are synthesised, the rest come from the "
    "podcast's stored segments; the episode is combined again and published as the next "
    "`version`, with its transcript and script. The podcast reads PROCESSING meanwhile, "
    "and its previous audio and transcript stay available until the new version is "
    "published; a re-render that fails or is cancelled leaves them (and the usage) as "
    "they were. It counts no new podcast; the month's minutes follow the new duration. "
    "409 when the podcast is not COMPLETED or a run is going; 403 when the plan's minutes "
    "cannot cover it."
)


def rerendered(started: Rerender) -> Envelope[RerenderOut]:
    podcast = started.podcast
    return Envelope(
        data=RerenderOut(
            job_id=podcast.workflow_run_id,
            version=started.version,
            podcast=PodcastOut.of(podcast),
        )
    )


def provide_service(request: Request[User, Any, Any]) -> PodcastService:
    return PodcastService(state_of(request), request.user)


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


def started_status(started: Started, created: int) -> int:
    """201 (or 200 for a retry) when admitted, 202 when no worker answered in time, 200 for
    a repeated Idempotency-Key."""
    if started.replayed:
        return HTTP_200_OK
    return created if started.admitted else HTTP_202_ACCEPTED


class PodcastController(Controller):
    path = "/api/v1/podcasts"
    tags = ["podcasts"]
    security = [{"BearerAuth": []}]
    dependencies = {"service": Provide(provide_service, sync_to_thread=False)}

    @post(
        "/",
        operation_id="createPodcast",
        responses=CREATE_RESPONSES,
        summary="Create a podcast from notes",
        status_code=HTTP_201_CREATED,
        description=(
            "Starts a PodcastWorkflow and answers once the plan's limit check has admitted "
            "(201) or refused (403) it. 202 when no worker answered the admission in time: "
            "the podcast stays QUEUED and is admitted or refused when a worker runs."
        ),
    )
    async def create(
        self,
        request: Request[User, Any, Any],
        service: Service,
        data: JSONBody[CreatePodcastRequest],
    ) -> Response[Envelope[PodcastOut]]:
        started = await service.create(data, idempotency_key(request))
        headers = {"Idempotent-Replayed": "true"} if started.replayed else {}
        return Response(
            Envelope(data=PodcastOut.of(started.podcast)),
            status_code=started_status(started, HTTP_201_CREATED),
            headers=headers,
        )

    @get(
        "/",
        operation_id="listPodcasts",
        summary="List your podcasts",
        responses=error_responses(400, *AUTHENTICATED),
    )
    async def list_podcasts(
        self,
        service: Service,
        page: Annotated[int, QueryParameter(ge=1)] = 1,
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
        status: FromQuery[PodcastStatus | None] = None,
        sort: FromQuery[Literal["createdAt", "updatedAt"]] = "createdAt",
        order: FromQuery[Literal["asc", "desc"]] = "desc",
    ) -> PageEnvelope[PodcastOut]:
        rows, total = await service.list_podcasts(
            page=page, limit=limit, status=status, sort=sort, order=order
        )
        return PageEnvelope(
            data=[PodcastOut.of(p) for p in rows],
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
        self, service: Service, podcast_id: FromPath[str]
    ) -> Envelope[PodcastOut]:
        return Envelope(data=PodcastOut.of(await service.get(podcast_id)))

    @get(
        "/{podcast_id:str}/status",
        operation_id="getPodcastStatus",
        responses=error_responses(400, 404, *AUTHENTICATED),
        summary="Live progress of a podcast",
        description="Asks the running workflow; falls back to the stored record when the "
        "run is closed or no worker answers.",
    )
    async def status(
        self, service: Service, podcast_id: FromPath[str]
    ) -> Envelope[PodcastStatusOut]:
        found = await service.status(podcast_id)
        return Envelope(data=PodcastStatusOut.of(found.podcast, found.live))

    @get(
        "/{podcast_id:str}/download",
        operation_id="getPodcastDownload",
        responses=DOWNLOAD_RESPONSES,
        summary="A signed, expiring link to the MP3",
    )
    async def download(
        self, request: Request[User, Any, Any], service: Service, podcast_id: FromPath[str]
    ) -> Envelope[DownloadOut]:
        podcast, link = await service.download(podcast_id, str(request.base_url))
        return Envelope(data=DownloadOut.of(podcast, link))

    @patch(
        "/{podcast_id:str}",
        operation_id="updatePodcast",
        summary="Change title or notes",
        responses=UPDATE_RESPONSES,
    )
    async def update_podcast(
        self,
        service: Service,
        podcast_id: FromPath[str],
        data: JSONBody[UpdatePodcastRequest],
    ) -> Envelope[PodcastOut]:
        podcast = await service.update(podcast_id, title=data.title, note_content=data.note_content)
        return Envelope(data=PodcastOut.of(podcast))

    @delete(
        "/{podcast_id:str}",
        operation_id="deletePodcast",
        responses=error_responses(400, 404, *AUTHENTICATED),
        summary="Delete a podcast",
        description="Soft delete: the podcast disappears from every route, a run in "
        "progress is cancelled and the audio is removed from storage.",
        status_code=HTTP_200_OK,
    )
    async def delete_podcast(self, service: Service, podcast_id: FromPath[str]) -> MessageEnvelope:
        await service.delete(podcast_id)
        return MessageEnvelope(message="Podcast deleted")

    @post(
        "/{podcast_id:str}/cancel",
        operation_id="cancelPodcast",
        responses=CANCEL_RESPONSES,
        summary="Cancel a queued or running podcast",
        description="Sends the workflow's `cancel` signal and waits briefly for the run to "
        "stop: 200 with the CANCELLED podcast, or 202 while it is still stopping. 409 when "
        "the podcast has already finished.",
        status_code=HTTP_200_OK,
    )
    async def cancel_podcast(
        self, service: Service, podcast_id: FromPath[str]
    ) -> Response[Envelope[PodcastOut]]:
        podcast = await service.cancel(podcast_id)
        code = HTTP_200_OK if podcast.status.finished else HTTP_202_ACCEPTED
        return Response(Envelope(data=PodcastOut.of(podcast)), status_code=code)

    @post(
        "/{podcast_id:str}/retry",
        operation_id="retryPodcast",
        responses=RETRY_RESPONSES,
        summary="Retry a failed or cancelled podcast",
        description="Starts a new run of the podcast's workflow; the plan's limits are "
        "checked again (403 when refused).",
        status_code=HTTP_200_OK,
    )
    async def retry_podcast(
        self, service: Service, podcast_id: FromPath[str]
    ) -> Response[Envelope[RetryOut]]:
        started = await service.retry(podcast_id)
        podcast = started.podcast
        return Response(
            Envelope(data=RetryOut(job_id=podcast.workflow_run_id, podcast=PodcastOut.of(podcast))),
            status_code=started_status(started, HTTP_200_OK),
        )

    @get(
        "/{podcast_id:str}/script",
        operation_id="getPodcastScript",
        responses=SCRIPT_RESPONSES,
        summary="The written script: each line's index, speaker and text",
        description="Available once the run has written the script, before the audio is done.",
    )
    async def script(self, service: Service, podcast_id: FromPath[str]) -> Envelope[ScriptOut]:
        podcast, lines = await service.script(podcast_id)
        return Envelope(
            data=ScriptOut(
                podcast_id=str(podcast.id),
                version=podcast.version,
                lines=[
                    ScriptLineOut(index=index, speaker=line.speaker, text=line.text)
                    for index, line in enumerate(lines)
                ],
            )
        )

    # -- edit and re-render: each starts a re-render run of a COMPLETED podcast ---------

    @put(
        "/{podcast_id:str}/script",
        operation_id="replacePodcastScript",
        responses=RERENDER_RESPONSES,
        summary="Replace the script and re-render the episode",
        description=RERENDER_DESCRIPTION,
        status_code=HTTP_202_ACCEPTED,
    )
    async def replace_script(
        self, service: Service, podcast_id: FromPath[str], data: JSONBody[ReplaceScriptRequest]
    ) -> Envelope[RerenderOut]:
        lines = [ScriptLine(speaker=line.speaker, text=line.text) for line in data.lines]
        return rerendered(await service.replace_script(podcast_id, lines))

    @patch(
        "/{podcast_id:str}/script/lines/{index:int}",
        operation_id="editPodcastScriptLine",
        responses=RERENDER_RESPONSES,
        summary="Change one line's text or speaker and re-render the episode",
        description=RERENDER_DESCRIPTION,
        status_code=HTTP_202_ACCEPTED,
    )
    async def edit_line(
        self,
        service: Service,
        podcast_id: FromPath[str],
        index: FromPath[int],
        data: JSONBody[EditLineRequest],
    ) -> Envelope[RerenderOut]:
        return rerendered(
            await service.edit_line(podcast_id, index, speaker=data.speaker, text=data.text)
        )

    @post(
        "/{podcast_id:str}/script/lines",
        operation_id="insertPodcastScriptLine",
        responses=RERENDER_RESPONSES,
        summary="Insert a line at a position and re-render the episode",
        description=RERENDER_DESCRIPTION,
        status_code=HTTP_202_ACCEPTED,
    )
    async def insert_line(
        self, service: Service, podcast_id: FromPath[str], data: JSONBody[InsertLineRequest]
    ) -> Envelope[RerenderOut]:
        return rerendered(
            await service.insert_line(
                podcast_id, data.position, speaker=data.speaker, text=data.text
            )
        )

    @delete(
        "/{podcast_id:str}/script/lines/{index:int}",
        operation_id="deletePodcastScriptLine",
        responses=RERENDER_RESPONSES,
        summary="Delete a line and re-render the episode",
        description=RERENDER_DESCRIPTION,
        status_code=HTTP_202_ACCEPTED,
    )
    async def delete_line(
        self, service: Service, podcast_id: FromPath[str], index: FromPath[int]
    ) -> Envelope[RerenderOut]:
        return rerendered(await service.delete_line(podcast_id, index))

    @get(
        "/{podcast_id:str}/transcript",
        operation_id="getPodcastTranscript",
        responses=TRANSCRIPT_RESPONSES,
        summary="The script with each line's place in the audio",
        description="JSON by default; `?format=vtt` returns WebVTT captions.",
    )
    async def transcript(
        self,
        service: Service,
        podcast_id: FromPath[str],
        format: FromQuery[Literal["json", "vtt"]] = "json",
    ) -> Response[Any]:
        podcast, lines = await service.transcript(podcast_id)
        if format == "vtt":
            return Response(webvtt(lines), media_type="text/vtt")
        return Response(
            Envelope(
                data=TranscriptOut(
                    podcast_id=str(podcast.id),
                    lines=[TranscriptLineOut.model_validate(line.model_dump()) for line in lines],
                )
            )
        )
