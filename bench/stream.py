"""Phase 5, listen while it is made (#15): how soon a LONG episode starts to play.

With the cloud-like engine, a LONG podcast is posted and its playlist
(`GET /api/v1/podcasts/{id}/stream.m3u8`) polled every 0.1 s from the 201 on, as a player
waiting to start would: the time until it lists 30 s of audio, and until those chunks are
fetched (each mixed on its first request). Then it is followed as a player follows a
growing playlist (reloaded every 2 s, each new chunk fetched) until COMPLETED. The same
notes are then made again with nobody listening, and the two published MP3s compared byte
for byte: streaming only reads what the run stores, so the episode cannot change. (The
engine is `RepeatableCloudEngine`: the cloud-like latency on every call, and the same
audio for the same line in both runs, since espeak-ng's own output varies a little.)
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.stack import Stack
from podnex.audio import FFMPEG_EXE

WANTED_SECONDS = 30.0
POLL_SECONDS = 0.1
FOLLOW_SECONDS = 2.0


def _listed(playlist: str) -> list[tuple[float, str]]:
    lines = playlist.splitlines()
    return [
        (float(line[len("#EXTINF:") :].rstrip(",")), lines[index + 1])
        for index, line in enumerate(lines)
        if line.startswith("#EXTINF:")
    ]


async def _status(http: httpx.AsyncClient, headers: dict[str, str], podcast_id: str) -> str:
    response = await http.get(f"/api/v1/podcasts/{podcast_id}/status", headers=headers)
    return str(response.json()["data"]["status"])


async def _episode(http: httpx.AsyncClient, headers: dict[str, str], podcast_id: str) -> bytes:
    link = await http.get(f"/api/v1/podcasts/{podcast_id}/download", headers=headers)
    return (await http.get(link.json()["data"]["url"])).content


async def _post(http: httpx.AsyncClient, headers: dict[str, str], notes: str) -> tuple[str, float]:
    response = await http.post(
        "/api/v1/podcasts", headers=headers, json={"noteContent": notes, "duration": "LONG"}
    )
    admitted = time.perf_counter()
    if response.status_code != 201:
        raise RuntimeError(f"POST /podcasts answered {response.status_code}: {response.text}")
    return str(response.json()["data"]["id"]), admitted


async def _wait(http: httpx.AsyncClient, headers: dict[str, str], podcast_id: str) -> str:
    for _ in range(4 * 900):
        status = await _status(http, headers, podcast_id)
        if status in ("COMPLETED", "FAILED", "CANCELLED"):
            return status
        await asyncio.sleep(0.25)
    raise TimeoutError(f"{podcast_id} did not finish in 15 minutes")


async def listened_run(stack: Stack, key: str, notes: str) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=120) as http:
        podcast_id, admitted = await _post(http, headers, notes)
        base = f"/api/v1/podcasts/{podcast_id}/"
        first_chunk = listed_30 = playable_30 = None
        fetched: dict[str, bytes] = {}
        playlist = ""
        while listed_30 is None:
            response = await http.get(f"{base}stream.m3u8", headers=headers)
            playlist = response.text
            entries = _listed(playlist)
            if entries and first_chunk is None:
                first_chunk = time.perf_counter() - admitted
            if sum(seconds for seconds, _ in entries) >= WANTED_SECONDS:
                listed_30 = time.perf_counter() - admitted
                break
            if time.perf_counter() - admitted > 300:
                raise TimeoutError("the playlist did not reach 30 s in 5 minutes")
            await asyncio.sleep(POLL_SECONDS)
        covered = 0.0
        for seconds, uri in _listed(playlist):
            if covered >= WANTED_SECONDS:
                break
            chunk = await http.get(base + uri)
            chunk.raise_for_status()
            fetched[uri.rsplit("/", 1)[-1]] = chunk.content
            covered += seconds
        playable_30 = time.perf_counter() - admitted
        # Follow it as a player does until the episode is published.
        chunk_seconds: list[float] = []
        while True:
            status = await _status(http, headers, podcast_id)
            response = await http.get(f"{base}stream.m3u8", headers=headers)
            for _, uri in _listed(response.text):
                name = uri.rsplit("/", 1)[-1]
                if name not in fetched and "#EXT-X-PLAYLIST-TYPE:EVENT" in response.text:
                    started = time.perf_counter()
                    chunk = await http.get(base + uri)
                    if chunk.status_code == 200:
                        fetched[name] = chunk.content
                        chunk_seconds.append(time.perf_counter() - started)
            if status in ("COMPLETED", "FAILED", "CANCELLED"):
                break
            await asyncio.sleep(FOLLOW_SECONDS)
        completed = time.perf_counter() - admitted
        if status != "COMPLETED":
            raise RuntimeError(f"the listened podcast ended {status}")
        episode = await _episode(http, headers, podcast_id)
    names = sorted(fetched, key=lambda name: int(name.split(".")[0]))
    return {
        "podcast": podcast_id,
        "first_chunk_s": first_chunk,
        "listed_30s_s": listed_30,
        "playable_30s_s": playable_30,
        "completed_s": completed,
        "chunks_fetched": len(fetched),
        "chunk_fetch_s": sorted(chunk_seconds),
        "episode": episode,
        "streamed": b"".join(fetched[name] for name in names),
    }


async def unlistened_run(stack: Stack, key: str, notes: str) -> bytes:
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=120) as http:
        podcast_id, _ = await _post(http, headers, notes)
        status = await _wait(http, headers, podcast_id)
        if status != "COMPLETED":
            raise RuntimeError(f"the unlistened podcast ended {status}")
        return await _episode(http, headers, podcast_id)


MEASURE = ("-af", "ebur128", "-f", "null", "-")


def _lufs(data: bytes) -> float:
    with tempfile.NamedTemporaryFile(suffix=".mp3") as handle:
        Path(handle.name).write_bytes(data)
        result = subprocess.run(
            [FFMPEG_EXE, "-hide_banner", "-nostats", "-i", handle.name, *MEASURE],
            capture_output=True,
            text=True,
            check=True,
        )
    return float(re.findall(r"I:\s+(-?\d+(?:\.\d+)?) LUFS", result.stderr)[-1])


def bench_stream(stack: Stack, key: str, notes: str) -> dict[str, Any]:
    """The phase: one LONG podcast listened to while made, one not; the cloud-like engine."""
    stack.start_worker("cloud-repeatable")
    listened = asyncio.run(listened_run(stack, key, notes))
    unlistened = asyncio.run(unlistened_run(stack, key, notes))
    episode: bytes = listened.pop("episode")
    streamed: bytes = listened.pop("streamed")
    return {
        **listened,
        "episode_bytes": len(episode),
        "episode_sha256": hashlib.sha256(episode).hexdigest(),
        "unlistened_sha256": hashlib.sha256(unlistened).hexdigest(),
        "identical": episode == unlistened,
        "episode_lufs": _lufs(episode),
        "streamed_lufs": _lufs(streamed),
    }
