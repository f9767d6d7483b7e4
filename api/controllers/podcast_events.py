"""/api/v1/podcasts/{id}/events: a podcast's progress as server-sent events (HTTP only;
the stream is `PodcastService.events`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from litestar import Controller, Request, Response, get
from litestar.di import Provide
from litestar.openapi import ResponseSpec
from litestar.params import FromPath
from litestar.response import ServerSentEvent, ServerSentEventMessage
from litestar.status_codes import HTTP_204_NO_CONTENT

from api.controllers.podcasts import Service, provide_service
from api.openapi import AUTHENTICATED, error_responses
from api.podcast_service import Heartbeat, ProgressEvent
from api.schemas import PodcastStatusOut
from podnex.models import User


def last_event_id(request: Request[Any, Any, Any]) -> int | None:
    """The Last-Event-ID a reconnecting client sends (ids are integers; others are ignored)."""
    value = (request.headers.get("last-event-id") or "").strip()
    # ASCII digits only: str.isdigit() admits "¹" and the like, which int() refuses.
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 18 else None


async def sse_messages(
    feed: AsyncIterator[ProgressEvent | Heartbeat],
) -> AsyncIterator[ServerSentEventMessage]:
    """The stream's events as SSE: `progress` events, one `final` event, heartbeat comments."""
    async for item in feed:
        if isinstance(item, Heartbeat):
            yield ServerSentEventMessage(data=None, comment="heartbeat")
            continue
        body = PodcastStatusOut.of(item.status.podcast, item.status.live)
        yield ServerSentEventMessage(
            data=body.model_dump_json(by_alias=True),
            event="final" if item.final else "progress",
            id=item.id,
        )


class PodcastEventController(Controller):
    path = "/api/v1/podcasts"
    tags = ["podcasts"]
    security = [{"BearerAuth": []}]
    dependencies = {"service": Provide(provide_service, sync_to_thread=False)}

    @get(
        "/{podcast_id:str}/events",
        operation_id="streamPodcastEvents",
        media_type="text/event-stream",
        responses={
            **error_responses(400, 404, *AUTHENTICATED),
            HTTP_204_NO_CONTENT: ResponseSpec(
                data_container=None, description="The final event was already seen"
            ),
        },
        summary="Progress as server-sent events",
        description="A `text/event-stream`: a `progress` event (the `/status` object) each "
        "time the run advances, then one `final` event with the stored outcome, then the "
        "stream closes. A finished podcast gets the `final` event alone. Event ids grow; "
        "reconnect with `Last-Event-ID` to resume after the last event seen (204 once the "
        "final event was seen). A `: heartbeat` comment every 15 s keeps proxies from "
        "closing it. Never compressed.",
    )
    async def events(
        self, request: Request[User, Any, Any], service: Service, podcast_id: FromPath[str]
    ) -> Response[Any]:
        feed = await service.events(podcast_id, last_event_id(request))
        if feed is None:
            return Response(content=b"", status_code=HTTP_204_NO_CONTENT)
        return ServerSentEvent(sse_messages(feed))
