"""Speech through Unreal Speech's HTTP API (``POST /stream``), with httpx.

`/stream` takes up to 1,000 characters (``Text``) with a ``VoiceId``, ``Bitrate``,
``Speed`` (-1..1), ``Pitch`` (0.5..1.5) and ``Codec``, with ``Authorization: Bearer <key>``,
and answers with the MP3 itself (``audio/mpeg``), so one request is one piece of audio; a
longer line is cut at sentence boundaries (`split_text`) and the pieces' samples joined.
The MP3 is decoded and checked by `podnex.speech.decoding`.

There is no retry loop here: Temporal's retry policy is the only one. A 429 (the plan's
request rate: 2 a second on the free tier) is retried after the response's ``Retry-After``,
or after a second when it gives none; 408, 409 and 5xx are retried; any other status (a bad
key, an unknown voice, an exhausted character allowance) fails at once with Unreal Speech's
own message. The plan's request rate is also the engine's task-queue rate limit
(``UNREALSPEECH_REQUESTS_PER_SECOND``), so a podcast's lines do not trip it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence

import httpx

from podnex.speech.base import (
    SpeechAudio,
    SpeechError,
    Voice,
    checked_request,
    split_text,
    voice_names,
)
from podnex.speech.decoding import decoded_and_checked, speech_from_pcm
from podnex.speech.failures import plain_message, status_failure, transport_failure

PROVIDER = "Unreal Speech"
MAX_INPUT_CHARS = 1_000
"""Unreal Speech's limit on the text of one `/stream` request."""
RATE_LIMIT_WAIT_SECONDS = 1.0
"""How long a 429 without Retry-After waits: the plan's rate is counted per second."""

UNREAL_VOICES: tuple[Voice, ...] = (
    Voice("Dan", "Dan", "Dan: young male", "male", "American", ("host", "male")),
    Voice("Scarlett", "Scarlett", "Scarlett: young female", "female", "American",
          ("guest", "female")),
    Voice("Will", "Will", "Will: mature male", "male", "American"),
    Voice("Liv", "Liv", "Liv: young female", "female", "American"),
    Voice("Amy", "Amy", "Amy: mature female", "female", "American"),
    Voice("Noah", "Noah", "Noah: male", "male", "American"),
    Voice("Jasper", "Jasper", "Jasper: male", "male", "American"),
    Voice("Caleb", "Caleb", "Caleb: male", "male", "American"),
    Voice("Ronan", "Ronan", "Ronan: male", "male", "American"),
    Voice("Ethan", "Ethan", "Ethan: male", "male", "American"),
    Voice("Daniel", "Daniel", "Daniel: male", "male", "American"),
    Voice("Zane", "Zane", "Zane: male", "male", "American"),
    Voice("Autumn", "Autumn", "Autumn: female", "female", "American"),
    Voice("Melody", "Melody", "Melody: female", "female", "American"),
    Voice("Hannah", "Hannah", "Hannah: female", "female", "American"),
    Voice("Emily", "Emily", "Emily: female", "female", "American"),
    Voice("Ivy", "Ivy", "Ivy: female", "female", "American"),
    Voice("Kaitlyn", "Kaitlyn", "Kaitlyn: female", "female", "American"),
    Voice("Luna", "Luna", "Luna: female", "female", "American"),
    Voice("Willow", "Willow", "Willow: female", "female", "American"),
    Voice("Lauren", "Lauren", "Lauren: female", "female", "American"),
    Voice("Sierra", "Sierra", "Sierra: female", "female", "American"),
)  # fmt: skip
"""Unreal Speech's English voices: the first five (Dan, Scarlett, Will, Liv, Amy) and the
newer ones, by their `VoiceId`; roles are aliases."""


class UnrealSpeechEngine:
    """Speech engine for Unreal Speech (English).

    Voices by their ``VoiceId`` (``Scarlett``, ``Dan``...); ``host`` and ``male`` are Dan,
    ``guest`` and ``female`` Scarlett.
    """

    name = "unrealspeech"
    lines_at_once = 1  # its parallelism is in the speech activities

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        bitrate: str = "192k",
        speed: float = 0.0,
        pitch: float = 1.0,
        max_input_chars: int = MAX_INPUT_CHARS,
        requests_per_second: float | None = None,
        catalogue: Sequence[Voice] = UNREAL_VOICES,
    ) -> None:
        """``client`` carries the base URL, the bearer key and the timeout
        (`unrealspeech_client`). ``requests_per_second`` spaces this process's requests
        evenly (the task queue's rate limit bounds all workers together, but lets a burst
        through: it is a token bucket)."""
        self.client = client
        self.bitrate = bitrate
        self.speed = speed
        self.pitch = pitch
        self.max_input_chars = min(max_input_chars, MAX_INPUT_CHARS)
        self._catalogue = tuple(catalogue)
        self._voices: Mapping[str, str] = voice_names(self._catalogue)
        self._interval = 1.0 / requests_per_second if requests_per_second else 0.0
        self._next_start = 0.0
        self._pace = asyncio.Lock()

    def voices(self) -> Mapping[str, str]:
        return self._voices

    def catalogue(self) -> Sequence[Voice]:
        return self._catalogue

    async def synthesize(self, text: str, voice: str) -> SpeechAudio:
        voice_id = checked_request(self._voices, voice, text)
        pcm = bytearray()
        for piece in split_text(text, self.max_input_chars):
            pcm += await self._speak(piece, voice_id)
        return speech_from_pcm(bytes(pcm))

    async def _speak(self, text: str, voice_id: str) -> bytes:
        body = {
            "Text": text,
            "VoiceId": voice_id,
            "Bitrate": self.bitrate,
            "Speed": self.speed,
            "Pitch": self.pitch,
            "Codec": "libmp3lame",
        }
        await self._wait_for_turn()
        try:
            response = await self.client.post("/stream", json=body)
        except httpx.HTTPError as exc:
            raise transport_failure(PROVIDER, exc) from None
        if response.status_code != 200:
            raise describe_response(response)
        return await decoded_and_checked(response.content, "mp3", text)

    async def _wait_for_turn(self) -> None:
        """Start requests at least ``1 / requests_per_second`` apart in this process."""
        if not self._interval:
            return
        async with self._pace:
            now = time.monotonic()
            if self._next_start > now:
                await asyncio.sleep(self._next_start - now)
            self._next_start = max(now, self._next_start) + self._interval


def describe_response(response: httpx.Response) -> SpeechError:
    """An error response with Unreal Speech's own message (JSON ``message``, ``error`` or
    ``detail``, or short plain text)."""
    raw = response.text
    message = ""
    try:
        body = response.json()
    except ValueError:
        message = plain_message(raw)
    else:
        if isinstance(body, Mapping):
            found = body.get("message") or body.get("error") or body.get("detail") or ""
            message = found if isinstance(found, str) else str(found)
        elif isinstance(body, str):
            message = body
    return status_failure(
        PROVIDER,
        response.status_code,
        response.headers,
        message=message,
        raw=raw,
        url=str(response.request.url),
        default_retry_after=RATE_LIMIT_WAIT_SECONDS,
    )


def unrealspeech_client(api_key: str, base_url: str, timeout_seconds: float) -> httpx.AsyncClient:
    """An httpx client for Unreal Speech: its base URL, bearer auth and timeout."""
    return httpx.AsyncClient(
        base_url=base_url.rstrip("/"),
        headers={"Authorization": f"Bearer {api_key}"},
        timeout=timeout_seconds,
    )
