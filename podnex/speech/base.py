"""What every speech engine offers: synthesised audio, its errors and the engine protocol."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol


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
    """

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class SpeechEngine(Protocol):
    """A text-to-speech engine that speaks with a fixed set of named voices."""

    name: str

    def voices(self) -> Mapping[str, str]:
        """Map each public voice name (such as ``"host"``) to the engine's own voice id."""
        ...

    async def synthesize(self, text: str, voice: str) -> SpeechAudio:
        """Speak ``text`` with the public voice ``voice``.

        Raises :class:`SpeechError` on failure; an unknown voice is not retryable.
        """
        ...
