"""Listen while it is made (#15): a podcast's HLS playlist and its chunks, from storage.

The workflow is untouched: each spoken line is already stored at its content-addressed
key (`podnex.storage.keys.segment_key`) and the script with the podcast, so the API sees
which lines are done, in order, and mixes the finished prefix itself, chunk by chunk
(`podnex.streaming` plans them, `podnex.audio.encode_chunk` mixes them as the episode is
mixed). The final MP3 is made as before and cannot change.

- Playlist: an HLS EVENT playlist of the chunks whose lines are all spoken, in order; it
  only grows and gets `#EXT-X-ENDLIST` when the podcast is COMPLETED. A completed podcast
  whose line audio is no longer stored (work files removed after publishing) is served as
  a finished playlist of one segment, the published MP3 itself.
- Chunk: raw MP3 frames with an ID3 timestamp, encoded once and cached in storage under
  the podcast's work prefix (`work/<id>/stream/<digest>.mp3`).
- Players send no API key: the playlist's chunk URIs (and the signed playlist link) carry a
  token, an HMAC of the podcast id and an expiry (`podnex.storage.signing`).

What is known of each spoken line (its rate and length, from its WAV header) is kept in
this process, by run: lines never change within a run.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from api.errors import ApiError
from api.state import AppState
from podnex import pacing, podcasts
from podnex.audio import LineAudio, encode_chunk
from podnex.models import Podcast
from podnex.script.types import ScriptLine
from podnex.speakable import speakable
from podnex.storage import ObjectNotFound, StorageError
from podnex.storage.keys import segment_key, work_prefix
from podnex.storage.signing import sign, verify
from podnex.streaming import (
    FORMAT_VERSION,
    Chunk,
    LineSound,
    chunk_groups,
    plan_chunks,
    render_playlist,
    render_single,
    target_seconds,
    timestamp_tag,
    wav_sound,
)
from podnex.vocabulary import PodcastStatus

HEADER_BYTES = 4096
"""Bytes of a line's WAV read to learn its length."""
PROBE_BATCH = 8
"""Lines whose storage is asked at once when looking for the next ones done."""
KNOWN_LINES = 50_000
"""Lines whose length this process remembers (least recently used go first)."""
ENCODERS = threading.BoundedSemaphore(2)
"""Chunks encoded at once by this API process (each is a few ffmpeg runs)."""
TOKEN_PURPOSE = "stream"

_known: OrderedDict[str, LineSound] = OrderedDict()
_known_lock = threading.Lock()


@dataclass(frozen=True)
class Layout:
    """A podcast's script as the stream sees it: texts, chunks, pauses, segment keys."""

    lines: list[ScriptLine]
    groups: list[range]
    pauses: list[int]
    keys: list[str]

    @property
    def texts(self) -> list[str]:
        return [line.text for line in self.lines]


@dataclass(frozen=True)
class Playlist:
    text: str
    ended: bool


@dataclass(frozen=True)
class StreamLink:
    url: str
    expires_at: datetime


def _remember(name: str, sound: LineSound) -> None:
    with _known_lock:
        _known[name] = sound
        _known.move_to_end(name)
        while len(_known) > KNOWN_LINES:
            _known.popitem(last=False)


def _recall(name: str) -> LineSound | None:
    with _known_lock:
        found = _known.get(name)
        if found is not None:
            _known.move_to_end(name)
        return found


class StreamService:
    """The stream's use cases; ownership is checked by the caller (`PodcastService.get`)
    for keyed routes, by the token for signed ones."""

    def __init__(self, state: AppState) -> None:
        self.state = state

    # -- tokens -------------------------------------------------------------------------------

    def token(self, podcast_id: str, now: float) -> tuple[str, datetime]:
        """A path-safe credential for the podcast's stream: ``<expires>.<signature>``.

        The expiry is rounded up to a whole ``DOWNLOAD_URL_TTL_SECONDS`` period (valid for one
        to two periods), so the playlist's chunk URIs stay the same from one reload to the
        next for a long while."""
        ttl = self.state.settings.download_url_ttl_seconds
        expires = (int(now) // ttl + 2) * ttl
        signature = sign(self.state.secret_key, f"{TOKEN_PURPOSE}:{podcast_id}", expires)
        return f"{expires}.{signature}", datetime.fromtimestamp(expires, UTC)

    def check_token(self, podcast_id: str, token: str, now: float) -> None:
        expires, _, signature = token.partition(".")
        if (
            # ASCII digits only: str.isdigit() admits "¹" and the like, which int() refuses.
            not (expires.isascii() and expires.isdigit())
            or len(expires) > 12
            or not verify(
                self.state.secret_key,
                f"{TOKEN_PURPOSE}:{podcast_id}",
                int(expires),
                signature,
                now,
            )
        ):
            raise ApiError(403, "Link invalid or expired", code="LINK_INVALID")

    def link(self, podcast_id: str, base_url: str, now: float) -> StreamLink:
        """The signed playlist URL a player opens without an API key."""
        token, expires_at = self.token(podcast_id, now)
        base = self.state.public_base(base_url)
        return StreamLink(
            url=f"{base}/api/v1/podcasts/{podcast_id}/stream/{token}/index.m3u8",
            expires_at=expires_at,
        )

    async def podcast(self, podcast_id: str) -> Podcast:
        """A podcast that exists and is not deleted (signed routes: the token is checked)."""
        parsed = podcasts.parse_id(podcast_id)
        found = None
        if parsed is not None:
            async with self.state.db.transaction() as session:
                found = await session.get(Podcast, parsed)
        if found is None or found.deleted_at is not None:
            raise ApiError(404, "Podcast not found")
        return found

    # -- playlist -----------------------------------------------------------------------------

    async def playlist(
        self, podcast: Podcast, *, uri: Callable[[int], str], base_url: str
    ) -> Playlist:
        """The playlist as it stands: the chunks ready so far, ended once COMPLETED."""
        self.require_streamable(podcast)
        layout = self._layout(podcast)
        completed = podcast.status is PodcastStatus.COMPLETED
        if layout is None:
            if completed:
                return self._single(podcast, base_url)
            return Playlist(render_playlist([], target=10, ended=False, uri=uri), ended=False)
        chunks = await self._chunks(podcast, layout)
        if completed and (len(chunks) < len(layout.groups) or not await self._kept(layout)):
            return self._single(podcast, base_url)
        target = target_seconds(layout.groups, layout.texts, layout.pauses, chunks)
        text = render_playlist(chunks, target=target, ended=completed, uri=uri)
        return Playlist(text, ended=completed)

    def _single(self, podcast: Podcast, base_url: str) -> Playlist:
        if not podcast.audio_key or podcast.audio_duration is None:
            raise ApiError(404, "Audio not available yet", code="AUDIO_NOT_READY")
        link = self.state.audio_link(podcast.audio_key, base_url)
        return Playlist(render_single(podcast.audio_duration, link.url), ended=True)

    # -- chunk --------------------------------------------------------------------------------

    async def chunk(self, podcast: Podcast, index: int) -> bytes:
        """Chunk ``index`` (404 until it is listed): cached, or mixed now and cached."""
        self.require_streamable(podcast)
        layout = self._layout(podcast)
        chunks = await self._chunks(podcast, layout) if layout is not None else []
        if layout is None or index >= len(chunks):
            raise ApiError(404, "This part of the stream is not ready", code="CHUNK_NOT_READY")
        chunk = chunks[index]
        storage = self.state.storage
        key = self._cache_key(podcast, layout, chunk)
        try:
            return await storage.get(key)
        except ObjectNotFound:
            pass
        try:
            wavs = await asyncio.gather(*(storage.get(layout.keys[p.line]) for p in chunk.placed))
        except (ObjectNotFound, StorageError) as exc:
            raise ApiError(
                404, "This part of the stream is no longer stored", code="CHUNK_GONE"
            ) from exc
        placed = [
            (p.offset, LineAudio(layout.lines[p.line].speaker, wav))
            for p, wav in zip(chunk.placed, wavs, strict=True)
        ]
        body = timestamp_tag(chunk.start) + await asyncio.to_thread(_encode, chunk, placed)
        with contextlib.suppress(StorageError):  # served all the same; mixed again next time
            await storage.put(key, body, content_type="audio/mpeg")
        return body

    # -- helpers ------------------------------------------------------------------------------

    @staticmethod
    def require_streamable(podcast: Podcast) -> None:
        if podcast.status is PodcastStatus.FAILED:
            raise ApiError(
                409, "The podcast failed: there is nothing to play", code="PODCAST_FAILED"
            )
        if podcast.status is PodcastStatus.CANCELLED:
            raise ApiError(
                409, "The podcast was cancelled: there is nothing to play", code="PODCAST_CANCELLED"
            )

    def _layout(self, podcast: Podcast) -> Layout | None:
        lines = podcasts.script_of(podcast)
        if not lines:
            return None
        spec = podcasts.spec_of(podcast)
        engine = self.state.engines.get(spec.tts_provider)
        provider = engine.name if engine is not None else spec.tts_provider
        keys = [
            segment_key(
                str(podcast.id),
                provider,
                spec.voice_of(line.speaker),
                speakable(line.text, spec.language),
            )
            for line in lines
        ]
        return Layout(
            lines=lines,
            groups=chunk_groups([line.text for line in lines]),
            pauses=pacing.pauses(lines),
            keys=keys,
        )

    async def _chunks(self, podcast: Podcast, layout: Layout) -> list[Chunk]:
        sounds = await self._spoken(podcast, layout.keys)
        return plan_chunks(layout.groups, layout.pauses, sounds)

    async def _spoken(self, podcast: Podcast, keys: Sequence[str]) -> list[LineSound]:
        """The lengths of the lines spoken so far, in order, up to the first one missing."""
        run = f"{podcast.id}/{podcast.retry_count}/"
        sounds: list[LineSound] = []
        for key in keys:
            known = _recall(run + key)
            if known is None:
                break
            sounds.append(known)
        while len(sounds) < len(keys):
            batch = keys[len(sounds) : len(sounds) + PROBE_BATCH]
            found = await asyncio.gather(*(self._probe(key) for key in batch))
            for key, sound in zip(batch, found, strict=True):
                if sound is None:
                    return sounds
                _remember(run + key, sound)
                sounds.append(sound)
        return sounds

    async def _kept(self, layout: Layout) -> bool:
        """Whether the lines' audio is still stored (this process may remember lines whose
        audio was removed after publishing)."""
        storage = self.state.storage
        try:
            return await storage.exists(layout.keys[0]) and await storage.exists(layout.keys[-1])
        except StorageError:
            return False

    async def _probe(self, key: str) -> LineSound | None:
        storage = self.state.storage
        try:
            stored = await storage.stat(key)
            header = await storage.read_range(key, 0, min(HEADER_BYTES, stored.size))
            return wav_sound(header, stored.size)
        except (ObjectNotFound, StorageError, ValueError):
            return None

    @staticmethod
    def _cache_key(podcast: Podcast, layout: Layout, chunk: Chunk) -> str:
        described = json.dumps(
            [
                FORMAT_VERSION,
                podcast.retry_count,
                chunk.index,
                chunk.start,
                chunk.end,
                chunk.input_samples,
                chunk.mix_rate,
                chunk.window,
                [[layout.keys[p.line], p.offset] for p in chunk.placed],
            ]
        )
        digest = hashlib.sha256(described.encode()).hexdigest()[:40]
        return f"{work_prefix(str(podcast.id))}stream/{digest}.mp3"


def _encode(chunk: Chunk, placed: list[tuple[int, LineAudio]]) -> bytes:
    with ENCODERS:
        return encode_chunk(
            placed,
            window=chunk.window,
            mix_rate=chunk.mix_rate,
            output_samples=chunk.input_samples,
        )
