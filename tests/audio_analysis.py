"""Measurements on rendered audio for tests: decoding, pitch and loudness.

Decoding and loudness use the ``ffmpeg`` binary bundled by ``imageio-ffmpeg``, so they
work without a system ffmpeg or ffprobe.
"""

from __future__ import annotations

import io
import math
import re
import subprocess
import wave

import imageio_ffmpeg
import numpy as np

MIN_PITCH_HZ = 60.0
MAX_PITCH_HZ = 400.0

_FRAME_SECONDS = 0.040
_HOP_SECONDS = 0.010
_VOICED_LEVEL_DB = -30.0
"""Frames quieter than this, relative to the loudest frame, are not analysed."""
_VOICED_CORRELATION = 0.5
"""Minimum normalised autocorrelation at the pitch period for a frame to count as voiced."""
_OCTAVE_TOLERANCE = 0.85
"""A shorter-lag peak this close to the best one is taken as the true period."""


def _ffmpeg(args: list[str], data: bytes) -> subprocess.CompletedProcess[bytes]:
    result = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostats", *args],
        input=data,
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"ffmpeg failed: {result.stderr.decode(errors='replace')[-2000:]}")
    return result


def decode_mp3(data: bytes) -> tuple[np.ndarray, int]:
    """Decode MP3 bytes to mono float samples in [-1, 1] and the stream's sample rate."""
    result = _ffmpeg(["-f", "mp3", "-i", "pipe:0", "-f", "s16le", "-ac", "1", "pipe:1"], data)
    match = re.search(r"Audio: mp3[^,]*, (\d+) Hz", result.stderr.decode(errors="replace"))
    if match is None:
        raise RuntimeError("ffmpeg did not report the MP3 sample rate")
    samples = np.frombuffer(result.stdout, dtype="<i2").astype(np.float64) / 32768.0
    return samples, int(match.group(1))


def decode_wav(data: bytes) -> tuple[np.ndarray, int]:
    """Decode a 16-bit PCM WAV file to mono float samples in [-1, 1] and its sample rate."""
    with wave.open(io.BytesIO(data), "rb") as reader:
        if reader.getsampwidth() != 2:
            raise ValueError(f"expected 16-bit samples, got {8 * reader.getsampwidth()}-bit")
        channels = reader.getnchannels()
        sample_rate = reader.getframerate()
        frames = reader.readframes(reader.getnframes())
    samples = np.frombuffer(frames, dtype="<i2").astype(np.float64) / 32768.0
    return samples.reshape(-1, channels).mean(axis=1), sample_rate


def _frame_pitch_hz(frame: np.ndarray, sample_rate: int) -> float | None:
    """Estimate one frame's pitch by autocorrelation, or None if it is not voiced."""
    frame = (frame - frame.mean()) * np.hanning(len(frame))
    size = 1 << (2 * len(frame) - 1).bit_length()
    spectrum = np.fft.rfft(frame, size)
    correlation = np.fft.irfft(spectrum * np.conj(spectrum), size)[: len(frame)]
    if correlation[0] <= 0:
        return None
    correlation /= correlation[0]
    min_lag = int(sample_rate / MAX_PITCH_HZ)
    max_lag = min(int(sample_rate / MIN_PITCH_HZ) + 1, len(frame) - 2)
    window = correlation[min_lag : max_lag + 1]
    # Local maxima of the autocorrelation within the pitch range.
    inner = window[1:-1]
    peaks = np.flatnonzero((inner > window[:-2]) & (inner >= window[2:])) + 1
    if peaks.size == 0:
        return None
    best = window[peaks].max()
    if best < _VOICED_CORRELATION:
        return None
    # The shortest strong period guards against picking a multiple of the true period.
    lag = min_lag + peaks[window[peaks] >= _OCTAVE_TOLERANCE * best][0]
    # Parabolic interpolation for a sub-sample period.
    left, centre, right = correlation[lag - 1], correlation[lag], correlation[lag + 1]
    denominator = left - 2 * centre + right
    offset = 0.5 * (left - right) / denominator if denominator else 0.0
    return sample_rate / (lag + offset)


def mean_pitch_hz(samples: np.ndarray, sample_rate: int) -> float:
    """Return the median pitch, in Hz, over the voiced frames of ``samples``.

    Each 40 ms frame (10 ms hop) loud enough to be speech gets an autocorrelation pitch
    estimate; frames without a clear period or outside 60..400 Hz are ignored.
    Raises ``ValueError`` if no frame is voiced.
    """
    frame_length = int(_FRAME_SECONDS * sample_rate)
    hop = int(_HOP_SECONDS * sample_rate)
    if len(samples) < frame_length:
        raise ValueError("too little audio to measure pitch")
    starts = range(0, len(samples) - frame_length + 1, hop)
    energies = np.array([np.mean(samples[s : s + frame_length] ** 2) for s in starts])
    threshold = energies.max() * 10 ** (_VOICED_LEVEL_DB / 10)
    pitches = [
        pitch
        for start, energy in zip(starts, energies, strict=True)
        if energy > threshold
        and (pitch := _frame_pitch_hz(samples[start : start + frame_length], sample_rate))
        is not None
        and MIN_PITCH_HZ <= pitch <= MAX_PITCH_HZ
    ]
    if not pitches:
        raise ValueError("no voiced frames found")
    return float(np.median(pitches))


def integrated_lufs(data: bytes) -> float:
    """Return the integrated loudness (EBU R128, LUFS) of MP3 bytes, measured by ffmpeg."""
    result = _ffmpeg(["-f", "mp3", "-i", "pipe:0", "-af", "ebur128", "-f", "null", "-"], data)
    log = result.stderr.decode(errors="replace")
    summary = log[log.rfind("Integrated loudness:") :]
    match = re.search(r"I:\s+(-?\d+(?:\.\d+)?) LUFS", summary)
    if match is None:
        raise RuntimeError("ffmpeg did not report the integrated loudness")
    return float(match.group(1))


def rms_dbfs(samples: np.ndarray) -> float:
    """Return the RMS level of float samples in dBFS (-inf for silence)."""
    power = float(np.mean(samples**2)) if samples.size else 0.0
    return 10 * math.log10(power) if power > 0 else float("-inf")


def encode_wav(samples: np.ndarray, sample_rate: int) -> bytes:
    """Encode mono float samples in [-1, 1] as a 16-bit PCM WAV file."""
    pcm = np.clip(np.round(samples * 32767.0), -32768, 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(sample_rate)
        writer.writeframes(pcm.tobytes())
    return buffer.getvalue()
