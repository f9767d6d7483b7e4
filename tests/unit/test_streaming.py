"""The stream's pure parts (`podnex.streaming`: chunks, timeline, playlist, ID3 tag) and its
chunks against the episode `combine_lines` makes from the same lines."""

from __future__ import annotations

import asyncio
import io
import itertools
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from podnex import pacing
from podnex.audio import FFMPEG_EXE, LineAudio, combine_lines, encode_chunk
from podnex.script.types import ScriptLine
from podnex.speech.espeak import EspeakEngine
from podnex.streaming import (
    ENCODER_DELAY,
    FRAME_SAMPLES,
    OUTPUT_RATE,
    UNENCODED,
    LineSound,
    chunk_groups,
    plan_chunks,
    render_playlist,
    render_single,
    target_seconds,
    timestamp_tag,
    wav_sound,
)
from tests.audio_analysis import integrated_lufs


def wav(frames: int, rate: int = 22050) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(bytes(frames * 2))
    return buffer.getvalue()


def test_chunk_groups_cover_the_script_in_order_and_merge_a_short_tail() -> None:
    texts = ["a" * 50, "b" * 80, "c" * 130, "d" * 10, "e" * 60]
    groups = chunk_groups(texts, chars=120)
    assert groups == [range(0, 2), range(2, 3), range(3, 5)]
    # A tail under half the aim joins the chunk before it.
    assert chunk_groups(["a" * 130, "b" * 20], chars=120) == [range(0, 2)]
    assert chunk_groups([], chars=120) == []
    # Deterministic: the same script, the same chunks.
    assert chunk_groups(texts) == chunk_groups(list(texts))


def test_wav_sound_reads_rate_and_frames_from_the_header() -> None:
    data = wav(12345, rate=16000)
    assert wav_sound(data[:4096], len(data)) == LineSound(rate=16000, frames=12345)
    with pytest.raises(ValueError):
        wav_sound(b"not a wav file at all", 100)


def test_chunks_tile_the_stream_on_frame_boundaries_inside_pauses() -> None:
    rate = 22050
    texts = ["Hello there, welcome.", "Thanks!", "So tell me.", "Well, it is long.", "Bye."]
    lines = [
        ScriptLine(speaker="host" if i % 2 == 0 else "guest", text=t) for i, t in enumerate(texts)
    ]
    pauses = pacing.pauses(lines)
    sounds = [LineSound(rate, 22050 + 1000 * i) for i in range(len(texts))]
    groups = chunk_groups(texts, chars=10)
    assert len(groups) >= 3

    # Only the lines spoken so far, in order, make chunks: the playlist grows.
    partial = plan_chunks(groups, pauses, sounds[:2])
    full = plan_chunks(groups, pauses, sounds)
    assert partial == full[: len(partial)]
    assert plan_chunks(groups, pauses, []) == []

    # Contiguous, on the frame grid, each exactly its input plus the encoder delay.
    assert full[0].start == 0 and full[-1].last
    for before, after in itertools.pairwise(full):
        assert before.end == after.start and after.start % FRAME_SAMPLES == 0
        assert before.input_samples == before.end - before.start - UNENCODED
    # The unencoded delay before each boundary lies in the pause before its first line.
    written, starts, ends = 0, [], []
    for i, sound in enumerate(sounds):
        written += round(pauses[i] * rate / 1000) if i else 0
        starts.append(written * OUTPUT_RATE / rate)
        written += sound.frames
        ends.append(written * OUTPUT_RATE / rate)
    for chunk in full[1:]:
        first = chunk.lines.start
        assert ends[first - 1] <= chunk.start - UNENCODED and chunk.start <= starts[first]
    # The whole stream is the episode plus the encoder delay and at most one frame.
    total = full[-1].end / OUTPUT_RATE
    episode = ends[-1] / OUTPUT_RATE
    assert episode < total <= episode + (UNENCODED + FRAME_SAMPLES) / OUTPUT_RATE


def test_playlist_lists_chunks_and_ends_only_when_told() -> None:
    rate = 22050
    texts = ["x" * 40] * 6
    lines = [ScriptLine(speaker="host", text=t) for t in texts]
    pauses = pacing.pauses(lines)
    groups = chunk_groups(texts, chars=80)
    chunks = plan_chunks(groups, pauses, [LineSound(rate, 44100)] * 4)
    target = target_seconds(groups, texts, pauses, chunks)
    growing = render_playlist(chunks, target=target, ended=False, uri=lambda n: f"{n}.mp3")
    assert growing.splitlines()[:5] == [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        "#EXT-X-PLAYLIST-TYPE:EVENT",
        f"#EXT-X-TARGETDURATION:{target}",
        "#EXT-X-MEDIA-SEQUENCE:0",
    ]
    assert "#EXT-X-ENDLIST" not in growing
    assert [line for line in growing.splitlines() if not line.startswith("#")] == ["0.mp3", "1.mp3"]
    assert all(chunk.duration <= target for chunk in chunks)
    ended = render_playlist(chunks, target=target, ended=True, uri=str)
    assert ended.rstrip().endswith("#EXT-X-ENDLIST")
    single = render_single(61.25, "https://example.com/a.mp3?x=1")
    assert "#EXTINF:61.250000," in single and single.rstrip().endswith("#EXT-X-ENDLIST")


def test_timestamp_tag_is_an_id3_priv_frame_with_the_90khz_start() -> None:
    tag = timestamp_tag(OUTPUT_RATE * 10)
    assert tag[:3] == b"ID3" and tag[3] == 4
    assert b"PRIV" in tag and b"com.apple.streaming.transportStreamTimestamp\x00" in tag
    assert int.from_bytes(tag[-8:], "big") == 900000
    size = tag[6:10]
    assert (size[0] << 21 | size[1] << 14 | size[2] << 7 | size[3]) == len(tag) - 10


def _decode(path: Path, *, options: list[str] | None = None) -> np.ndarray:
    result = subprocess.run(
        [
            FFMPEG_EXE,
            "-hide_banner",
            "-loglevel",
            "error",
            *(options or []),
            "-i",
            str(path),
            "-f",
            "s16le",
            "-ac",
            "1",
            "-ar",
            str(OUTPUT_RATE),
            "-",
        ],
        capture_output=True,
        check=True,
    )
    return np.frombuffer(result.stdout, dtype="<i2").astype(np.float64) / 32768.0


def test_streamed_chunks_play_as_the_episode(tmp_path: Path) -> None:
    """Every chunk encoded and listed: ffmpeg reads the playlist as one stream as long as the
    episode (plus the 46 ms encoder delay), at its loudness, its speech where the episode's is."""
    texts = [
        "Welcome to the show, today we talk about octopuses and their minds.",
        "Thanks for having me.",
        "So, how clever are they really, compared with other animals we know?",
        "They solve puzzles, open jars and recognise the people who feed them.",
        "That is remarkable.",
        "And each arm has its own cluster of neurons, which is stranger still.",
        "Let us end there. Thank you!",
    ]
    script = [
        ScriptLine(speaker="host" if i % 2 == 0 else "guest", text=t) for i, t in enumerate(texts)
    ]
    engine = EspeakEngine()

    async def speak() -> list[bytes]:
        return [(await engine.synthesize(line.text, line.speaker)).wav for line in script]

    wavs = asyncio.run(speak())
    pauses = pacing.pauses(script)
    episode = combine_lines(
        LineAudio(line.speaker, data, pause)
        for line, data, pause in zip(script, wavs, pauses, strict=True)
    )
    sounds = [wav_sound(data[:4096], len(data)) for data in wavs]
    groups = chunk_groups(texts, chars=80)
    chunks = plan_chunks(groups, pauses, sounds)
    assert len(chunks) >= 3 and chunks[-1].last
    for chunk in chunks:
        frames = encode_chunk(
            [(p.offset, LineAudio(script[p.line].speaker, wavs[p.line])) for p in chunk.placed],
            window=chunk.window,
            mix_rate=chunk.mix_rate,
            output_samples=chunk.input_samples,
        )
        (tmp_path / f"{chunk.index}.mp3").write_bytes(timestamp_tag(chunk.start) + frames)
    target = target_seconds(groups, texts, pauses, chunks)
    (tmp_path / "index.m3u8").write_text(
        render_playlist(chunks, target=target, ended=True, uri=lambda n: f"{n}.mp3")
    )
    streamed = _decode(tmp_path / "index.m3u8")
    listed = chunks[-1].end / OUTPUT_RATE
    assert abs(streamed.size / OUTPUT_RATE - listed) < 0.03, (streamed.size / OUTPUT_RATE, listed)
    assert abs(listed - episode.duration_seconds) < 0.1

    # Loudness: the concatenated chunks against the episode.
    joined = tmp_path / "joined.mp3"
    joined.write_bytes(b"".join((tmp_path / f"{c.index}.mp3").read_bytes() for c in chunks))
    stream_lufs = integrated_lufs(joined.read_bytes())
    assert abs(stream_lufs - integrated_lufs(episode.mp3)) < 1.0, stream_lufs

    # Timing: the speech's envelope lines up with the episode's, 46 ms late.
    (tmp_path / "episode.mp3").write_bytes(episode.mp3)
    reference = _decode(tmp_path / "episode.mp3")
    delayed = np.concatenate([np.zeros(ENCODER_DELAY), reference])
    size = min(delayed.size, streamed.size)
    hop = OUTPUT_RATE // 100

    def envelope(samples: np.ndarray) -> np.ndarray:
        usable = samples[: size - size % hop].reshape(-1, hop)
        return np.sqrt((usable**2).mean(axis=1))

    correlation = float(np.corrcoef(envelope(delayed), envelope(streamed))[0, 1])
    assert correlation > 0.95, correlation
