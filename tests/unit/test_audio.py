"""Combining spoken lines into one MP3: format, timing, loudness and levelling."""

from __future__ import annotations

import asyncio
import io
import itertools
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from mutagen.mp3 import MP3

from podnex.audio import (
    CombinedAudio,
    LineAudio,
    combine_lines,
    combine_stored_lines,
    fetch_lines,
    mp3_duration_seconds,
)
from podnex.speech.espeak import EspeakEngine
from tests.audio_analysis import (
    decode_mp3,
    decode_wav,
    encode_wav,
    integrated_lufs,
    rms_dbfs,
)

HOST_TEXT = (
    "Welcome back to the show. Today we are talking about how to turn a pile of notes "
    "into a podcast that people actually enjoy listening to."
)
GUEST_TEXT = (
    "Thanks for having me. Honestly, most of my notes are a mess, so I am curious "
    "where we should even start."
)


@pytest.fixture(scope="module")
async def host_wav() -> bytes:
    return (await EspeakEngine().synthesize(HOST_TEXT, "host")).wav


@pytest.fixture(scope="module")
async def guest_wav() -> bytes:
    return (await EspeakEngine().synthesize(GUEST_TEXT, "guest")).wav


def wav_seconds(wav: bytes) -> float:
    samples, sample_rate = decode_wav(wav)
    return len(samples) / sample_rate


def with_gain(wav: bytes, gain_db: float) -> bytes:
    samples, sample_rate = decode_wav(wav)
    return encode_wav(samples * 10 ** (gain_db / 20), sample_rate)


def line_levels(combined: CombinedAudio) -> list[float]:
    """RMS level (dBFS) of each line's stretch of the decoded MP3."""
    samples, sample_rate = decode_mp3(combined.mp3)
    return [
        rms_dbfs(samples[round(t.start_seconds * sample_rate) : round(t.end_seconds * sample_rate)])
        for t in combined.timings
    ]


@pytest.mark.parametrize(("sample_rate", "bitrate_kbps"), [(24000, 96), (16000, 64)])
def test_encodes_a_mono_cbr_mp3_at_the_requested_rate(
    host_wav: bytes, guest_wav: bytes, sample_rate: int, bitrate_kbps: int
) -> None:
    combined = combine_lines(
        [LineAudio("host", host_wav), LineAudio("guest", guest_wav)],
        sample_rate=sample_rate,
        bitrate_kbps=bitrate_kbps,
    )

    info = MP3(io.BytesIO(combined.mp3)).info
    samples, decoded_rate = decode_mp3(combined.mp3)
    assert info is not None
    assert decoded_rate == sample_rate
    assert (info.sample_rate, info.channels, info.bitrate) == (
        sample_rate,
        1,
        bitrate_kbps * 1000,
    )
    assert (combined.sample_rate, combined.bitrate_kbps) == (sample_rate, bitrate_kbps)
    assert len(samples) / decoded_rate == pytest.approx(combined.duration_seconds, abs=0.05)


def test_duration_is_the_lines_plus_their_pauses(host_wav: bytes, guest_wav: bytes) -> None:
    lines = [
        LineAudio("host", host_wav),
        LineAudio("host", host_wav),
        LineAudio("guest", guest_wav),
    ]

    combined = combine_lines(lines, pause_ms=350, speaker_change_pause_ms=500)

    expected = sum(wav_seconds(line.wav) for line in lines) + 0.350 + 0.500
    assert combined.duration_seconds == pytest.approx(expected, rel=0.05)
    assert combined.duration_seconds == pytest.approx(mp3_duration_seconds(combined.mp3))


def test_timings_place_each_line_in_order(host_wav: bytes, guest_wav: bytes) -> None:
    lines = [
        LineAudio("host", host_wav),
        LineAudio("guest", guest_wav),
        LineAudio("guest", guest_wav),
        LineAudio("host", host_wav),
    ]

    combined = combine_lines(lines, pause_ms=350, speaker_change_pause_ms=500)

    timings = combined.timings
    assert [(t.index, t.speaker) for t in timings] == [
        (0, "host"),
        (1, "guest"),
        (2, "guest"),
        (3, "host"),
    ]
    assert timings[0].start_seconds == 0.0
    for timing, line in zip(timings, lines, strict=True):
        assert timing.end_seconds - timing.start_seconds == pytest.approx(
            wav_seconds(line.wav), abs=0.001
        )
    gaps = [
        after.start_seconds - before.end_seconds for before, after in itertools.pairwise(timings)
    ]
    assert gaps == pytest.approx([0.5, 0.35, 0.5], abs=0.001)
    assert timings[-1].end_seconds == pytest.approx(combined.duration_seconds, abs=0.05)


@pytest.mark.parametrize("target_lufs", [-16.0, -20.0])
def test_mix_is_normalised_to_the_target_loudness(
    host_wav: bytes, guest_wav: bytes, target_lufs: float
) -> None:
    lines = [LineAudio("host", host_wav), LineAudio("guest", guest_wav)] * 2

    combined = combine_lines(lines, target_lufs=target_lufs)

    assert integrated_lufs(combined.mp3) == pytest.approx(target_lufs, abs=1.5)


def test_quiet_and_loud_lines_end_up_equally_loud(host_wav: bytes, guest_wav: bytes) -> None:
    quiet_host = with_gain(host_wav, -20.0)
    input_gap = rms_dbfs(decode_wav(guest_wav)[0]) - rms_dbfs(decode_wav(quiet_host)[0])
    assert input_gap > 15

    combined = combine_lines([LineAudio("host", quiet_host), LineAudio("guest", guest_wav)])

    host_level, guest_level = line_levels(combined)
    assert abs(host_level - guest_level) < 2.0


def test_lines_at_other_sample_rates_are_resampled() -> None:
    def tone(sample_rate: int) -> bytes:
        t = np.arange(sample_rate) / sample_rate
        return encode_wav(0.3 * np.sin(2 * np.pi * 220 * t), sample_rate)

    combined = combine_lines(
        [LineAudio("host", tone(22050)), LineAudio("guest", tone(16000))],
        speaker_change_pause_ms=500,
    )

    assert combined.duration_seconds == pytest.approx(2.5, abs=0.01)
    bounds = [bound for t in combined.timings for bound in (t.start_seconds, t.end_seconds)]
    assert bounds == pytest.approx([0.0, 1.0, 1.5, 2.5], abs=0.001)


def test_silent_line_is_kept_as_silence(host_wav: bytes) -> None:
    silence = encode_wav(np.zeros(22050), 22050)

    combined = combine_lines([LineAudio("host", host_wav), LineAudio("guest", silence)])

    host_level, silent_level = line_levels(combined)
    assert silent_level < host_level - 40


def test_empty_input_is_rejected() -> None:
    with pytest.raises(ValueError, match="at least one line"):
        combine_lines([])


def test_a_line_that_is_not_a_wav_file_is_rejected() -> None:
    with pytest.raises(ValueError, match="line 0"):
        combine_lines([LineAudio("host", b"definitely not audio")])


def test_mp3_duration_rejects_data_that_is_not_mp3() -> None:
    with pytest.raises(ValueError, match="not an MP3"):
        mp3_duration_seconds(b"\x00" * 64)


def test_lines_may_come_from_a_generator(host_wav: bytes, guest_wav: bytes) -> None:
    listed = [LineAudio("host", host_wav), LineAudio("guest", guest_wav)]

    streamed = combine_lines(line for line in listed)

    assert streamed.timings == combine_lines(listed).timings


async def test_fetch_lines_streams_blobs_in_order_from_async_storage(
    host_wav: bytes, guest_wav: bytes
) -> None:
    blobs = {"a": host_wav, "b": guest_wav, "c": host_wav}
    in_flight = 0
    most_in_flight = 0

    async def get(key: str) -> bytes:
        nonlocal in_flight, most_in_flight
        in_flight += 1
        most_in_flight = max(most_in_flight, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        return blobs[key]

    segments = [("host", "a"), ("guest", "b"), ("host", "c")]
    lines = fetch_lines(segments, get, asyncio.get_running_loop(), ahead=2)
    combined = await asyncio.to_thread(combine_lines, lines)

    assert [(t.index, t.speaker) for t in combined.timings] == [
        (0, "host"),
        (1, "guest"),
        (2, "host"),
    ]
    assert most_in_flight <= 2


async def test_fetch_lines_passes_a_storage_error_on() -> None:
    async def get(key: str) -> bytes:
        raise KeyError(key)

    lines = fetch_lines([("host", "missing")], get, asyncio.get_running_loop())
    with pytest.raises(KeyError, match="missing"):
        await asyncio.to_thread(combine_lines, lines)


async def test_stored_lines_are_mixed_off_the_executor_their_fetches_use(
    host_wav: bytes, guest_wav: bytes
) -> None:
    """Storage backends fetch on the default executor: mixes waiting for fetches must not
    hold its threads, or a few concurrent combines would wait on each other for ever."""
    blobs = {"a": host_wav, "b": guest_wav}

    async def get(key: str) -> bytes:
        return await asyncio.to_thread(blobs.__getitem__, key)

    loop = asyncio.get_running_loop()
    loop.set_default_executor(ThreadPoolExecutor(max_workers=1))
    try:
        results = await asyncio.wait_for(
            asyncio.gather(
                *(combine_stored_lines([("host", "a"), ("guest", "b")], get) for _ in range(3))
            ),
            timeout=120,
        )
    finally:
        loop.set_default_executor(ThreadPoolExecutor())

    assert [len(result.timings) for result in results] == [2, 2, 2]
