"""The private podcast feed (issue #16, RSS) on the real stack: tokens through the API, the
feed read as podcast apps read it (feedparser), its enclosures and transcripts downloaded,
conditional requests, rotation, revocation and a re-published episode."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

import feedparser
import httpx
import pytest
from sqlalchemy import select, update

from podnex import apikeys
from podnex.db import Database
from podnex.feeds import PODCAST_NAMESPACE
from podnex.logging import redact_text
from podnex.models import FeedToken, Podcast, PodcastStatus, User
from tests.conftest import ApiUser, LiveApi, make_user
from tests.integration.test_cli_client import env_for, podnex
from tests.integration.test_podcast_routes import completed_podcast, wait_finished

pytestmark = pytest.mark.usefixtures("worker")

FEED = "/api/v1/feed"


async def new_feed(api: LiveApi, owner: ApiUser) -> str:
    """Create (or rotate) the owner's feed; its path on the API (`/feeds/….xml`)."""
    response = await api.client.post(FEED, headers=owner.headers)
    assert response.status_code == 201, response.text
    url = response.json()["data"]["url"]
    assert url.startswith(f"{api.base_url}/feeds/pnf_") and url.endswith(".xml"), url
    return str(url.removeprefix(api.base_url))


def parse(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/rss+xml")
    parsed = feedparser.parse(response.content)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert parsed.version == "rss20"
    return parsed


def local(api: LiveApi, url: str) -> str:
    assert url.startswith(api.base_url), url
    return url.removeprefix(api.base_url)


@dataclass
class Library:
    """One owner with two completed podcasts and a deleted one, and another user with one."""

    owner: ApiUser
    other: ApiUser
    feed_path: str
    older: dict[str, Any]
    newer: dict[str, Any]
    deleted: dict[str, Any]
    others: dict[str, Any]


@pytest.fixture(scope="module")
async def library(api: LiveApi, db: Database, worker: Any) -> Library:
    owner, other = await make_user(db), await make_user(db)
    older = await completed_podcast(api, owner)
    deleted = await completed_podcast(api, owner)
    newer = await completed_podcast(api, owner)
    others = await completed_podcast(api, other)
    gone = await api.client.delete(f"/api/v1/podcasts/{deleted['id']}", headers=owner.headers)
    assert gone.status_code == 200, gone.text
    await new_feed(api, other)
    return Library(owner, other, await new_feed(api, owner), older, newer, deleted, others)


async def test_feed_reads_cleanly_and_lists_only_the_owners_completed_podcasts(
    api: LiveApi, library: Library, db: Database
) -> None:
    parsed = parse(await api.client.get(library.feed_path))
    channel = parsed.feed
    assert channel.title.endswith("'s podnex") and library.owner.email in channel.title
    assert channel.description and channel.language == "en"
    assert channel.image.href == f"{api.base_url}/static/page/podcast-cover.png"
    assert channel.author == library.owner.email
    assert channel.tags[0].term == "Technology"
    ids = [entry.id for entry in parsed.entries]
    # Newest first; another user's and the deleted podcast never appear.
    assert ids == [library.newer["id"], library.older["id"]], ids
    async with db.transaction() as session:
        rows = {
            str(p.id): p
            for p in await session.scalars(
                select(Podcast).where(Podcast.id.in_([uuid.UUID(i) for i in ids]))
            )
        }
    for entry in parsed.entries:
        row = rows[entry.id]
        assert entry.guidislink is False
        assert entry.title == row.title and entry.summary and "<" not in entry.summary
        assert entry.published_parsed is not None
        assert entry.itunes_duration == str(round(row.audio_duration or 0))
        (enclosure,) = entry.enclosures
        assert enclosure.type == "audio/mpeg"
        assert int(enclosure.length) == row.audio_size_bytes
        assert enclosure.href.endswith(f"/{entry.id}/v{row.version}.mp3")
        audio = await api.client.get(local(api, enclosure.href))
        assert audio.status_code == 200 and audio.headers["content-type"] == "audio/mpeg"
        assert len(audio.content) == int(enclosure.length)
        assert audio.headers["accept-ranges"] == "bytes"
        transcript = entry.podcast_transcript
        assert transcript["type"] == "text/vtt"
        assert transcript["url"].endswith(f"/{entry.id}/v{row.version}.vtt")
        vtt = await api.client.get(local(api, transcript["url"]))
        assert vtt.status_code == 200 and vtt.headers["content-type"].startswith("text/vtt")
        assert vtt.text.startswith("WEBVTT\n\n1\n") and "<v Host>" in vtt.text
    raw = (await api.client.get(library.feed_path)).text
    assert "<itunes:explicit>false</itunes:explicit>" in raw
    assert f'xmlns:podcast="{PODCAST_NAMESPACE}"' in raw


async def test_another_users_feed_lists_only_their_podcasts(api: LiveApi, library: Library) -> None:
    path = await new_feed(api, library.other)  # rotating: the other user's newest token
    parsed = parse(await api.client.get(path))
    assert [entry.id for entry in parsed.entries] == [library.others["id"]]
    assert library.other.email in parsed.feed.title
    token = library.feed_path.removeprefix("/feeds/").removesuffix(".xml")
    other_token = path.removeprefix("/feeds/").removesuffix(".xml")
    # A token opens only its owner's episodes.
    for episode_path in (
        f"/feeds/{token}/{library.others['id']}/v1.mp3",
        f"/feeds/{other_token}/{library.older['id']}/v1.mp3",
        f"/feeds/{token}/{library.deleted['id']}/v1.mp3",
        f"/feeds/{token}/{library.deleted['id']}/v1.vtt",
    ):
        response = await api.client.get(episode_path)
        assert response.status_code == 404, episode_path


async def test_enclosures_answer_range_and_head(api: LiveApi, library: Library) -> None:
    parsed = parse(await api.client.get(library.feed_path))
    enclosure = parsed.entries[0].enclosures[0]
    path, length = local(api, enclosure.href), int(enclosure.length)
    whole = (await api.client.get(path)).content
    assert len(whole) == length

    headed = await api.client.head(path)
    assert headed.status_code == 200 and headed.content == b""
    assert int(headed.headers["content-length"]) == length
    assert headed.headers["content-type"] == "audio/mpeg"
    assert headed.headers["accept-ranges"] == "bytes"

    part = await api.client.get(path, headers={"Range": "bytes=100-1099"})
    assert part.status_code == 206 and part.content == whole[100:1100]
    assert part.headers["content-range"] == f"bytes 100-1099/{length}"
    tail = await api.client.get(path, headers={"Range": "bytes=-500"})
    assert tail.status_code == 206 and tail.content == whole[-500:]
    headed_part = await api.client.head(path, headers={"Range": "bytes=0-9"})
    assert headed_part.status_code == 206 and headed_part.headers["content-length"] == "10"
    beyond = await api.client.get(path, headers={"Range": f"bytes={length}-"})
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{length}"

    vtt_path = path.removesuffix(".mp3") + ".vtt"
    vtt, vtt_head = await api.client.get(vtt_path), await api.client.head(vtt_path)
    assert vtt_head.status_code == 200 and vtt_head.content == b""
    assert int(vtt_head.headers["content-length"]) == len(vtt.content)

    for wrong in ("v2.mp3", "v0.mp3", "audio.mp3", "v1.wav", "v1.mp3.mp3"):
        missing = await api.client.get(path.rsplit("/", 1)[0] + "/" + wrong)
        assert missing.status_code == 404, wrong
    unknown = await api.client.get(path.replace(parsed.entries[0].id, str(uuid.uuid4())))
    assert unknown.status_code == 404


async def test_feed_answers_304_until_it_changes(api: LiveApi, library: Library) -> None:
    first = await api.client.get(library.feed_path)
    assert first.status_code == 200
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert etag.startswith('W/"') and first.headers["cache-control"] == "private, no-cache"
    assert parsedate_to_datetime(modified) <= datetime.now(UTC)

    headed = await api.client.head(library.feed_path)
    assert headed.status_code == 200 and headed.content == b""
    assert headed.headers["etag"] == etag
    assert int(headed.headers["content-length"]) == len(first.content)
    headed = await api.client.head(library.feed_path, headers={"If-None-Match": etag})
    assert headed.status_code == 304

    again = await api.client.get(library.feed_path, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag and again.headers["last-modified"] == modified
    strong = etag.removeprefix("W/")
    listed = await api.client.get(library.feed_path, headers={"If-None-Match": f'"x", {strong}'})
    assert listed.status_code == 304
    since = await api.client.get(library.feed_path, headers={"If-Modified-Since": modified})
    assert since.status_code == 304
    earlier = format_datetime(parsedate_to_datetime(modified) - timedelta(hours=1), usegmt=True)
    assert (
        await api.client.get(library.feed_path, headers={"If-Modified-Since": earlier})
    ).status_code == 200
    # If-None-Match decides when both are sent.
    other = await api.client.get(
        library.feed_path, headers={"If-None-Match": 'W/"other"', "If-Modified-Since": modified}
    )
    assert other.status_code == 200

    renamed = await api.client.patch(
        f"/api/v1/podcasts/{library.older['id']}",
        headers=library.owner.headers,
        json={"title": "Renamed for the feed"},
    )
    assert renamed.status_code == 200, renamed.text
    changed = await api.client.get(library.feed_path, headers={"If-None-Match": etag})
    parsed = parse(changed)
    assert changed.headers["etag"] != etag
    assert parsedate_to_datetime(changed.headers["last-modified"]) >= parsedate_to_datetime(
        modified
    )
    assert "Renamed for the feed" in [entry.title for entry in parsed.entries]


async def test_token_is_shown_once_rotated_and_revoked(
    api: LiveApi, user: ApiUser, db: Database
) -> None:
    assert (await api.client.get(FEED)).status_code == 401
    none_yet = await api.client.get(FEED, headers=user.headers)
    assert none_yet.status_code == 404 and none_yet.json()["code"] == "NO_FEED"
    podcast = await completed_podcast(api, user)

    first = await new_feed(api, user)
    token = first.removeprefix("/feeds/").removesuffix(".xml")
    shown = await api.client.get(FEED, headers=user.headers)
    assert shown.status_code == 200, shown.text
    data = shown.json()["data"]
    assert token.startswith(data["prefix"]) and token not in shown.text
    assert data["urlHint"] == f"{api.base_url}/feeds/{data['prefix']}….xml"
    async with db.transaction() as session:
        row = await session.scalar(select(FeedToken).where(FeedToken.user_id == user.id))
    assert row is not None and token not in (row.token_hash, row.prefix)
    assert row.token_hash == apikeys.hash_key(token)

    parsed = parse(await api.client.get(first))
    audio = local(api, parsed.entries[0].enclosures[0].href)
    assert parsed.entries[0].id == podcast["id"]
    assert (await api.client.get(audio)).status_code == 200
    assert (await api.client.get(FEED, headers=user.headers)).json()["data"]["lastUsedAt"]

    rotated = await new_feed(api, user)
    assert rotated != first
    for dead in (first, audio):
        response = await api.client.get(dead)
        assert response.status_code == 404, dead
        assert response.json()["code"] == "NOT_FOUND"
    new_audio = local(api, parse(await api.client.get(rotated)).entries[0].enclosures[0].href)
    assert (await api.client.head(new_audio)).status_code == 200

    async with db.transaction() as session:  # a disabled user's feed stops too
        await session.execute(
            update(User).where(User.id == user.id).values(disabled_at=datetime.now(UTC))
        )
    assert (await api.client.get(rotated)).status_code == 404
    async with db.transaction() as session:
        await session.execute(update(User).where(User.id == user.id).values(disabled_at=None))
    assert (await api.client.get(rotated)).status_code == 200

    revoked = await api.client.delete(FEED, headers=user.headers)
    assert revoked.status_code == 200, revoked.text
    for dead in (rotated, new_audio, new_audio.removesuffix(".mp3") + ".vtt"):
        assert (await api.client.get(dead)).status_code == 404, dead
    assert (await api.client.get(FEED, headers=user.headers)).status_code == 404
    assert (await api.client.delete(FEED, headers=user.headers)).status_code == 404
    for junk in ("/feeds/nope.xml", f"/feeds/{token}", f"/feeds/{token}.rss", "/feeds/.xml"):
        assert (await api.client.get(junk)).status_code == 404, junk


async def test_republished_episode_keeps_its_guid_and_gets_a_new_enclosure(
    api: LiveApi, user: ApiUser, db: Database
) -> None:
    """A real re-render (one line edited through the API): while it runs the feed still
    lists the published version, whose enclosure still downloads; once published the
    same guid carries the new version's enclosure and the old address is gone."""
    podcast = await completed_podcast(api, user)
    path = await new_feed(api, user)
    (entry,) = parse(await api.client.get(path)).entries
    old_audio = local(api, entry.enclosures[0].href)
    assert old_audio.endswith(f"/{podcast['id']}/v1.mp3")
    original = (await api.client.get(old_audio)).content

    # The re-render's admitted state, as check_rerender writes it (PROCESSING, not
    # completed): the published version stays listed and downloadable meanwhile.
    async with db.transaction() as session:
        row = await session.get(Podcast, uuid.UUID(podcast["id"]))
        assert row is not None
        kept = (row.status, row.completed_at)
        row.status, row.completed_at = PodcastStatus.PROCESSING, None
    (during,) = parse(await api.client.get(path)).entries
    assert during.id == entry.id and during.enclosures[0].href == entry.enclosures[0].href
    assert (await api.client.get(old_audio)).content == original
    async with db.transaction() as session:
        row = await session.get(Podcast, uuid.UUID(podcast["id"]))
        assert row is not None
        row.status, row.completed_at = kept

    edited = await api.client.patch(
        f"/api/v1/podcasts/{podcast['id']}/script/lines/1",
        headers=user.headers,
        json={"text": "An edited line, said for the feed's sake."},
    )
    assert edited.status_code == 202, edited.text
    assert await wait_finished(api.client, user, podcast["id"]) == "COMPLETED"

    (entry_after,) = parse(await api.client.get(path)).entries
    assert entry_after.id == entry.id == podcast["id"]  # the same guid: the same episode
    enclosure = entry_after.enclosures[0]
    assert enclosure.href.endswith(f"/{podcast['id']}/v2.mp3")
    assert entry_after.podcast_transcript["url"].endswith("/v2.vtt")
    downloaded = await api.client.get(local(api, enclosure.href))
    assert downloaded.status_code == 200 and downloaded.content != original
    assert int(enclosure.length) == len(downloaded.content)
    # The first version's address is gone (a resumed download must not splice two files).
    assert (await api.client.get(old_audio)).status_code == 404
    assert (await api.client.get(old_audio.removesuffix(".mp3") + ".vtt")).status_code == 404


def test_feed_tokens_are_masked_in_logs() -> None:
    token = "pnf_" + "A" * 32
    line = redact_text(f"GET /feeds/{token}.xml and /feeds/{token}/x/v1.mp3")
    assert token not in line and "pnf_" not in line


async def test_cli_feed_show_rotate_revoke(api: LiveApi, user: ApiUser) -> None:
    env = env_for(api.base_url, user)
    code, stdout, _ = await podnex("feed", env=env)
    assert code == 0 and "No feed yet" in stdout, stdout
    code, stdout, stderr = await podnex("feed", "rotate", env=env)
    assert code == 0, stderr
    url = stdout.strip()
    assert url.startswith(f"{api.base_url}/feeds/pnf_") and url.endswith(".xml"), stdout
    assert "shown only now" in stderr
    parse(await api.client.get(local(api, url)))
    code, stdout, _ = await podnex("feed", "show", env=env)
    assert code == 0 and url[: len(f"{api.base_url}/feeds/pnf_") + 6] + "…" in stdout, stdout
    assert url not in stdout
    code, stdout, _ = await podnex("feed", "rotate", env=env)
    rotated = stdout.strip()
    assert code == 0 and rotated != url
    assert (await api.client.get(local(api, url))).status_code == 404
    assert (await api.client.get(local(api, rotated))).status_code == 200
    code, stdout, _ = await podnex("feed", "revoke", env=env)
    assert code == 0 and "revoked" in stdout
    assert (await api.client.get(local(api, rotated))).status_code == 404
    code, _, stderr = await podnex("feed", "revoke", env=env)
    assert code == 1 and "No feed to revoke" in stderr, stderr
