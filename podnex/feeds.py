"""Each user's private podcast feed: the token that authorises it, and the feed itself.

A user has at most one feed token. Like API keys (`podnex.apikeys`) it is a random secret
shown once and stored only as a SHA-256 hash; issuing a token again (rotating) replaces
the hash, so the old token stops working at once, and revoking deletes it.

The feed is RSS 2.0 built with feedgen: its podcast extension writes the iTunes tags,
and `PodcastIndexExtension` (registered with feedgen's `register_extension`) writes the
Podcasting 2.0 tags (`podcast:locked`, `podcast:transcript`) and Apple's current
`itunes:explicit` value (`false`; feedgen 1.0 knows only the older yes/no/clean). It
lists the user's published podcasts that are not deleted (one being re-rendered keeps
its published version listed), newest first. Each item's guid
is the podcast's id (never a permalink), so a re-rendered episode keeps it; its enclosure
and transcript URLs carry the podcast's version (`…/{id}/v{version}.mp3`), so podcast
apps see a new enclosure when a podcast is published again.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from feedgen.util import xml_elem
from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from podnex import apikeys
from podnex.models import FeedToken, Podcast, User
from podnex.podcasts import transcript_of

TOKEN_PREFIX = "pnf_"
DISPLAY_PREFIX_LENGTH = 10
"""How much of a token is kept to recognise it (`pnf_` and six random characters)."""
_TOKEN = re.compile(r"pnf_[A-Za-z0-9_-]{32}")

PODCAST_NAMESPACE = "https://podcastindex.org/namespace/1.0"
ITUNES_NAMESPACE = "http://www.itunes.com/dtds/podcast-1.0.dtd"
AUDIO_TYPE = "audio/mpeg"
TRANSCRIPT_TYPE = "text/vtt"
DEFAULT_LANGUAGE = "en"
CATEGORY = "Technology"
DESCRIPTION_CHARS = 400
"""How much of the transcript an item's description quotes (at most)."""

LAST_USED_RESOLUTION = timedelta(minutes=1)
"""How stale a token's `last_used_at` may be: a podcast app fetching the feed and its
enclosures does not turn every request into a write."""


# -- tokens ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedToken:
    """A token just issued: the plaintext exists only here."""

    token: str
    prefix: str
    created_at: datetime


def _new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(24)


async def issue_token(session: AsyncSession, user_id: uuid.UUID) -> IssuedToken:
    """A new feed token for the user, replacing any they had (that one stops working)."""
    token = _new_token()
    prefix = token[:DISPLAY_PREFIX_LENGTH]
    values = {"prefix": prefix, "token_hash": apikeys.hash_key(token), "last_used_at": None}
    statement = (
        insert(FeedToken)
        .values(user_id=user_id, **values)
        .on_conflict_do_update(
            index_elements=[FeedToken.user_id], set_={**values, "created_at": func.now()}
        )
        .returning(FeedToken.created_at)
    )
    created_at = (await session.execute(statement)).scalar_one()
    return IssuedToken(token=token, prefix=prefix, created_at=created_at)


async def token_of(session: AsyncSession, user_id: uuid.UUID) -> FeedToken | None:
    """The user's live feed token (its prefix and times; never the token), or None."""
    return await session.get(FeedToken, user_id, populate_existing=True)


async def revoke_token(session: AsyncSession, user_id: uuid.UUID) -> bool:
    """Delete the user's feed token; False when they had none."""
    gone = await session.scalar(
        delete(FeedToken).where(FeedToken.user_id == user_id).returning(FeedToken.user_id)
    )
    return gone is not None


async def owner_of(session: AsyncSession, token: str) -> User | None:
    """The user a live feed token belongs to (not a disabled one), recording when it was
    last used; None for anything else."""
    if not _TOKEN.fullmatch(token):
        return None
    row = (
        await session.execute(
            select(FeedToken, User)
            .join(User, User.id == FeedToken.user_id)
            .where(FeedToken.token_hash == apikeys.hash_key(token), User.disabled_at.is_(None))
        )
    ).first()
    if row is None:
        return None
    found, user = row
    if not apikeys.matches(token, found.token_hash):
        return None
    now = datetime.now(UTC)
    if found.last_used_at is None or now - found.last_used_at >= LAST_USED_RESOLUTION:
        await session.execute(
            update(FeedToken).where(FeedToken.user_id == user.id).values(last_used_at=now)
        )
    return user


# -- what the feed lists ---------------------------------------------------------------------


def _listed(user_id: uuid.UUID) -> Any:
    return (
        Podcast.user_id == user_id,
        Podcast.deleted_at.is_(None),
        # Published: a re-render in progress (PROCESSING) keeps its published version listed.
        Podcast.audio_key.is_not(None),
        Podcast.version >= 1,
    )


async def episodes(session: AsyncSession, user_id: uuid.UUID) -> list[Podcast]:
    """The user's finished podcasts the feed lists, newest (completion) first."""
    rows = await session.scalars(
        select(Podcast)
        .where(*_listed(user_id))
        .order_by(Podcast.created_at.desc(), Podcast.id.desc())
    )
    return list(rows)


async def episode(session: AsyncSession, user_id: uuid.UUID, podcast_id: str) -> Podcast | None:
    """One podcast the user's feed lists, or None (unknown, someone else's, deleted,
    unfinished)."""
    try:
        parsed = uuid.UUID(podcast_id)
    except ValueError:
        return None
    return await session.scalar(select(Podcast).where(Podcast.id == parsed, *_listed(user_id)))


async def changed_at(session: AsyncSession, user: User) -> datetime:
    """When the user's feed last changed: the newest change to the user or to any podcast
    of theirs that has been finished (deleting or re-publishing one changes it too)."""
    newest = await session.scalar(
        select(func.max(Podcast.updated_at)).where(Podcast.user_id == user.id, Podcast.version >= 1)
    )
    return max(filter(None, (newest, user.updated_at, user.created_at)))


# -- the feed ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeedUrls:
    """Where the feed and its files are served: `feeds_url` is the API's feed route
    (`https://host/feeds`); every URL carries the token, which authorises it."""

    feeds_url: str
    token: str
    image_url: str
    site_url: str

    @property
    def feed(self) -> str:
        return f"{self.feeds_url}/{self.token}.xml"

    def audio(self, podcast: Podcast) -> str:
        return f"{self.feeds_url}/{self.token}/{podcast.id}/v{podcast.version}.mp3"

    def transcript(self, podcast: Podcast) -> str:
        return f"{self.feeds_url}/{self.token}/{podcast.id}/v{podcast.version}.vtt"


class PodcastIndexExtension(BaseExtension):
    """The channel's Podcasting 2.0 namespace and tags, and `itunes:explicit` as Apple's
    current specification writes it."""

    def __init__(self) -> None:
        self.locked: bool | None = None
        self.explicit: bool | None = None

    def extend_ns(self) -> dict[str, str]:
        return {"podcast": PODCAST_NAMESPACE}

    def extend_rss(self, feed: Any) -> Any:
        channel = feed[0]
        if self.explicit is not None:
            xml_elem(f"{{{ITUNES_NAMESPACE}}}explicit", channel).text = (
                "true" if self.explicit else "false"
            )
        if self.locked is not None:
            xml_elem(f"{{{PODCAST_NAMESPACE}}}locked", channel).text = (
                "yes" if self.locked else "no"
            )
        return feed


class PodcastIndexEntryExtension(BaseEntryExtension):
    """An item's `podcast:transcript` tags."""

    def __init__(self) -> None:
        self.transcripts: list[dict[str, str]] = []

    def transcript(self, url: str, type_: str, language: str | None = None) -> None:
        attributes = {"url": url, "type": type_, "rel": "captions"}
        if language:
            attributes["language"] = language
        self.transcripts.append(attributes)

    def extend_rss(self, entry: Any) -> Any:
        for attributes in self.transcripts:
            element = xml_elem(f"{{{PODCAST_NAMESPACE}}}transcript", entry)
            element.attrib.update(attributes)
        return entry


def owner_name(user: User) -> str:
    return user.name or user.email


def channel_language(podcasts: Sequence[Podcast]) -> str:
    """The newest episode's language (a BCP 47 tag), else English."""
    return next((p.language for p in podcasts if p.language), DEFAULT_LANGUAGE)


def episode_title(podcast: Podcast) -> str:
    if podcast.title:
        return podcast.title
    return f"Podcast of {podcast.created_at:%Y-%m-%d %H:%M} UTC"


def episode_description(podcast: Podcast) -> str:
    """Plain text: the first lines of the transcript ("Host: …"), at most
    `DESCRIPTION_CHARS` characters, cut at a word."""
    text = " ".join(
        f"{line.speaker.capitalize()}: {' '.join(line.text.split())}"
        for line in transcript_of(podcast)[:4]
    )
    if not text:
        return episode_title(podcast)
    if len(text) <= DESCRIPTION_CHARS:
        return text
    return text[: DESCRIPTION_CHARS - 1].rsplit(" ", 1)[0] + "…"


def build_feed(
    user: User, podcasts: Sequence[Podcast], urls: FeedUrls, *, updated: datetime
) -> bytes:
    """The user's feed (RSS 2.0, UTF-8) listing `podcasts` in the order given. The same
    input gives the same bytes (`updated` is the build date), so a hash of them is an ETag."""
    name = owner_name(user)
    feed = FeedGenerator()
    feed.load_extension("podcast")
    feed.register_extension("podcastindex", PodcastIndexExtension, PodcastIndexEntryExtension)
    feed.title(f"{name}'s podnex")
    feed.description(
        f"Podcasts podnex made from {name}'s notes. This feed is private: its address "
        "is a key, so do not share it."
    )
    feed.link(href=urls.feed, rel="self")
    feed.link(href=urls.site_url, rel="alternate")  # RSS's <link>: the last one given
    feed.language(channel_language(podcasts))
    feed.image(url=urls.image_url, title=f"{name}'s podnex", link=urls.site_url)
    feed.lastBuildDate(updated)
    feed.generator("podnex (python-feedgen)")
    feed.podcast.itunes_author(name)
    feed.podcast.itunes_category(CATEGORY)
    feed.podcast.itunes_image(urls.image_url)
    feed.podcast.itunes_type("episodic")
    feed.podcastindex.explicit = False
    feed.podcastindex.locked = True
    for podcast in podcasts:
        assert podcast.audio_size_bytes is not None
        entry = feed.add_entry(order="append")
        entry.guid(str(podcast.id), permalink=False)
        entry.title(episode_title(podcast))
        entry.description(episode_description(podcast))
        # When it was made: stable across re-renders, which republish its audio.
        entry.published(podcast.created_at)
        entry.enclosure(urls.audio(podcast), str(podcast.audio_size_bytes), AUDIO_TYPE)
        entry.podcast.itunes_duration(round(podcast.audio_duration or 0))
        entry.podcast.itunes_author(name)
        entry.podcastindex.transcript(
            urls.transcript(podcast), TRANSCRIPT_TYPE, podcast.language or None
        )
    xml: bytes = feed.rss_str(pretty=True)
    return xml


def etag_of(body: bytes) -> str:
    """A weak ETag for the feed's bytes (weak: compression may change how they travel)."""
    return f'W/"{hashlib.sha256(body).hexdigest()[:32]}"'
