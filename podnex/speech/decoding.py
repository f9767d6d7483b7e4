"""What the network speech engines share: provider audio decoded to one kind of PCM, and
checked before it is accepted.

Whatever a provider returns (WAV, MP3, raw PCM, mu-law, Opus) is decoded by the ffmpeg
binary bundled by ``imageio-ffmpeg`` to native-order 16-bit mono PCM at `SAMPLE_RATE`, so
the combine step gets the same kind of WAV from every engine. An empty body, bytes ffmpeg
cannot decode, audio far too short for its text (a truncated download) and silence raise a
retryable :class:`SpeechError`: a bad response is fetched again instead of ending up as a
gap in the podcast.
"""

from __future__ import annotations

import array
import asyncio
import subprocess
import sys
from collections.abc import Sequence

import imageio_ffmpeg

from podnex.speech.base import SpeechAudio, SpeechError, pcm_to_wav

SAMPLE_RATE = 24_000
"""Rate every provider response is decoded to."""

SAMPLE_WIDTH_BYTES = 2

_MIN_SECONDS = 0.15
_MIN_SECONDS_PER_WORD = 0.1
"""Audio shorter than this per word (600 words a minute) is taken as truncated."""
_MIN_SECONDS_PER_CHAR = 0.01
_SILENCE_PEAK = 32
"""A peak sample below this (about -60 dBFS) means the audio is silent."""


def decode_to_pcm(data: bytes, fmt: str, input_options: Sequence[str] = ()) -> bytes:
    """Decode ``data`` (ffmpeg's demuxer ``fmt``: ``wav``, ``mp3``, ``s16le``, ``mulaw``,
    ``ogg``...) to native-order 16-bit mono PCM at `SAMPLE_RATE`.

    ``input_options`` describe raw input ffmpeg cannot detect (``-ar 24000 -ac 1``).
    Undecodable input raises a retryable :class:`SpeechError`.
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
            *input_options,
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


async def decoded_and_checked(
    data: bytes, fmt: str, text: str, input_options: Sequence[str] = ()
) -> bytes:
    """A provider's audio for ``text`` as checked PCM (see `decode_to_pcm`, `check_audio`);
    an empty body is a retryable :class:`SpeechError`."""
    if not data:
        raise SpeechError("the provider returned empty audio", retryable=True)
    pcm = await asyncio.to_thread(decode_to_pcm, data, fmt, input_options)
    check_audio(pcm, text)
    return pcm


def check_audio(pcm: bytes, text: str) -> None:
    """Refuse audio that is empty, silent or too short for ``text`` (a truncated response)."""
    seconds = len(pcm) // SAMPLE_WIDTH_BYTES / SAMPLE_RATE
    if seconds == 0:
        raise SpeechError("the provider returned audio with no samples", retryable=True)
    expected = expected_min_seconds(text)
    if seconds < expected:
        raise SpeechError(
            f"the provider returned {seconds:.2f} s of audio for {len(text.split())} words "
            f"(at least {expected:.2f} s expected): truncated",
            retryable=True,
        )
    samples = array.array("h", pcm[: len(pcm) - len(pcm) % SAMPLE_WIDTH_BYTES])
    if max(max(samples), -min(samples)) < _SILENCE_PEAK:
        raise SpeechError("the provider returned silent audio", retryable=True)


def expected_min_seconds(text: str) -> float:
    """The shortest audio `check_audio` accepts for ``text``, in seconds."""
    return max(
        _MIN_SECONDS,
        _MIN_SECONDS_PER_WORD * len(text.split()),
        _MIN_SECONDS_PER_CHAR * len(text),
    )


def speech_from_pcm(pcm: bytes) -> SpeechAudio:
    """Joined PCM pieces (at `SAMPLE_RATE`) as one utterance."""
    frames = len(pcm) // SAMPLE_WIDTH_BYTES
    return SpeechAudio(
        wav=pcm_to_wav(pcm, SAMPLE_RATE),
        sample_rate=SAMPLE_RATE,
        duration_seconds=frames / SAMPLE_RATE,
    )
