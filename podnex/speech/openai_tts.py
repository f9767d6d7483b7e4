"""Speech through the OpenAI speech API (``audio.speech.create``) or a compatible server.

A line longer than the provider's input limit (4,096 characters for OpenAI) is cut at
sentence boundaries (`split_text`), each piece is spoken with the same voice, and the
pieces' samples are joined into one WAV. Whatever the provider returns (WAV or MP3) is
decoded and checked by `podnex.speech.decoding` (16-bit mono PCM at `SAMPLE_RATE`;
empty, undecodable, truncated or silent audio is a retryable :class:`SpeechError`).
Provider failures keep the provider's message: rate limits and server errors are
retryable (with the provider's Retry-After), refusals are not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Literal

import openai

from podnex.openai_api import describe_failure
from podnex.speech.base import SpeechAudio, SpeechError, Voice, checked_request, split_text
from podnex.speech.decoding import SAMPLE_RATE, decoded_and_checked, speech_from_pcm

__all__ = ["SAMPLE_RATE", "OpenAISpeechEngine"]

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

MAX_INPUT_CHARS = 4096
"""OpenAI's limit on the text of one speech request."""

ResponseFormat = Literal["wav", "mp3"]


class OpenAISpeechEngine:
    """Speech engine for the OpenAI speech API and servers compatible with it.

    Voices: ``host``/``male`` speak with ``onyx``, ``guest``/``female`` with ``nova``,
    and every built-in OpenAI voice is also accepted by its own name. A request's
    language needs no setting: the voices speak the language of the text they get.
    """

    name = "openai"
    lines_at_once = 1  # its parallelism is in the speech activities

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
        voice_id = checked_request(self._voices, voice, text)
        pcm = bytearray()
        for piece in split_text(text, self.max_input_chars):
            pcm += await self._speak(piece, voice_id)
        return speech_from_pcm(bytes(pcm))

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
        return await decoded_and_checked(response.content, self.response_format, text)
