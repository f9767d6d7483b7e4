"""Combining spoken lines into one loudness-normalised MP3 episode.

Lines are streamed: each line's WAV is decoded, levelled to a common loudness (measured
the way the episode's loudness is, K-weighted and gated as in ITU-R BS.1770, so a higher
voice is not heard louder than a lower one) and
written, after a short pause, to the ``ffmpeg`` binary bundled by ``imageio-ffmpeg``, then
dropped, so memory does not grow with the episode's length. Two ffmpeg passes make the
episode, both linear in its length:

1. the mix goes through a peak limiter and the ``ebur128`` meter into a temporary file of
   16-bit PCM, which measures its integrated loudness on the way;
2. that file is raised by one constant gain to the target loudness, limited to the
   true-peak ceiling, resampled and encoded with ``libmp3lame`` as CBR MP3.

A constant gain from a measurement gives the target loudness exactly and costs a fraction
of single-pass ``loudnorm``, which upsamples to 192 kHz to adjust its gain as it goes.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import io
import math
import os
import re
import subprocess
import tempfile
import warnings
import wave
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import imageio_ffmpeg
import mutagen
import numpy as np
from mutagen.mp3 import MP3

from podnex.spec import LineTiming
from podnex.vocabulary import Speaker

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
"""Loudness (LUFS) every line is brought to before mixing, leaving headroom for peaks."""
_BLOCK_SECONDS = 0.4
_BLOCK_HOP_SECONDS = 0.1
_LIMIT_FRAME_SECONDS = 0.005
_LEVEL_PASSES = 2
_ABSOLUTE_GATE_LUFS = -70.0
_RELATIVE_GATE_LU = 10.0
_LINE_PEAK_CEILING_DBFS = -1.0
"""Levelling never raises a line's peak above this, so it cannot clip."""
_LEVEL_WINDOW_MS = 50
_LEVEL_GATE_DB = 30.0
"""Windows this far below a line's loudest window are pauses, not speech."""
_LEVEL_FLOOR_DBFS = -70.0
_TRUE_PEAK_DBTP = -1.5
_LIMITER_RANGE_DBFS = (-24.0, 0.0)
"""The ceilings ffmpeg's ``alimiter`` accepts (0.0625 to 1 as a linear amplitude)."""
_MEASURE_MARGIN_DB = 1.5
_SILENCE_LUFS = -70.0
"""The meter's absolute gate: a mix measured at or below it is silence and gets no gain."""
_MAX_GAIN_DB = 40.0
_LAME_TAG_ENCODER = "LAME3.100"
"""Version string for the LAME tag that ffmpeg writes in the MP3's Info frame.

The tag holds libmp3lame's encoder delay and padding, but readers such as mutagen only
parse it when the string names LAME; ffmpeg writes its own name unless told otherwise.
"""
_INTEGRATED = re.compile(r"Integrated loudness:\s*I:\s*(-?[0-9.]+|-inf)\s*LUFS")


@dataclass(frozen=True)
class LineAudio:
    """One spoken line: who speaks it, its audio as a WAV file, and the silence before it
    (None: the mix's default for a same-speaker line or a turn; see `podnex.pacing`)."""

    speaker: Speaker
    wav: bytes
    pause_before_ms: int | None = None


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
    lines: Iterable[LineAudio],
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
    speech level first, so every voice sounds equally loud; the mix is then brought to
    ``target_lufs`` by one measured gain, its peaks held under -1.5 dBTP, and encoded as
    mono CBR MP3 at ``sample_rate`` Hz and ``bitrate_kbps`` kbit/s. Speech peaks that the
    gain would push past that ceiling are limited before the loudness is measured, so the
    limiting costs no loudness.

    ``lines`` may be any iterable, such as a generator that fetches each WAV as it is
    needed (:func:`fetch_lines`, :func:`combine_stored_lines`): one line at a time is held
    in memory, whatever the episode's length.

    Synchronous and CPU-bound: call it from a worker thread in async code.

    Raises ``ValueError`` for empty ``lines``, a line that is not a WAV file or bad
    settings, and :class:`AudioEncodingError` when ffmpeg fails.
    """
    if pause_ms < 0 or speaker_change_pause_ms < 0:
        raise ValueError("pauses must not be negative")
    if sample_rate <= 0 or bitrate_kbps <= 0:
        raise ValueError("sample_rate and bitrate_kbps must be positive")

    with tempfile.TemporaryDirectory(prefix="podnex-audio-") as workdir:
        work = Path(workdir)
        stream = _MixStream(work, target_lufs=target_lufs)
        try:
            timings = _write_mix(
                iter(lines),
                stream,
                pause_ms=pause_ms,
                speaker_change_pause_ms=speaker_change_pause_ms,
            )
            loudness = stream.finish()
        finally:
            stream.abort()
        mp3 = _encode_mp3(
            stream.pcm_path,
            stream.rate,
            gain_db=_gain_to_target(loudness, target_lufs),
            sample_rate=sample_rate,
            bitrate_kbps=bitrate_kbps,
            work=work,
        )
    return CombinedAudio(
        mp3=mp3,
        duration_seconds=mp3_duration_seconds(mp3),
        timings=timings,
        sample_rate=sample_rate,
        bitrate_kbps=bitrate_kbps,
    )


_COMBINE_THREADS = ThreadPoolExecutor(
    max_workers=max(2, os.cpu_count() or 2), thread_name_prefix="podnex-combine"
)
"""Where :func:`combine_stored_lines` mixes: never the event loop's default executor, whose
threads the storage fetches feeding the mix may need (and which other activities share)."""


Segment = tuple[Speaker, str] | tuple[Speaker, str, int | None]
"""A stored line: its speaker, its storage key and, optionally, the silence before it."""


async def combine_stored_lines(
    segments: Sequence[Segment],
    get: Callable[[str], Awaitable[bytes]],
    *,
    ahead: int = 4,
    **options: Any,
) -> CombinedAudio:
    """:func:`combine_lines` over the WAVs stored under each ``(speaker, key[, pause])``.

    Each WAV is fetched with ``get`` (at most ``ahead`` in flight) as the mix reaches it,
    so one line at a time is held in memory. The mix runs on a thread of its own pool: a
    mix waiting for a fetch must never hold a thread that the fetch needs, as it could on
    the default executor (``asyncio.to_thread``), which storage backends use.
    ``options`` are :func:`combine_lines`'s keyword arguments.
    """
    loop = asyncio.get_running_loop()
    lines = fetch_lines(segments, get, loop, ahead=ahead)
    return await loop.run_in_executor(
        _COMBINE_THREADS, functools.partial(combine_lines, lines, **options)
    )


def fetch_lines(
    segments: Sequence[Segment],
    get: Callable[[str], Awaitable[bytes]],
    loop: asyncio.AbstractEventLoop,
    *,
    ahead: int = 4,
) -> Iterator[LineAudio]:
    """Yield a :class:`LineAudio` for each ``(speaker, key)`` in order, fetched by ``get``.

    For a thread other than ``loop``'s (such as :func:`combine_lines` run by
    :func:`combine_stored_lines`) whose blobs come from async storage on ``loop``: at most
    ``ahead`` fetches are in flight, so the download overlaps the mixing without the whole
    episode being held in memory. The consuming thread must not be one that the fetches
    themselves need (the default executor's, for storage built on ``asyncio.to_thread``).
    """
    pending: deque[tuple[Speaker, int | None, Future[bytes]]] = deque()
    upcoming = iter(segments)

    def top_up() -> None:
        while len(pending) < max(1, ahead):
            item = next(upcoming, None)
            if item is None:
                return
            speaker, key = item[0], item[1]
            pause = item[2] if len(item) > 2 else None
            fetch = asyncio.run_coroutine_threadsafe(_fetch(get, key), loop)
            pending.append((speaker, pause, fetch))

    try:
        top_up()
        while pending:
            speaker, pause, future = pending.popleft()
            wav = future.result()
            top_up()
            yield LineAudio(speaker=speaker, wav=wav, pause_before_ms=pause)
    finally:
        for _, _, future in pending:
            future.cancel()


async def _fetch(get: Callable[[str], Awaitable[bytes]], key: str) -> bytes:
    return await get(key)


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


def _write_mix(
    lines: Iterator[LineAudio],
    stream: _MixStream,
    *,
    pause_ms: int,
    speaker_change_pause_ms: int,
) -> list[LineTiming]:
    """Level each line and write it, after its pause, to ``stream``; return the timings."""
    timings: list[LineTiming] = []
    previous_speaker: str | None = None
    written = 0  # samples
    for index, line in enumerate(lines):
        segment = _decode_wav(line.wav, index)
        if index == 0:
            # Mix at the speech's own rate; ffmpeg resamples to ``sample_rate`` at the end.
            stream.start(segment.frame_rate)
        else:
            pause = line.pause_before_ms
            if pause is None:
                pause = pause_ms if line.speaker == previous_speaker else speaker_change_pause_ms
            silence = round(pause * stream.rate / 1000)
            stream.write(bytes(silence * _SAMPLE_WIDTH_BYTES))
            written += silence
        segment = _level(segment.set_frame_rate(stream.rate), stream.line_ceiling_dbfs)
        data = segment.raw_data
        start = written
        stream.write(data)
        written += len(data) // _SAMPLE_WIDTH_BYTES
        timings.append(
            LineTiming(
                index=index,
                speaker=line.speaker,
                start_seconds=start / stream.rate,
                end_seconds=written / stream.rate,
            )
        )
        previous_speaker = line.speaker
    if not timings:
        raise ValueError("combine_lines needs at least one line")
    return timings


class _MixStream:
    """The first ffmpeg pass: limit the mix's peaks, meter its loudness, keep it on disk."""

    def __init__(self, work: Path, *, target_lufs: float) -> None:
        self.work = work
        self.pcm_path = work / "mix.s16le"
        self.rate = 0
        self._target_lufs = target_lufs
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def line_ceiling_dbfs(self) -> float:
        """The mix limiter's ceiling, which each line's peaks are held under too."""
        low, high = _LIMITER_RANGE_DBFS
        ceiling = _LINE_LEVEL_DBFS + _TRUE_PEAK_DBTP - self._target_lufs - _MEASURE_MARGIN_DB
        return min(max(ceiling, low), high)

    def start(self, rate: int) -> None:
        self.rate = rate
        # Lines sit at about _LINE_LEVEL_DBFS, which the gain raises to the target: a peak
        # at this ceiling then lands near the true-peak limit instead of far above it.
        # _MEASURE_MARGIN_DB lower, so a mix measured a little under the line level is not
        # limited again (costing loudness) after the gain.
        ceiling = self.line_ceiling_dbfs
        filters = ",".join(
            [
                f"alimiter=limit={10 ** (ceiling / 20):.4f}:level=false:latency=true",
                "ebur128=framelog=quiet",
            ]
        )
        self._log = open(self.work / "measure.log", "w+b")  # noqa: SIM115
        self._process = subprocess.Popen(
            [
                FFMPEG_EXE,
                "-hide_banner",
                "-nostats",
                "-nostdin",
                "-loglevel",
                "info",
                *("-f", "s16le", "-ar", str(rate), "-ac", "1", "-i", "pipe:0"),
                *("-af", filters),
                *("-f", "s16le", "-ac", "1", "-y", str(self.pcm_path)),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=self._log,
        )

    def write(self, data: bytes) -> None:
        assert self._process is not None and self._process.stdin is not None
        try:
            self._process.stdin.write(data)
        except BrokenPipeError as exc:
            self._process.wait()
            raise AudioEncodingError(self._failure()) from exc

    def finish(self) -> float | None:
        """Close the stream; return the mix's integrated loudness (None when silent)."""
        assert self._process is not None and self._process.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            self._process.stdin.close()
        if self._process.wait() != 0:
            raise AudioEncodingError(self._failure())
        assert self._log is not None
        self._log.seek(0)
        found = _INTEGRATED.search(self._log.read().decode(errors="replace"))
        if found is None:
            raise AudioEncodingError("ffmpeg did not report the integrated loudness")
        return None if found.group(1) == "-inf" else float(found.group(1))

    def abort(self) -> None:
        """Stop ffmpeg if it still runs (a failed line) and close the log."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        if self._process is not None and self._process.stdin is not None:
            with contextlib.suppress(BrokenPipeError):
                self._process.stdin.close()
        if self._log is not None:
            self._log.close()

    def _failure(self) -> str:
        assert self._process is not None and self._log is not None
        self._log.seek(0)
        message = self._log.read().decode(errors="replace").strip()[-2000:]
        return f"ffmpeg exited with {self._process.returncode}: {message}"


def _gain_to_target(loudness: float | None, target_lufs: float) -> float:
    """The constant gain taking the measured mix to ``target_lufs`` (none for silence)."""
    if loudness is None or loudness <= _SILENCE_LUFS:
        return 0.0
    return max(-_MAX_GAIN_DB, min(_MAX_GAIN_DB, target_lufs - loudness))


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


@functools.lru_cache(maxsize=16)
def _k_weighting(size: int, rate: int) -> np.ndarray:
    """The power response of the BS.1770 K-weighting filter at the FFT bins of ``size``.

    The two stages (a +4 dB high shelf near 1.5 kHz modelling the head, and a high-pass
    near 38 Hz) are the biquads of the standard, derived for ``rate`` as pyloudnorm does.
    """
    frequencies = np.fft.rfftfreq(size, 1.0 / rate)
    z = np.exp(-1j * 2 * np.pi * frequencies / rate)

    def response(b: tuple[float, float, float], a: tuple[float, float, float]) -> np.ndarray:
        numerator = b[0] + b[1] * z + b[2] * z**2
        denominator = a[0] + a[1] * z + a[2] * z**2
        return np.abs(numerator / denominator) ** 2

    gain, shelf_hz, shelf_q = 4.0, 1500.0, 1 / math.sqrt(2)
    amplitude = 10 ** (gain / 40)
    w0 = 2 * math.pi * shelf_hz / rate
    alpha = math.sin(w0) / (2 * shelf_q)
    cos_w0, root = math.cos(w0), 2 * math.sqrt(amplitude) * alpha
    shelf = response(
        (
            amplitude * ((amplitude + 1) + (amplitude - 1) * cos_w0 + root),
            -2 * amplitude * ((amplitude - 1) + (amplitude + 1) * cos_w0),
            amplitude * ((amplitude + 1) + (amplitude - 1) * cos_w0 - root),
        ),
        (
            (amplitude + 1) - (amplitude - 1) * cos_w0 + root,
            2 * ((amplitude - 1) - (amplitude + 1) * cos_w0),
            (amplitude + 1) - (amplitude - 1) * cos_w0 - root,
        ),
    )
    w0 = 2 * math.pi * 38.0 / rate
    alpha = math.sin(w0) / (2 * 0.5)
    cos_w0 = math.cos(w0)
    high_pass = response(
        ((1 + cos_w0) / 2, -(1 + cos_w0), (1 + cos_w0) / 2),
        (1 + alpha, -2 * cos_w0, 1 - alpha),
    )
    weights: np.ndarray = shelf * high_pass
    return weights


def _speech_loudness_lufs(segment: AudioSegment) -> float | None:
    """The gated, K-weighted loudness of ``segment`` in LUFS (BS.1770), or None if silent.

    400 ms blocks with 75 % overlap; each block's K-weighted mean square comes from its
    spectrum (Parseval), so no filter runs sample by sample. Blocks under -70 LUFS, then
    those 10 LU under the mean of the rest, are pauses, not speech. A line shorter than a
    block is measured as one block.
    """
    rate = segment.frame_rate
    samples = np.frombuffer(segment.raw_data, dtype="<i2").astype(np.float64) / 32768.0
    size = int(_BLOCK_SECONDS * rate)
    if samples.size == 0 or not np.any(samples):
        return None
    if samples.size < size:
        samples = np.pad(samples, (0, size - samples.size))
    hop = int(_BLOCK_HOP_SECONDS * rate)
    starts = np.arange(0, samples.size - size + 1, hop)
    blocks = samples[starts[:, None] + np.arange(size)[None, :]]
    spectrum = np.abs(np.fft.rfft(blocks, axis=1)) ** 2
    spectrum[:, 1 : (size + 1) // 2] *= 2  # the negative frequencies
    powers = (spectrum * _k_weighting(size, rate)).sum(axis=1) / size**2
    loudness = -0.691 + 10 * np.log10(np.maximum(powers, 1e-20))
    gated = powers[loudness > _ABSOLUTE_GATE_LUFS]
    if gated.size == 0:
        return None
    relative = -0.691 + 10 * math.log10(float(gated.mean())) - _RELATIVE_GATE_LU
    speech = powers[(loudness > _ABSOLUTE_GATE_LUFS) & (loudness > relative)]
    return -0.691 + 10 * math.log10(float(speech.mean()))


def _peak_limit(samples: np.ndarray, ceiling: float, rate: int) -> np.ndarray:
    """Hold ``samples`` under ``ceiling`` with a smooth gain (5 ms attack and release)."""
    frame = max(1, int(rate * _LIMIT_FRAME_SECONDS))
    count = samples.size
    padded = np.pad(np.abs(samples), (0, (-count) % frame)).reshape(-1, frame).max(axis=1)
    need = np.minimum(1.0, ceiling / np.maximum(padded, 1e-12))
    held = need.copy()
    held[1:] = np.minimum(held[1:], need[:-1])
    held[:-1] = np.minimum(held[:-1], need[1:])
    centres = np.arange(held.size) * frame + frame / 2
    gain = np.interp(np.arange(count), centres, held)
    limited: np.ndarray = samples * gain
    return limited


def _level(segment: AudioSegment, ceiling_dbfs: float | None = None) -> AudioSegment:
    """Bring the speech in ``segment`` to the common loudness without clipping its peaks.

    With ``ceiling_dbfs`` (the mix limiter's ceiling), the line's own peaks are limited
    to it first and its loudness measured after that, so the limiting, which takes more
    from a voice with sharper peaks, leaves every voice equally loud.
    """
    level = _speech_loudness_lufs(segment)
    if level is None:
        return segment
    if ceiling_dbfs is None:
        gain = min(_LINE_LEVEL_DBFS - level, _LINE_PEAK_CEILING_DBFS - segment.max_dBFS)
        return segment.apply_gain(gain)
    rate = segment.frame_rate
    ceiling = 10 ** (ceiling_dbfs / 20)
    samples = np.frombuffer(segment.raw_data, dtype="<i2").astype(np.float64) / 32768.0
    samples = samples * 10 ** ((_LINE_LEVEL_DBFS - level) / 20)
    for _ in range(_LEVEL_PASSES):
        samples = _peak_limit(samples, ceiling, rate)
        limited = segment._spawn(_to_pcm(samples))
        after = _speech_loudness_lufs(limited)
        if after is None:
            break
        samples = samples * 10 ** ((_LINE_LEVEL_DBFS - after) / 20)
    samples = _peak_limit(samples, ceiling, rate)
    levelled: AudioSegment = segment._spawn(_to_pcm(samples))
    return levelled


def _to_pcm(samples: np.ndarray) -> bytes:
    return bytes(np.clip(np.round(samples * 32768.0), -32768, 32767).astype("<i2").tobytes())


def _encode_mp3(
    pcm_path: Path,
    pcm_rate: int,
    *,
    gain_db: float,
    sample_rate: int,
    bitrate_kbps: int,
    work: Path,
) -> bytes:
    """Raise the limited mix by ``gain_db`` and encode it as CBR MP3 with ffmpeg.

    A final limiter at the true-peak ceiling catches what resampling and the first pass's
    look-ahead let through. The MP3 goes to a seekable file so ffmpeg can write the
    Xing/LAME header, which records the frame count and encoder delay needed for an exact
    duration.
    """
    output = work / "episode.mp3"
    filters = ",".join(
        [
            f"volume={gain_db:.3f}dB",
            f"alimiter=limit={10 ** (_TRUE_PEAK_DBTP / 20):.4f}:level=false:latency=true",
        ]
    )
    return _ffmpeg_mp3(
        pcm_path,
        pcm_rate,
        filters,
        sample_rate,
        bitrate_kbps,
        output,
        tags=("-metadata:s:a:0", f"encoder={_LAME_TAG_ENCODER}"),
    )


def _ffmpeg_mp3(
    pcm_path: Path,
    pcm_rate: int,
    filters: str,
    sample_rate: int,
    bitrate_kbps: int,
    output: Path,
    *,
    tags: tuple[str, ...],
) -> bytes:
    """Mono 16-bit PCM at ``pcm_rate`` through ffmpeg's ``filters`` into an MP3 file
    (``tags``: the MP3 muxer's options), returned as bytes."""
    command = [
        FFMPEG_EXE,
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        *("-f", "s16le", "-ar", str(pcm_rate), "-ac", "1", "-i", str(pcm_path)),
        *("-af", filters),
        *("-ar", str(sample_rate), "-ac", "1"),
        *("-c:a", "libmp3lame", "-b:a", f"{bitrate_kbps}k"),
        *tags,
        *("-f", "mp3", "-y", str(output)),
    ]
    result = subprocess.run(command, capture_output=True, check=False)
    if result.returncode != 0:
        message = result.stderr.decode(errors="replace").strip()[-2000:]
        raise AudioEncodingError(f"ffmpeg exited with {result.returncode}: {message}")
    return output.read_bytes()


def encode_chunk(
    placed: Iterable[tuple[int, LineAudio]],
    *,
    window: int,
    mix_rate: int,
    output_samples: int,
    target_lufs: float = -16.0,
    sample_rate: int = 24000,
    bitrate_kbps: int = 96,
) -> bytes:
    """One piece of an episode streamed while it is made (`podnex.streaming`), as raw MP3
    frames (no Xing/LAME header, no ID3 tag), mixed the way :func:`combine_lines` mixes.

    ``placed`` are the lines with their offsets in a ``window`` of ``mix_rate`` samples
    (silence elsewhere). Each line is levelled as in the episode, the window goes through
    the same peak limiter and loudness meter, is raised by one gain to ``target_lufs``
    (a window too short to measure gets the gain that takes the lines' common level to the
    target), limited to the true-peak ceiling, resampled and cut or padded to exactly
    ``output_samples`` at ``sample_rate``, and encoded as CBR MP3: so the piece is exactly
    ``ceil((output_samples + encoder delay) / frame)`` frames long.
    """
    with tempfile.TemporaryDirectory(prefix="podnex-chunk-") as workdir:
        work = Path(workdir)
        stream = _MixStream(work, target_lufs=target_lufs)
        try:
            stream.start(mix_rate)
            position = 0
            for index, (offset, line) in enumerate(placed):
                segment = _decode_wav(line.wav, index).set_frame_rate(mix_rate)
                data = _level(segment, stream.line_ceiling_dbfs).raw_data
                if offset > position:
                    stream.write(bytes((offset - position) * _SAMPLE_WIDTH_BYTES))
                    position = offset
                skip = (position - offset) * _SAMPLE_WIDTH_BYTES
                data = data[skip : skip + max(0, window - position) * _SAMPLE_WIDTH_BYTES]
                stream.write(data)
                position += len(data) // _SAMPLE_WIDTH_BYTES
            if position < window:
                stream.write(bytes((window - position) * _SAMPLE_WIDTH_BYTES))
            loudness = stream.finish()
        finally:
            stream.abort()
        if loudness is None or loudness <= _SILENCE_LUFS:
            gain = target_lufs - _LINE_LEVEL_DBFS
        else:
            gain = _gain_to_target(loudness, target_lufs)
        output = work / "chunk.mp3"
        filters = ",".join(
            [
                f"volume={gain:.3f}dB",
                f"alimiter=limit={10 ** (_TRUE_PEAK_DBTP / 20):.4f}:level=false:latency=true",
                f"aresample={sample_rate}",
                f"apad=whole_len={output_samples}",
                f"atrim=end_sample={output_samples}",
            ]
        )
        return _ffmpeg_mp3(
            stream.pcm_path,
            mix_rate,
            filters,
            sample_rate,
            bitrate_kbps,
            output,
            tags=("-write_xing", "0", "-id3v2_version", "0"),
        )
