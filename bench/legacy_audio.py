"""podnex's combine before issue #8 (pydub mix in memory, single-pass loudnorm), kept as the
baseline of the combine-scaling benchmark. Not used by podnex itself.

Only the mixing and the encoding are the old ones: each line's WAV is decoded into a pydub
segment, levelled to a common speech level (podnex.audio's decoding and levelling, which did
not change) and appended, after a short pause, to one 16-bit mono PCM mix held in memory. The
mix is piped through ffmpeg: a peak limiter, ``loudnorm`` to the target loudness, resampling
to the output rate and ``libmp3lame`` CBR encoding.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from podnex.audio import (
    _LAME_TAG_ENCODER,
    _LIMITER_RANGE_DBFS,
    _LINE_LEVEL_DBFS,
    _SAMPLE_WIDTH_BYTES,
    _TRUE_PEAK_DBTP,
    FFMPEG_EXE,
    AudioEncodingError,
    CombinedAudio,
    LineAudio,
    _decode_wav,
    _level,
    mp3_duration_seconds,
)
from podnex.spec import LineTiming

__all__ = ["FFMPEG_EXE", "LineAudio", "combine_lines"]

_LOUDNESS_RANGE_LU = 11.0


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
        timings.append(
            LineTiming(
                index=index,
                speaker=line.speaker,
                start_seconds=start / mix_rate,
                end_seconds=end / mix_rate,
            )
        )

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
