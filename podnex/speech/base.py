"""What every speech engine offers: synthesised audio, its errors and the engine protocol."""

from __future__ import annotations

import array
import io
import re
import sys
import wave
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Protocol


@dataclass(frozen=True)
class SpeechAudio:
    """One synthesised utterance.

    ``wav`` is a complete RIFF WAV file (16-bit PCM, mono) at ``sample_rate`` Hz, lasting
    ``duration_seconds``.
    """

    wav: bytes
    sample_rate: int
    duration_seconds: float


class SpeechError(Exception):
    """Speech synthesis failed.

    ``retryable`` tells the caller whether trying the same request again may succeed
    (a transient failure) or is pointless (a bad voice, a broken engine).
    ``retry_after`` is the wait in seconds a provider asked for (a 429's Retry-After).
    """

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle with the keyword arguments too (espeak's pool processes raise it)."""
        return (_speech_error, (str(self), self.retryable, self.retry_after))


def _speech_error(message: str, retryable: bool, retry_after: float | None) -> SpeechError:
    return SpeechError(message, retryable=retryable, retry_after=retry_after)


@dataclass(frozen=True)
class Voice:
    """One voice of an engine's catalogue, as a listener would tell it apart.

    ``name`` is what a request asks for (``hostVoice``); ``aliases`` are other names of the
    same voice (``host``, ``male``); ``engine_id`` is the engine's own name for it.
    """

    name: str
    engine_id: str
    description: str
    gender: str | None = None
    accent: str | None = None
    aliases: tuple[str, ...] = ()


def voice_names(catalogue: Sequence[Voice]) -> Mapping[str, str]:
    """Every name a request may use (names and aliases), mapped to the engine's voice id."""
    names: dict[str, str] = {}
    for voice in catalogue:
        for name in (voice.name, *voice.aliases):
            names[name] = voice.engine_id
    return MappingProxyType(names)


def checked_request(voices: Mapping[str, str], voice: str, text: str) -> str:
    """The engine's id of ``voice`` for speaking ``text``; a non-retryable
    :class:`SpeechError` for an unknown voice or empty text (every engine's first check)."""
    voice_id = voices.get(voice)
    if voice_id is None:
        raise SpeechError(
            f"unknown voice {voice!r}; expected one of {sorted(voices)}", retryable=False
        )
    if not text.strip():
        raise SpeechError("nothing to say: the text is empty", retryable=False)
    return voice_id


class SpeechEngine(Protocol):
    """A text-to-speech engine that speaks with a fixed set of named voices.

    ``lines_at_once``: how many lines of a speech activity it speaks at a time (espeak-ng:
    its processes; a cloud engine: 1, its parallelism is in the activities).
    """

    name: str
    lines_at_once: int

    def voices(self) -> Mapping[str, str]:
        """Map each public voice name (such as ``"host"``) to the engine's own voice id."""
        ...

    def catalogue(self) -> Sequence[Voice]:
        """The engine's voices, described (``voices`` maps their names and aliases)."""
        ...

    async def synthesize(self, text: str, voice: str) -> SpeechAudio:
        """Speak ``text`` with the public voice ``voice``.

        Raises :class:`SpeechError` on failure; an unknown voice is not retryable.
        """
        ...


_BREAKS = (
    re.compile(r"[.!?\u2026][\"'\u201d\u2019)\]]*\s+"),
    re.compile(r"[,;:\u2013\u2014]\s+"),
    re.compile(r"\s+"),
)
"""Where a long text may be cut, best first: sentence ends, clause breaks, spaces."""


def split_text(text: str, max_chars: int) -> list[str]:
    """Cut ``text`` into pieces of at most ``max_chars`` characters for a provider's limit.

    Cuts fall after the last sentence end that fits, else the last clause break, else the
    last space, else at ``max_chars``. Pieces are stripped; text that fits is one piece.
    """
    if max_chars < 1:
        raise ValueError("max_chars must be positive")
    pieces: list[str] = []
    rest = text.strip()
    while len(rest) > max_chars:
        window = rest[: max_chars + 1]
        cut = max_chars
        for pattern in _BREAKS:
            ends = [match.end() for match in pattern.finditer(window) if match.start() > 0]
            fitting = [end for end in ends if len(rest[:end].rstrip()) <= max_chars]
            if fitting:
                cut = fitting[-1]
                break
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        pieces.append(rest)
    return pieces


def pcm_to_wav(pcm: bytes, sample_rate: int) -> bytes:
    """Wrap native-order 16-bit mono PCM in a RIFF WAV file (which is little-endian)."""
    if sys.byteorder == "big":
        samples = array.array("h", pcm)
        samples.byteswap()
        pcm = samples.tobytes()
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(sample_rate)
        writer.writeframes(pcm)
    return buffer.getvalue()
