"""Listen while it is made (#15): a podcast's HLS stream (HTTP only; the use cases are
`api.stream_service.StreamService`).

- `GET /api/v1/podcasts/{id}/stream.m3u8` (API key): the playlist, its chunk URIs signed;
- `GET /api/v1/podcasts/{id}/stream` (API key): a signed playlist link for a player;
- `GET /api/v1/podcasts/{id}/stream/{token}/index.m3u8` and `…/{token}/{n}.mp3` (no key,
  the token is the credential): the signed playlist and its chunks.
"""

from __future__ import annotations

import re
import time
from typing import Any

from litestar import Controller, Request, Response, get
from litestar.di import Provide
from litestar.openapi import ResponseSpec
from litestar.params import FromPath

from api.controllers.podcasts import Service, provide_service
from api.errors import ApiError
from api.openapi import AUTHENTICATED, error_responses
from api.schemas import Envelope, StreamLinkOut
from api.state import state_of
from api.stream_service import Playlist, StreamService
from podnex.models import User
from podnex.podcasts import parse_id
from podnex.streaming import CHUNK_TYPE, PLAYLIST_TYPE

PLAYLIST_NAME = "index.m3u8"
_CHUNK_NAME = re.compile(r"^(0|[1-9][0-9]{0,5})\.mp3$")

_STREAM_ERRORS = {
    404: "Not found, or not yours; or audio not available yet",
    409: "The podcast failed or was cancelled (`PODCAST_FAILED`, `PODCAST_CANCELLED`)",
}

_PLAYLIST_DESCRIPTION = (
    "An HLS playlist (RFC 8216, `#EXT-X-PLAYLIST-TYPE:EVENT`) of the episode so far: a "
    "chunk of a few seconds of MP3 (24 kHz mono, mixed and levelled as the episode is) for "
    "each run of lines spoken, in order. It only grows (reload it, `Cache-Control: "
    "no-store`) and gets `#EXT-X-ENDLIST` once the podcast is COMPLETED. Before the script "
    "is written it lists no chunk. A completed podcast whose line audio is no longer "
    "stored is one segment, the published MP3. Chunk URIs carry a signed token, so "
    "players need no API key. Never compressed."
)


def _playlist_response(playlist: Playlist) -> Response[str]:
    cache = "private, max-age=60" if playlist.ended else "no-store"
    return Response(playlist.text, media_type=PLAYLIST_TYPE, headers={"Cache-Control": cache})


class PodcastStreamController(Controller):
    """The keyed stream routes: the owner's playlist and a signed link to it."""

    path = "/api/v1/podcasts"
    tags = ["podcasts"]
    security = [{"BearerAuth": []}]
    dependencies = {"service": Provide(provide_service, sync_to_thread=False)}

    @get(
        "/{podcast_id:str}/stream.m3u8",
        operation_id="getPodcastStreamPlaylist",
        summary="Listen while it is made: the HLS playlist",
        description=_PLAYLIST_DESCRIPTION,
        media_type=PLAYLIST_TYPE,
        responses=error_responses(400, 404, 409, *AUTHENTICATED, descriptions=_STREAM_ERRORS),
    )
    async def playlist(
        self, request: Request[User, Any, Any], service: Service, podcast_id: FromPath[str]
    ) -> Response[str]:
        podcast = await service.get(podcast_id)
        stream = StreamService(state_of(request))
        token, _ = stream.token(str(podcast.id), time.time())
        playlist = await stream.playlist(
            podcast,
            uri=lambda index: f"stream/{token}/{index}.mp3",
            base_url=str(request.base_url),
        )
        return _playlist_response(playlist)

    @get(
        "/{podcast_id:str}/stream",
        operation_id="getPodcastStreamLink",
        summary="A signed link to the HLS playlist, for a player",
        description="`url` opens in any HLS player (ffplay, VLC, Safari, hls.js) without "
        "an API key until `expiresAt` (`DOWNLOAD_URL_TTL_SECONDS`); it works while the "
        "podcast is being made and after.",
        responses=error_responses(400, 404, 409, *AUTHENTICATED, descriptions=_STREAM_ERRORS),
    )
    async def link(
        self, request: Request[User, Any, Any], service: Service, podcast_id: FromPath[str]
    ) -> Envelope[StreamLinkOut]:
        podcast = await service.get(podcast_id)
        StreamService.require_streamable(podcast)
        link = StreamService(state_of(request)).link(
            str(podcast.id), str(request.base_url), time.time()
        )
        return Envelope(
            data=StreamLinkOut(url=link.url, expires_at=link.expires_at, status=podcast.status)
        )


class StreamFileController(Controller):
    """The signed stream: the playlist and its chunks, for players (no API key)."""

    path = "/api/v1/podcasts/{podcast_id:str}/stream/{token:str}"
    tags = ["podcasts"]

    @get(
        "/{name:str}",
        operation_id="getPodcastStreamFile",
        summary="The signed stream: `index.m3u8` or chunk `<n>.mp3`",
        description=_PLAYLIST_DESCRIPTION
        + " A chunk is raw MP3 frames after an ID3 timestamp (HLS packed audio), the same "
        "bytes every time (404 `CHUNK_NOT_READY` until listed).",
        media_type=PLAYLIST_TYPE,
        responses={
            200: ResponseSpec(
                data_container=bytes,
                media_type=CHUNK_TYPE,
                description="The playlist, or a chunk (`audio/mpeg`)",
                generate_examples=False,
            ),
            **error_responses(
                400,
                403,
                404,
                409,
                429,
                descriptions={
                    **_STREAM_ERRORS,
                    403: "Link invalid or expired",
                    429: "Too many requests from this address; `Retry-After` says when to retry",
                },
            ),
        },
    )
    async def stream_file(
        self,
        request: Request[Any, Any, Any],
        podcast_id: FromPath[str],
        token: FromPath[str],
        name: FromPath[str],
    ) -> Response[Any]:
        stream = StreamService(state_of(request))
        parsed = parse_id(podcast_id)
        if parsed is None:
            raise ApiError(404, "Podcast not found")
        podcast_id = str(parsed)
        stream.check_token(podcast_id, token, time.time())
        chunk = _CHUNK_NAME.match(name)
        if name != PLAYLIST_NAME and chunk is None:
            raise ApiError(404, "Not found")
        podcast = await stream.podcast(podcast_id)
        if chunk is None:
            playlist = await stream.playlist(
                podcast, uri=lambda index: f"{index}.mp3", base_url=str(request.base_url)
            )
            return _playlist_response(playlist)
        body = await stream.chunk(podcast, int(chunk.group(1)))
        return Response(
            body,
            media_type=CHUNK_TYPE,
            headers={"Cache-Control": "private, max-age=300"},
        )
