"""Speech through the OpenAI speech API (``audio.speech.create``) or a compatible server.

A line longer than the provider's input limit (4,096 characters for OpenAI) is cut at
sentence boundaries (`split_text`), each piece is spoken with the same voice, and the
pieces' samples are joined into one WAV. Whatever the provider returns (WAV or MP3) is
decoded by the bundled ffmpeg to 16-bit mono PCM at `SAMPLE_RATE`, so the combine step
gets the same kind of WAV from every engine.

Audio is checked before it is accepted: an empty body, bytes ffmpeg cannot decode, audio
far too short for its text (a truncated download) or silence raise a retryable
:class:`SpeechError`, so a bad response is fetched again instead of ending up as a gap
in the podcast. Provider failures keep the provider's message: rate limits and server
errors are retryable (with the provider's Retry-After), refusals are not.
"""

from __future__ import annotations

import array
import asyncio
import subprocess
import sys
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Literal

import imageio_ffmpeg
import openai

from podnex.openai_api import describe_failure
from podnex.speech.base import SpeechAudio, SpeechError, Voice, pcm_to_wav, split_text

OPENAI_VOICES = (
    "alloy",
    "ash",
    "ballad",
    "cedar",
    "coral",
    "echo",
    "fable",
    "marin",
    "nova",
    "onyx",
    "sage",
    "shimmer",
    "verse",
)
"""The built-in voices of OpenAI's speech API, accepted under their own names."""

ROLE_VOICES: Mapping[str, str] = MappingProxyType(
    {"host": "onyx", "guest": "nova", "male": "onyx", "female": "nova"}
)
"""podnex's role names and the OpenAI voices they stand for (a male and a female voice)."""

SAMPLE_RATE = 24_000
"""Rate every provider response is decoded to (OpenAI's native rate)."""

MAX_INPUT_CHARS = 4096
"""OpenAI's limit on the text of one speech request."""

_SAMPLE_WIDTH_BYTES = 2
_MIN_SECONDS = 0.15
_MIN_SECONDS_PER_WORD = 0.1
"""Audio shorter than this per word (600 words a minute) is taken as truncated."""
_MIN_SECONDS_PER_CHAR = 0.01
_SILENCE_PEAK = 32
"""A peak sample below this (about -60 dBFS) means the audio is silent."""

ResponseFormat = Literal["wav", "mp3"]


class OpenAISpeechEngine:
    """Speech engine for the OpenAI speech API and servers compatible with it.

    Voices: ``host``/``male`` speak with ``onyx``, ``guest``/``female`` with ``nova``,
    and every built-in OpenAI voice is also accepted by its own name. A request's
    language needs no setting: the voices speak the language of the text they get.
    """

    name = "openai"

    def __init__(
        self,
        client: openai.AsyncOpenAI,
        *,
        model: str,
        response_format: ResponseFormat = "wav",
        max_input_chars: int = MAX_INPUT_CHARS,
        voices: Mapping[str, str] | None = None,
    ) -> None:
        self.client = client
        self.model = model
        self.response_format = response_format
        self.max_input_chars = max_input_chars
        self._voices: Mapping[str, str] = MappingProxyType(
            dict(voices)
            if voices is not None
            else {**{voice: voice for voice in OPENAI_VOICES}, **ROLE_VOICES}
        )

    def voices(self) -> Mapping[str, str]:
        """Map the public voice names to the provider's voice names."""
        return self._voices

    def catalogue(self) -> Sequence[Voice]:
        """Each provider voice under its own name, with podnex's role names as aliases."""
        aliases: dict[str, list[str]] = {}
        for role, voice in ROLE_VOICES.items():
            aliases.setdefault(voice, []).append(role)
        return [
            Voice(
                name,
                engine_id,
                f"{self.name} voice {engine_id!r}",
                aliases=tuple(role for role in aliases.get(name, []) if role in self._voices),
            )
            for name, engine_id in self._voices.items()
            if name not in ROLE_VOICES
        ]

    async def synthesize(self, text: str, voice: str) -> SpeechAudio:
        """Speak ``text`` with ``voice``, in pieces when it exceeds the input limit."""
        voice_id = self._voices.get(voice)
        if voice_id is None:
            raise SpeechError(
                f"unknown voice {voice!r}; expected one of {sorted(self._voices)}",
                retryable=False,
            )
        if not text.strip():
            raise SpeechError("nothing to say: the text is empty", retryable=False)
        pcm = bytearray()
        for piece in split_text(text, self.max_input_chars):
            pcm += await self._speak(piece, voice_id)
        frames = len(pcm) // _SAMPLE_WIDTH_BYTES
        return SpeechAudio(
            wav=pcm_to_wav(bytes(pcm), SAMPLE_RATE),
            sample_rate=SAMPLE_RATE,
            duration_seconds=frames / SAMPLE_RATE,
        )

    async def _speak(self, text: str, voice_id: str) -> bytes:
        """One request: the checked audio of ``text`` as native-order 16-bit mono PCM."""
        try:
            response = await self.client.audio.speech.create(
                model=self.model,
                voice=voice_id,
                input=text,
                response_format=self.response_format,
            )
        except openai.OpenAIError as exc:
            # The message carries the status and the provider's words; without the SDK's
            # exception as its cause it is also what the failed podcast reports.
            failure = describe_failure(exc, "speech synthesis")
            raise SpeechError(
                failure.message, retryable=failure.retryable, retry_after=failure.retry_after
            ) from None
        data = response.content
        if not data:
            raise SpeechError("the provider returned empty audio", retryable=True)
        pcm = await asyncio.to_thread(decode_to_pcm, data, self.response_format)
        check_audio(pcm, text)
        return pcm


def decode_to_pcm(data: bytes, fmt: ResponseFormat) -> bytes:
    """Decode WAV or MP3 bytes to native-order 16-bit mono PCM at `SAMPLE_RATE`.

    Uses the ffmpeg binary bundled by ``imageio-ffmpeg``; undecodable input raises a
    retryable :class:`SpeechError`.
    """
    result = subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-hide_banner",
            "-nostats",
            "-loglevel",
            "error",
            "-f",
            fmt,
            "-i",
            "pipe:0",
            "-f",
            "s16le" if sys.byteorder == "little" else "s16be",
            "-ac",
            "1",
            "-ar",
            str(SAMPLE_RATE),
            "pipe:1",
        ],
        input=data,
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        detail = result.stderr.decode(errors="replace").strip()[-300:]
        raise SpeechError(
            f"the provider returned {fmt} audio that cannot be decoded: {detail}", retryable=True
        )
    return result.stdout


def check_audio(pcm: bytes, text: str) -> None:
    """Refuse audio that is empty, silent or too short for ``text`` (a truncated response)."""
    seconds = len(pcm) // _SAMPLE_WIDTH_BYTES / SAMPLE_RATE
    if seconds == 0:
        raise SpeechError("the provider returned audio with no samples", retryable=True)
    expected = expected_min_seconds(text)
    if seconds < expected:
        raise SpeechError(
            f"the provider returned {seconds:.2f} s of audio for {len(text.split())} words "
            f"(at least {expected:.2f} s expected): truncated",
            retryable=True,
        )
    samples = array.array("h", pcm[: len(pcm) - len(pcm) % _SAMPLE_WIDTH_BYTES])
    if max(max(samples), -min(samples)) < _SILENCE_PEAK:
        raise SpeechError("the provider returned silent audio", retryable=True)


def expected_min_seconds(text: str) -> float:
    """The shortest audio `check_audio` accepts for ``text``, in seconds."""
    return max(
        _MIN_SECONDS,
        _MIN_SECONDS_PER_WORD * len(text.split()),
        _MIN_SECONDS_PER_CHAR * len(text),
    )
