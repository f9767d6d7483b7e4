"""Listen while it is made (#15): the HLS playlist grows while the real worker speaks the
lines (slowed so it can be watched), ffmpeg plays it mid-way and at the end, and the whole
stream matches the published episode in length and loudness."""

from __future__ import annotations

import asyncio
import itertools
import re
import shutil
from pathlib import Path

import httpx
import numpy as np
import pytest
from temporalio.client import Client

from podnex.audio import FFMPEG_EXE, mp3_duration_seconds
from podnex.db import Database
from podnex.models import PodcastStatus
from podnex.settings import Settings
from tests.audio_analysis import integrated_lufs
from tests.conftest import ApiUser, LiveApi
from tests.integration.test_podcast_routes import (
    FINISHED,
    completed_podcast,
    create,
    set_status,
    slow_api,
)

pytestmark = pytest.mark.usefixtures("worker")

Entry = tuple[str, str]
"""A playlist entry: its `#EXTINF` duration and its chunk's file name."""


def entries(playlist: str) -> list[Entry]:
    lines = playlist.splitlines()
    found = []
    for index, line in enumerate(lines):
        if line.startswith("#EXTINF:"):
            found.append((line, lines[index + 1].split("?")[0].rsplit("/", 1)[-1]))
    return found


def listed_seconds(playlist: str) -> float:
    return sum(float(line[len("#EXTINF:") :].rstrip(",")) for line, _ in entries(playlist))


async def ffmpeg(*args: str) -> tuple[int, bytes, str]:
    """Run the bundled ffmpeg without blocking the loop the API under test is served on."""
    process = await asyncio.create_subprocess_exec(
        FFMPEG_EXE,
        "-hide_banner",
        "-nostdin",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    return process.returncode or 0, out, err.decode(errors="replace")


async def play(url: str, *, live: bool = False) -> tuple[np.ndarray, str]:
    """Decode the stream at ``url`` as a player would: 24 kHz mono samples and ffmpeg's log
    (a growing playlist: its first second, from its first chunk)."""
    start = ["-live_start_index", "0"] if live else []
    limit = ["-t", "1"] if live else []
    code, out, log = await ffmpeg(
        *("-protocol_whitelist", "file,http,tcp"),
        *start,
        "-i",
        url,
        *limit,
        *("-f", "s16le", "-ac", "1", "-ar", "24000", "-"),
    )
    assert code == 0, log[-3000:]
    return np.frombuffer(out, dtype="<i2").astype(np.float64) / 32768.0, log


async def stream_lufs(url: str) -> float:
    code, _, log = await ffmpeg(
        *("-protocol_whitelist", "file,http,tcp"), "-i", url, "-af", "ebur128", "-f", "null", "-"
    )
    assert code == 0, log[-3000:]
    return float(re.findall(r"I:\s+(-?\d+(?:\.\d+)?) LUFS", log)[-1])


async def get_playlist(client: httpx.AsyncClient, owner: ApiUser, podcast_id: str) -> str:
    response = await client.get(f"/api/v1/podcasts/{podcast_id}/stream.m3u8", headers=owner.headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/vnd.apple.mpegurl")
    assert "content-encoding" not in response.headers
    if "#EXT-X-ENDLIST" not in response.text:
        assert response.headers["cache-control"] == "no-store"
    return response.text


async def stream_link(client: httpx.AsyncClient, owner: ApiUser, podcast_id: str) -> str:
    response = await client.get(f"/api/v1/podcasts/{podcast_id}/stream", headers=owner.headers)
    assert response.status_code == 200, response.text
    return str(response.json()["data"]["url"])


async def test_playlist_grows_while_made_and_plays_as_the_episode(
    settings: Settings, temporal_client: Client, user: ApiUser, tmp_path: Path
) -> None:
    segments = tmp_path / "segments"
    async with slow_api(settings, temporal_client, delay=0.5) as client:
        podcast = await create(client, user)
        podcast_id = podcast["id"]
        kept = settings.resolved_storage_dir / "segments" / podcast_id
        seen: list[str] = []
        midway: str | None = None
        first_chunk: bytes | None = None
        status = "QUEUED"
        for _ in range(1200):
            state = await client.get(f"/api/v1/podcasts/{podcast_id}/status", headers=user.headers)
            status = state.json()["data"]["status"]
            if status in FINISHED:
                break
            playlist = await get_playlist(client, user, podcast_id)
            if status == "PROCESSING" and "#EXT-X-ENDLIST" not in playlist:
                seen.append(playlist)
                if midway is None and entries(playlist):
                    midway = playlist
                    # A player opens the growing playlist through the signed link.
                    samples, log = await play(
                        await stream_link(client, user, podcast_id), live=True
                    )
                    assert "Audio: mp3" in log and "24000 Hz" in log, log[-2000:]
                    assert samples.size > 0 and np.abs(samples).max() > 0.01
                    uri = next(line for line in playlist.splitlines() if line.endswith("/0.mp3"))
                    chunk = await client.get(f"/api/v1/podcasts/{podcast_id}/{uri}")
                    assert (
                        chunk.status_code == 200 and chunk.headers["content-type"] == "audio/mpeg"
                    )
                    first_chunk = chunk.content
            await asyncio.sleep(0.1)
        assert status == "COMPLETED", status
        assert midway is not None and first_chunk is not None, "never saw the playlist mid-way"

        # The playlist only grew: each one starts with the one before.
        listed = [entries(playlist) for playlist in seen]
        for before, after in itertools.pairwise(listed):
            assert after[: len(before)] == before
        assert len(listed[-1]) > len(entries(midway)) or len(listed) > 1

        final = (await client.get(f"/api/v1/podcasts/{podcast_id}", headers=user.headers)).json()
        download = await client.get(f"/api/v1/podcasts/{podcast_id}/download", headers=user.headers)
        episode = (await client.get(download.json()["data"]["url"])).content
        duration = mp3_duration_seconds(episode)
        assert abs(duration - final["data"]["audioDuration"]) < 0.01

        # Completed, its lines kept (segments live as long as the podcast): every chunk,
        # then the end.
        assert kept.is_dir()
        whole = await get_playlist(client, user, podcast_id)
        assert whole.rstrip().endswith("#EXT-X-ENDLIST")
        assert entries(whole)[: len(listed[-1])] == listed[-1]
        assert abs(listed_seconds(whole) - duration) < 0.5, (listed_seconds(whole), duration)
        link = await stream_link(client, user, podcast_id)
        samples, _ = await play(link)
        assert abs(samples.size / 24000 - duration) < 0.5, (samples.size / 24000, duration)
        first_uri = next(line for line in whole.splitlines() if line.endswith("/0.mp3"))
        again = await client.get(f"/api/v1/podcasts/{podcast_id}/{first_uri}")
        assert again.content == first_chunk  # a listed chunk never changes

        # Its lines removed (SEGMENT_RETENTION_DAYS after its last run): one segment, the
        # published episode.
        shutil.move(kept, segments)
        ended = await get_playlist(client, user, podcast_id)
        assert ended.rstrip().endswith("#EXT-X-ENDLIST") and len(entries(ended)) == 1
        assert abs(listed_seconds(ended) - duration) < 0.01
        samples, _ = await play(await stream_link(client, user, podcast_id))
        assert abs(samples.size / 24000 - duration) < 0.1
        shutil.move(segments, kept)

        streamed, published = await stream_lufs(link), integrated_lufs(episode)
        assert abs(streamed - published) < 1.0, (streamed, published)


async def test_stream_is_the_owners_and_links_are_checked(
    api: LiveApi, user: ApiUser, other_user: ApiUser, db: Database
) -> None:
    podcast = await completed_podcast(api, user)
    podcast_id = podcast["id"]
    client = api.client
    for path in ("stream.m3u8", "stream"):
        other = await client.get(
            f"/api/v1/podcasts/{podcast_id}/{path}", headers=other_user.headers
        )
        assert other.status_code == 404, other.text
        keyless = await client.get(f"/api/v1/podcasts/{podcast_id}/{path}")
        assert keyless.status_code == 401, keyless.text

    link = await stream_link(client, user, podcast_id)
    assert (await client.get(link)).status_code == 200
    forged = re.sub(r"/stream/(\d+)\.[^/]+/", r"/stream/\1.forged/", link)
    refused = await client.get(forged)
    assert refused.status_code == 403 and refused.json()["code"] == "LINK_INVALID"
    unicode_digit = re.sub(r"/stream/[^/]+/", "/stream/%C2%B9/", link)  # "¹", a digit to isdigit
    refused = await client.get(unicode_digit)
    assert refused.status_code == 403 and refused.json()["code"] == "LINK_INVALID"
    expired = re.sub(r"/stream/(\d+)\.", "/stream/1.", link)
    assert (await client.get(expired)).status_code == 403
    elsewhere = link.replace(podcast_id, "00000000-0000-4000-8000-000000000000")
    assert (await client.get(elsewhere)).status_code == 403
    beyond = await client.get(link.replace("index.m3u8", "999.mp3"))
    assert beyond.status_code == 404 and beyond.json()["code"] == "CHUNK_NOT_READY"
    assert (await client.get(link.replace("index.m3u8", "other.txt"))).status_code == 404

    await set_status(db, podcast_id, PodcastStatus.FAILED)
    failed = await client.get(f"/api/v1/podcasts/{podcast_id}/stream.m3u8", headers=user.headers)
    assert failed.status_code == 409 and failed.json()["code"] == "PODCAST_FAILED"
    assert (await client.get(link)).status_code == 409
    await set_status(db, podcast_id, PodcastStatus.CANCELLED)
    cancelled = await client.get(f"/api/v1/podcasts/{podcast_id}/stream", headers=user.headers)
    assert cancelled.status_code == 409 and cancelled.json()["code"] == "PODCAST_CANCELLED"
