"""podnex's combine before issue #8 (pydub mix in memory, single-pass loudnorm), kept as the
baseline of the combine-scaling benchmark. Not used by podnex itself.

Original description: combining spoken lines into one loudness-normalised MP3 episode.

Each line's WAV is decoded into a pydub segment, levelled to a common speech level and
appended, after a short pause, to one 16-bit mono PCM mix. The mix is piped through the
``ffmpeg`` binary bundled by ``imageio-ffmpeg``: a peak limiter, ``loudnorm`` to the target
loudness, resampling to the output rate and ``libmp3lame`` CBR encoding.
"""

from __future__ import annotations

import io
import math
import subprocess
import tempfile
import warnings
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg
import mutagen
from mutagen.mp3 import MP3

with warnings.catch_warnings():
    # pydub looks for ffmpeg on PATH at import (the bundled binary is configured below) and
    # imports audioop, deprecated in Python 3.11 (audioop-lts provides it from 3.13 on).
    warnings.filterwarnings("ignore", message="Couldn't find ffmpeg", category=RuntimeWarning)
    warnings.filterwarnings(
        "ignore", message="'audioop' is deprecated", category=DeprecationWarning
    )
    from pydub import AudioSegment

FFMPEG_EXE = imageio_ffmpeg.get_ffmpeg_exe()
"""Path of the ffmpeg binary (with libmp3lame) shipped by ``imageio-ffmpeg``."""

AudioSegment.converter = FFMPEG_EXE

_SAMPLE_WIDTH_BYTES = 2
_LINE_LEVEL_DBFS = -23.0
"""Speech level every line is brought to before mixing, leaving headroom for peaks."""
_LINE_PEAK_CEILING_DBFS = -1.0
"""Levelling never raises a line's peak above this, so it cannot clip."""
_LEVEL_WINDOW_MS = 50
_LEVEL_GATE_DB = 30.0
"""Windows this far below a line's loudest window are pauses, not speech."""
_LEVEL_FLOOR_DBFS = -70.0
_TRUE_PEAK_DBTP = -1.5
_LOUDNESS_RANGE_LU = 11.0
_LIMITER_RANGE_DBFS = (-24.0, 0.0)
"""The ceilings ffmpeg's ``alimiter`` accepts (0.0625 to 1 as a linear amplitude)."""
_LAME_TAG_ENCODER = "LAME3.100"
"""Version string for the LAME tag that ffmpeg writes in the MP3's Info frame.

The tag holds libmp3lame's encoder delay and padding, but readers such as mutagen only
parse it when the string names LAME; ffmpeg writes its own name unless told otherwise.
"""


@dataclass(frozen=True)
class LineAudio:
    """One spoken line: who speaks it and its audio as a WAV file."""

    speaker: str
    wav: bytes


@dataclass(frozen=True)
class LineTiming:
    """Where line ``index`` (in input order) sits in the combined audio, in seconds."""

    index: int
    speaker: str
    start_seconds: float
    end_seconds: float


@dataclass(frozen=True)
class CombinedAudio:
    """The finished episode: a mono CBR MP3 and where each line is in it."""

    mp3: bytes
    duration_seconds: float
    timings: list[LineTiming]
    sample_rate: int
    bitrate_kbps: int


class AudioEncodingError(RuntimeError):
    """ffmpeg failed to encode the mix."""


def combine_lines(
    lines: Sequence[LineAudio],
    *,
    pause_ms: int = 350,
    speaker_change_pause_ms: int = 500,
    target_lufs: float = -16.0,
    sample_rate: int = 24000,
    bitrate_kbps: int = 96,
) -> CombinedAudio:
    """Join ``lines`` in order into one MP3 at ``target_lufs`` integrated loudness.

    Consecutive lines are separated by ``pause_ms`` of silence, or by
    ``speaker_change_pause_ms`` when the speaker changes. Each line is levelled to the same
    speech level first, so every voice sounds equally loud; the mix is then normalised with
    ffmpeg's ``loudnorm`` (true peak -1.5 dBTP, LRA 11) and encoded as mono CBR MP3 at
    ``sample_rate`` Hz and ``bitrate_kbps`` kbit/s. Speech peaks that the loudness gain
    would push past the true-peak ceiling are limited first: left to ``loudnorm``'s own
    limiter, peaky synthetic speech ends up about 1 LU below the target.

    Synchronous and CPU-bound: call it from a worker thread in async code.

    Raises ``ValueError`` for empty ``lines``, a line that is not a WAV file or bad
    settings, and :class:`AudioEncodingError` when ffmpeg fails.
    """
    if not lines:
        raise ValueError("combine_lines needs at least one line")
    if pause_ms < 0 or speaker_change_pause_ms < 0:
        raise ValueError("pauses must not be negative")
    if sample_rate <= 0 or bitrate_kbps <= 0:
        raise ValueError("sample_rate and bitrate_kbps must be positive")

    mix = bytearray()
    mix_rate = 0
    timings: list[LineTiming] = []
    for index, line in enumerate(lines):
        segment = _decode_wav(line.wav, index)
        if index == 0:
            # Mix at the speech's own rate; ffmpeg resamples to ``sample_rate`` at the end.
            mix_rate = segment.frame_rate
        else:
            same_speaker = line.speaker == lines[index - 1].speaker
            pause = pause_ms if same_speaker else speaker_change_pause_ms
            mix.extend(bytes(round(pause * mix_rate / 1000) * _SAMPLE_WIDTH_BYTES))
        segment = _level(segment.set_frame_rate(mix_rate))
        start = len(mix) // _SAMPLE_WIDTH_BYTES
        mix.extend(segment.raw_data)
        end = len(mix) // _SAMPLE_WIDTH_BYTES
        timings.append(LineTiming(index, line.speaker, start / mix_rate, end / mix_rate))

    mp3 = _encode_mp3(
        mix,
        mix_rate,
        target_lufs=target_lufs,
        sample_rate=sample_rate,
        bitrate_kbps=bitrate_kbps,
    )
    return CombinedAudio(
        mp3=mp3,
        duration_seconds=mp3_duration_seconds(mp3),
        timings=timings,
        sample_rate=sample_rate,
        bitrate_kbps=bitrate_kbps,
    )


def mp3_duration_seconds(data: bytes) -> float:
    """Return the playing time of an MP3 file, net of encoder delay and padding.

    Raises ``ValueError`` when ``data`` is not an MP3 stream.
    """
    try:
        info = MP3(io.BytesIO(data)).info
    except mutagen.MutagenError as exc:
        raise ValueError(f"not an MP3 stream: {exc}") from exc
    if info is None:
        raise ValueError("not an MP3 stream: no audio frames")
    return float(info.length)


def _decode_wav(data: bytes, index: int) -> AudioSegment:
    """Decode a PCM WAV file into 16-bit mono."""
    try:
        with wave.open(io.BytesIO(data), "rb") as reader:
            segment = AudioSegment(
                data=reader.readframes(reader.getnframes()),
                sample_width=reader.getsampwidth(),
                frame_rate=reader.getframerate(),
                channels=reader.getnchannels(),
            )
    except (wave.Error, EOFError) as exc:
        raise ValueError(f"line {index} is not a readable PCM WAV file: {exc}") from exc
    return segment.set_channels(1).set_sample_width(_SAMPLE_WIDTH_BYTES)


def _speech_level_dbfs(segment: AudioSegment) -> float | None:
    """Return the mean power of the speech in ``segment`` in dBFS, or None if it is silent.

    The level is measured over short windows, ignoring those far below the loudest one,
    so that pauses inside or around a line do not make it look quieter than it sounds.
    """
    full_scale = float(segment.max_possible_amplitude)
    powers = [(window.rms / full_scale) ** 2 for window in segment[::_LEVEL_WINDOW_MS]]
    loudest = max(powers, default=0.0)
    if loudest <= 0.0:
        return None
    gate = max(loudest * 10 ** (-_LEVEL_GATE_DB / 10), 10 ** (_LEVEL_FLOOR_DBFS / 10))
    speech = [power for power in powers if power >= gate]
    if not speech:
        return None
    return 10 * math.log10(sum(speech) / len(speech))


def _level(segment: AudioSegment) -> AudioSegment:
    """Bring the speech in ``segment`` to the common level without clipping its peaks."""
    level = _speech_level_dbfs(segment)
    if level is None:
        return segment
    gain = min(_LINE_LEVEL_DBFS - level, _LINE_PEAK_CEILING_DBFS - segment.max_dBFS)
    return segment.apply_gain(gain)


def _encode_mp3(
    pcm: bytearray,
    pcm_rate: int,
    *,
    target_lufs: float,
    sample_rate: int,
    bitrate_kbps: int,
) -> bytes:
    """Loudness-normalise 16-bit mono PCM and encode it as CBR MP3 with ffmpeg.

    The MP3 goes to a seekable temporary file so ffmpeg can write the Xing/LAME header,
    which records the frame count and encoder delay needed for an exact duration.
    """
    # Lines sit at about _LINE_LEVEL_DBFS, which loudnorm raises to target_lufs: a peak at
    # this ceiling then lands near the true-peak limit instead of far above it.
    low, high = _LIMITER_RANGE_DBFS
    ceiling_dbfs = min(max(_LINE_LEVEL_DBFS + _TRUE_PEAK_DBTP - target_lufs, low), high)
    filters = ",".join(
        [
            f"alimiter=limit={10 ** (ceiling_dbfs / 20):.4f}:level=false:latency=true",
            f"loudnorm=I={target_lufs}:TP={_TRUE_PEAK_DBTP}:LRA={_LOUDNESS_RANGE_LU}",
        ]
    )
    with tempfile.TemporaryDirectory(prefix="podnex-audio-") as workdir:
        output = Path(workdir) / "episode.mp3"
        command = [
            FFMPEG_EXE,
            "-hide_banner",
            "-loglevel",
            "error",
            "-f",
            "s16le",
            "-ar",
            str(pcm_rate),
            "-ac",
            "1",
            "-i",
            "pipe:0",
            "-af",
            filters,
            # loudnorm works at 192 kHz internally: set the output rate explicitly.
            "-ar",
            str(sample_rate),
            "-ac",
            "1",
            "-c:a",
            "libmp3lame",
            "-b:a",
            f"{bitrate_kbps}k",
            "-metadata:s:a:0",
            f"encoder={_LAME_TAG_ENCODER}",
            "-f",
            "mp3",
            "-y",
            str(output),
        ]
        result = subprocess.run(command, input=pcm, capture_output=True, check=False)
        if result.returncode != 0:
            message = result.stderr.decode(errors="replace").strip()[-2000:]
            raise AudioEncodingError(f"ffmpeg exited with {result.returncode}: {message}")
        return output.read_bytes()
