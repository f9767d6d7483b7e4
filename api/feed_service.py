"""The private feed's use cases: a user's feed token (show, issue or rotate, revoke), and
what a feed token opens (the feed, an episode's audio and transcript).

Rows change only through `podnex.feeds`; what goes wrong comes out as `ApiError`s. A token
that is unknown, rotated away or revoked, and a podcast the feed does not list, are all
404 `Feed not found` / `Episode not found` (nothing tells a guess from a dead token).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from api.errors import ApiError
from api.paths import FEEDS_PATH, STATIC_PATH
from api.state import AppState
from podnex import feeds
from podnex.models import FeedToken, Podcast, User

FEED_NOT_FOUND = "Feed not found"
EPISODE_NOT_FOUND = "Episode not found"
COVER_IMAGE = f"{STATIC_PATH}/page/podcast-cover.png"
"""The channel's artwork: a 1400x1400 PNG (iTunes asks for 1400..3000 px, JPG or PNG)."""

_EPISODE_FILE = re.compile(r"v(?P<version>[0-9]{1,9})\.(?P<kind>mp3|vtt)")


@dataclass(frozen=True)
class FeedDocument:
    body: bytes
    etag: str
    last_modified: datetime


@dataclass(frozen=True)
class EpisodeFile:
    podcast: Podcast
    kind: str
    """`mp3` (the audio) or `vtt` (the transcript)."""


class FeedService:
    def __init__(self, state: AppState, base_url: str) -> None:
        self.state = state
        self.base = state.public_base(base_url)

    def _urls(self, token: str) -> feeds.FeedUrls:
        return feeds.FeedUrls(
            feeds_url=f"{self.base}{FEEDS_PATH}",
            token=token,
            image_url=f"{self.base}{COVER_IMAGE}",
            site_url=f"{self.base}/",
        )

    # -- the token, for its owner (API key) ----------------------------------------------

    def url_hint(self, row: FeedToken) -> str:
        return f"{self.base}{FEEDS_PATH}/{row.prefix}….xml"

    async def show(self, user: User) -> FeedToken:
        async with self.state.db.transaction() as session:
            row = await feeds.token_of(session, user.id)
        if row is None:
            raise ApiError(404, "No feed yet: POST /api/v1/feed creates one", code="NO_FEED")
        return row

    async def issue(self, user: User) -> tuple[str, feeds.IssuedToken]:
        """A new token (the old one, if any, stops working) and the feed's full URL."""
        async with self.state.db.transaction() as session:
            issued = await feeds.issue_token(session, user.id)
        return self._urls(issued.token).feed, issued

    async def revoke(self, user: User) -> None:
        async with self.state.db.transaction() as session:
            revoked = await feeds.revoke_token(session, user.id)
        if not revoked:
            raise ApiError(404, "No feed to revoke", code="NO_FEED")

    # -- what a token opens (no API key) --------------------------------------------------

    async def feed(self, token: str) -> FeedDocument:
        async with self.state.db.transaction() as session:
            user = await feeds.owner_of(session, token)
            if user is None:
                raise ApiError(404, FEED_NOT_FOUND)
            listed = await feeds.episodes(session, user.id)
            changed = await feeds.changed_at(session, user)
        body = feeds.build_feed(user, listed, self._urls(token), updated=changed)
        return FeedDocument(body=body, etag=feeds.etag_of(body), last_modified=changed)

    async def episode_file(self, token: str, podcast_id: str, file: str) -> EpisodeFile:
        """The podcast behind `…/{podcast_id}/v{version}.mp3|vtt`: 404 unless the token is
        live and its feed lists the podcast at that version (an older version's URL is 404:
        its audio has been replaced, and resuming a download across versions would splice
        two files)."""
        match = _EPISODE_FILE.fullmatch(file)
        if match is None:
            raise ApiError(404, EPISODE_NOT_FOUND)
        async with self.state.db.transaction() as session:
            user = await feeds.owner_of(session, token)
            podcast = None if user is None else await feeds.episode(session, user.id, podcast_id)
        if user is None:
            raise ApiError(404, FEED_NOT_FOUND)
        if podcast is None or podcast.version != int(match["version"]):
            raise ApiError(404, EPISODE_NOT_FOUND)
        return EpisodeFile(podcast=podcast, kind=match["kind"])
