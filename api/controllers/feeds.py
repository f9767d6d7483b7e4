"""The private podcast feed.

`/api/v1/feed` (API key): the caller's feed token: show (its prefix; the full address is
never shown again), create or rotate (the full address, once), revoke.

`/feeds/…` (no API key: the token in the path authorises; the per-address rate limit
applies): the feed (`/feeds/{token}.xml`, RSS 2.0, ETag and Last-Modified with 304s) and
each episode's audio (`/feeds/{token}/{podcast_id}/v{version}.mp3`, Range and HEAD) and
WebVTT transcript (`…/v{version}.vtt`). A dead token, an episode the feed does not list,
or an older version of one are 404.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from litestar import Controller, Request, Response, delete, get, head, post
from litestar.di import NamedDependency, Provide
from litestar.openapi import ResponseSpec
from litestar.params import FromPath
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from api.controllers.files import Located, audio_response, head_response, locate
from api.errors import ApiError
from api.feed_service import FeedDocument, FeedService
from api.openapi import error_responses
from api.paths import FEEDS_PATH
from api.schemas import CreatedFeedOut, Envelope, FeedOut, MessageEnvelope
from api.state import state_of
from podnex.captions import webvtt
from podnex.models import Podcast, User
from podnex.podcasts import transcript_of

Service = NamedDependency[FeedService]

RSS_TYPE = "application/rss+xml; charset=utf-8"
VTT_TYPE = "text/vtt; charset=utf-8"
FEED_CACHE_CONTROL = "private, no-cache"
"""Apps may keep the feed but must revalidate it (cheap: 304 with ETag/Last-Modified)."""
EPISODE_CACHE_CONTROL = "private, max-age=3600"
"""An episode's URL names its version, so its bytes do not change while it answers."""


def provide_feed_service(request: Request[Any, Any, Any]) -> FeedService:
    return FeedService(state_of(request), str(request.base_url))


class FeedTokenController(Controller):
    path = "/api/v1/feed"
    tags = ["feed"]
    security = [{"BearerAuth": []}]
    dependencies = {"service": Provide(provide_feed_service, sync_to_thread=False)}

    @get(
        "/",
        operation_id="getFeed",
        summary="Your private podcast feed",
        description="The token's prefix and when it was made and last used. The token is "
        "stored only as a hash, so the full address is shown only by `POST` (which makes "
        "a new one). 404 when you have no feed.",
        responses=error_responses(401, 404, 429, descriptions={404: "No feed yet"}),
    )
    async def show(self, request: Request[User, Any, Any], service: Service) -> Envelope[FeedOut]:
        row = await service.show(request.user)
        return Envelope(
            data=FeedOut(
                prefix=row.prefix,
                url_hint=service.url_hint(row),
                created_at=row.created_at,
                last_used_at=row.last_used_at,
            )
        )

    @post(
        "/",
        operation_id="createFeed",
        summary="Create or rotate your private podcast feed",
        description="A new feed address with a new token, shown only in this response; an "
        "earlier address stops working at once (404). Paste it into a podcast app: it lists "
        "your completed podcasts, newest first.",
        status_code=HTTP_201_CREATED,
        responses=error_responses(401, 429),
    )
    async def issue(
        self, request: Request[User, Any, Any], service: Service
    ) -> Envelope[CreatedFeedOut]:
        url, issued = await service.issue(request.user)
        return Envelope(
            data=CreatedFeedOut(url=url, prefix=issued.prefix, created_at=issued.created_at)
        )

    @delete(
        "/",
        operation_id="revokeFeed",
        summary="Revoke your private podcast feed",
        description="The feed and its episode addresses answer 404 from now on.",
        status_code=HTTP_200_OK,
        responses=error_responses(401, 404, 429, descriptions={404: "No feed to revoke"}),
    )
    async def revoke(self, request: Request[User, Any, Any], service: Service) -> MessageEnvelope:
        await service.revoke(request.user)
        return MessageEnvelope(message="Feed revoked")


_FEED_ERRORS = error_responses(
    400,
    404,
    429,
    descriptions={
        404: "Unknown, rotated or revoked token, or an episode the feed does not list",
        429: "Too many requests from this address; `Retry-After` says when to retry",
    },
)


class PublicFeedController(Controller):
    path = FEEDS_PATH
    tags = ["feed"]
    dependencies = {"service": Provide(provide_feed_service, sync_to_thread=False)}

    @get(
        "/{name:str}",
        operation_id="readFeed",
        summary="A private podcast feed (RSS 2.0)",
        description="`/feeds/{token}.xml`: RSS 2.0 with the iTunes and Podcasting 2.0 tags, "
        "the owner's completed podcasts newest first. Answers 304 to a matching "
        "`If-None-Match` (or, without one, `If-Modified-Since`).",
        media_type=RSS_TYPE,
        response_description="The feed",
        responses={
            304: ResponseSpec(
                data_container=None, description="Not modified since the copy you have"
            ),
            **_FEED_ERRORS,
        },
    )
    async def feed(
        self, request: Request[Any, Any, Any], name: FromPath[str], service: Service
    ) -> Response[bytes]:
        document = await service.feed(_feed_token(name))
        headers = _feed_headers(document)
        if not_modified(request, document):
            return Response(b"", status_code=304, headers=headers)
        return Response(document.body, media_type=RSS_TYPE, headers=headers)

    @head("/{name:str}", operation_id="headFeed", include_in_schema=False)
    async def head_feed(
        self, request: Request[Any, Any, Any], name: FromPath[str], service: Service
    ) -> Response[None]:
        """The GET's status and headers (304 included), without the body."""
        document = await service.feed(_feed_token(name))
        headers = _feed_headers(document)
        if not_modified(request, document):
            return Response(None, status_code=304, headers=headers)
        headers |= {"Content-Type": RSS_TYPE, "Content-Length": str(len(document.body))}
        return Response(None, headers=headers)

    @get(
        "/{token:str}/{podcast_id:str}/{file:str}",
        operation_id="readFeedEpisode",
        summary="An episode of a private feed: its audio or transcript",
        description="`v{version}.mp3`: the audio, with single byte-range requests (206) "
        "and HEAD; `v{version}.vtt`: the transcript as WebVTT. Only the version the feed "
        "lists answers: after a re-render the older version's address is 404.",
        media_type="audio/mpeg",
        response_description="The whole audio file (or WebVTT)",
        responses={
            206: ResponseSpec(
                data_container=bytes,
                media_type="audio/mpeg",
                description="The requested byte range (`Content-Range` says which)",
                generate_examples=False,
            ),
            **error_responses(
                400,
                404,
                416,
                429,
                descriptions={
                    404: "Unknown, rotated or revoked token, or an episode (version) the "
                    "feed does not list",
                    429: "Too many requests from this address; `Retry-After` says when to retry",
                },
            ),
        },
    )
    async def episode(
        self,
        request: Request[Any, Any, Any],
        token: FromPath[str],
        podcast_id: FromPath[str],
        file: FromPath[str],
        service: Service,
    ) -> Response[bytes]:
        found = await service.episode_file(token, podcast_id, file)
        podcast = found.podcast
        if found.kind == "vtt":
            return Response(
                _captions(found.podcast),
                media_type=VTT_TYPE,
                headers={"Cache-Control": EPISODE_CACHE_CONTROL},
            )
        return await audio_response(request, await _episode_audio(request, podcast))

    @head(
        "/{token:str}/{podcast_id:str}/{file:str}",
        operation_id="headFeedEpisode",
        include_in_schema=False,
    )
    async def head_episode(
        self,
        request: Request[Any, Any, Any],
        token: FromPath[str],
        podcast_id: FromPath[str],
        file: FromPath[str],
        service: Service,
    ) -> Response[None]:
        """The GET's status and headers, without the body."""
        found = await service.episode_file(token, podcast_id, file)
        podcast = found.podcast
        if found.kind == "vtt":
            headers = {
                "Content-Type": VTT_TYPE,
                "Content-Length": str(len(_captions(podcast))),
                "Cache-Control": EPISODE_CACHE_CONTROL,
            }
            return Response(None, headers=headers)
        return head_response(await _episode_audio(request, podcast))


def _feed_token(name: str) -> str:
    """The token of `/feeds/{token}.xml` (404 for any other name)."""
    token, dot, suffix = name.rpartition(".")
    if not dot or suffix != "xml":
        raise ApiError(404, "Feed not found")
    return token


def _feed_headers(document: FeedDocument) -> dict[str, str]:
    return {
        "ETag": document.etag,
        "Last-Modified": http_date(document.last_modified),
        "Cache-Control": FEED_CACHE_CONTROL,
    }


async def _episode_audio(request: Request[Any, Any, Any], podcast: Podcast) -> Located:
    """The listed version's audio object, for GET and HEAD alike."""
    assert podcast.audio_key is not None
    return await locate(
        request,
        podcast.audio_key,
        filename=f"{podcast.id}-v{podcast.version}.mp3",
        cache_control=EPISODE_CACHE_CONTROL,
    )


def _captions(podcast: Podcast) -> bytes:
    return webvtt(transcript_of(podcast)).encode()


def http_date(moment: datetime) -> str:
    """An HTTP date (RFC 9110 section 5.6.7): `Mon, 07 Dec 2026 16:04:34 GMT`."""
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def not_modified(request: Request[Any, Any, Any], document: FeedDocument) -> bool:
    """Whether the client's copy is current (RFC 9110 section 13.2.2): `If-None-Match`
    (weak comparison) decides when sent; otherwise `If-Modified-Since`, to the second."""
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        wanted = _opaque(document.etag)
        tags = [tag.strip() for tag in if_none_match.split(",")]
        return any(tag == "*" or _opaque(tag) == wanted for tag in tags)
    if_modified_since = request.headers.get("if-modified-since")
    if not if_modified_since:
        return False
    try:
        since = parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError, IndexError):
        return False
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    return document.last_modified.replace(microsecond=0) <= since


def _opaque(tag: str) -> str:
    """An entity tag without its weakness mark (`W/"x"` and `"x"` compare equal, weakly)."""
    return tag[2:] if tag.startswith("W/") else tag
