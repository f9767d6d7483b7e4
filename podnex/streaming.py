"""Listen while it is made: the finished prefix of an episode's lines as an HLS playlist.

Pure arithmetic, no I/O (the API's `api.stream_service` reads storage and encodes).

The script is cut into **chunks** of consecutive lines, about `CHUNK_CHARS` characters
each (a few seconds of speech), from the script alone, so a chunk's place and content never
change once it is listed. A chunk is listed once all its lines, and every line before them,
are spoken: the playlist only grows, and ends (`#EXT-X-ENDLIST`) with the episode.

The stream's timeline is the final mix's, sample for sample: the same pauses
(`podnex.pacing`) between the same lines, each line as long as its WAV. Chunks are encoded
one by one as raw MP3 frames (MPEG-2 Layer III at 24 kHz: 576 samples a frame, no
Xing/LAME header), so that concatenated they play without gaps or drift:

- libmp3lame delays its input by `ENCODER_DELAY` samples (silence first), so chunk ``k``
  encodes the mix from its start ``g[k]`` and its frames cover the stream from ``g[k]``:
  the stream plays the episode `ENCODER_DELAY` samples (46 ms) late, and the samples
  ``[g[k] - delay - tail, g[k])``, which no chunk encodes, are the silence of a pause;
- every boundary ``g[k]`` is a multiple of the 576-sample frame, near the middle of the
  pause before the chunk's first line, and each chunk gets exactly
  ``g[k+1] - g[k] - delay - tail`` input samples, so it is exactly ``(g[k+1] - g[k]) / 576`` frames
  long: its `#EXTINF` is exact and the chunks add up to the episode (plus the 46 ms
  delay and the last frame's padding).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass

OUTPUT_RATE = 24000
"""The episode's sample rate (`podnex.audio.combine_lines`'s default), the stream's too."""
FRAME_SAMPLES = 576
"""Samples in one MPEG-2 Layer III frame (24 kHz)."""
ENCODER_DELAY = 1105
"""Samples of silence libmp3lame puts before its input (576 + 529)."""
ENCODER_TAIL = 96
"""Samples of silence a chunk leaves for the encoder's padding: libmp3lame adds a frame when
its last frame would be padded with fewer than about 48 samples."""
UNENCODED = ENCODER_DELAY + ENCODER_TAIL
"""Samples before each chunk boundary that no chunk encodes: silence in a pause."""
CHUNK_CHARS = 120
"""Characters of script a chunk aims at: about 8 seconds of speech."""
SLOWEST_CHARS_PER_SECOND = 10.0
"""A slow speaker, for the target duration announced before the chunks are spoken."""
MIN_TARGET_SECONDS = 6
FORMAT_VERSION = 1
"""Part of every cached chunk's name: bump it when a chunk's bytes would change."""
PLAYLIST_TYPE = "application/vnd.apple.mpegurl"
CHUNK_TYPE = "audio/mpeg"
_ID3_OWNER = b"com.apple.streaming.transportStreamTimestamp\x00"


def chunk_groups(texts: Sequence[str], chars: int = CHUNK_CHARS) -> list[range]:
    """The script's lines (their texts) cut into runs of about ``chars`` characters.

    A run closes at the line that reaches ``chars``; a last run under half of that joins
    the one before, so the episode does not end on a chunk too short to measure.
    """
    groups: list[range] = []
    start = count = 0
    for index, text in enumerate(texts):
        count += len(text)
        if count >= chars:
            groups.append(range(start, index + 1))
            start, count = index + 1, 0
    if start < len(texts):
        if groups and count < chars // 2:
            groups[-1] = range(groups[-1].start, len(texts))
        else:
            groups.append(range(start, len(texts)))
    return groups


@dataclass(frozen=True)
class LineSound:
    """What a spoken line's WAV says of its length: sample rate and frames."""

    rate: int
    frames: int


def wav_sound(header: bytes, size: int) -> LineSound:
    """The rate and length of a PCM WAV file from its first bytes (and its full ``size``).

    Raises ``ValueError`` when ``header`` does not hold a RIFF/WAVE ``fmt`` and the start of
    its ``data`` chunk.
    """
    if len(header) < 12 or header[:4] != b"RIFF" or header[8:12] != b"WAVE":
        raise ValueError("not a WAV file")
    position = 12
    block = rate = 0
    while position + 8 <= len(header):
        name, length = (
            header[position : position + 4],
            struct.unpack_from("<I", header, position + 4)[0],
        )
        body = position + 8
        if name == b"fmt ":
            channels, rate = struct.unpack_from("<HI", header, body + 2)
            bits = struct.unpack_from("<H", header, body + 14)[0]
            block = channels * max(1, bits // 8)
        elif name == b"data":
            if not rate or not block:
                raise ValueError("WAV data before its format")
            available = max(0, size - body)
            return LineSound(rate=rate, frames=min(length, available) // block)
        position = body + length + (length & 1)
    raise ValueError("no WAV data chunk in the first bytes")


@dataclass(frozen=True)
class Placed:
    """A line in a chunk: its index and where it starts in the chunk's input (mix samples)."""

    line: int
    offset: int


@dataclass(frozen=True)
class Chunk:
    """One listed piece of the stream.

    ``start``/``end`` are its bounds on the stream's timeline (samples at `OUTPUT_RATE`,
    multiples of `FRAME_SAMPLES`); the encoder gets ``input_samples`` samples at
    `OUTPUT_RATE`, made from ``window`` samples of the mix (at ``mix_rate``) with each line
    at its ``placed`` offset.
    """

    index: int
    lines: range
    start: int
    end: int
    input_samples: int
    mix_rate: int
    window: int
    placed: tuple[Placed, ...]
    last: bool

    @property
    def duration(self) -> float:
        return (self.end - self.start) / OUTPUT_RATE


def _to_output(samples: float, mix_rate: int) -> float:
    return samples * OUTPUT_RATE / mix_rate


def _frame_boundary(samples: float) -> int:
    return FRAME_SAMPLES * round(samples / FRAME_SAMPLES)


def plan_chunks(
    groups: Sequence[range], pauses_ms: Sequence[int], sounds: Sequence[LineSound]
) -> list[Chunk]:
    """The chunks playable now: those whose lines are all among ``sounds``.

    ``pauses_ms`` is the silence before each line of the script (`podnex.pacing.pauses`)
    and ``sounds`` the lengths of its first lines, those spoken so far in order. The mix
    runs at the first line's rate, as `podnex.audio.combine_lines` does.
    """
    if not sounds or not groups:
        return []
    total = groups[-1].stop
    rate = sounds[0].rate
    starts: list[int] = []
    ends: list[int] = []
    written = 0
    for index, sound in enumerate(sounds):
        if index > 0:
            written += round(pauses_ms[index] * rate / 1000)
        frames = sound.frames if sound.rate == rate else round(sound.frames * rate / sound.rate)
        starts.append(written)
        written += frames
        ends.append(written)

    def boundary(line: int) -> int:
        """The stream boundary before ``line``, in the pause before it (after line - 1)."""
        if line == 0:
            return 0
        pause_start = ends[line - 1]
        pause_end = pause_start + round(pauses_ms[line] * rate / 1000)
        middle = _to_output((pause_start + pause_end) / 2, rate) + UNENCODED / 2
        earliest = _to_output(pause_start, rate) + UNENCODED
        latest = _to_output(pause_end, rate)
        # As near the middle as the frame grid allows, keeping the unencoded delay silent.
        for candidate in (
            _frame_boundary(middle),
            FRAME_SAMPLES * math.ceil(earliest / FRAME_SAMPLES),
        ):
            if earliest <= candidate <= latest:
                return candidate
        return _frame_boundary(middle)

    chunks: list[Chunk] = []
    for index, group in enumerate(groups):
        if group.stop > len(sounds):
            break
        start = boundary(group.start)
        last = group.stop == total
        if last:
            content = math.ceil(_to_output(ends[-1], rate)) - start
            frames = math.ceil((content + UNENCODED) / FRAME_SAMPLES)
            end = start + frames * FRAME_SAMPLES
            input_samples = max(0, content)
        else:
            end = boundary(group.stop)
            input_samples = end - start - UNENCODED
        first = round(start * rate / OUTPUT_RATE)
        window = round((start + input_samples) * rate / OUTPUT_RATE) - first
        placed = tuple(Placed(line=line, offset=starts[line] - first) for line in group)
        chunks.append(
            Chunk(
                index=index,
                lines=group,
                start=start,
                end=end,
                input_samples=input_samples,
                mix_rate=rate,
                window=window,
                placed=placed,
                last=last,
            )
        )
    return chunks


def target_seconds(
    groups: Sequence[range], texts: Sequence[str], pauses_ms: Sequence[int], chunks: Sequence[Chunk]
) -> int:
    """`#EXT-X-TARGETDURATION`: the longest chunk, estimated from the script for a slow
    speaker so it need not change as chunks arrive (and at least each listed one)."""
    estimate = 0.0
    for group in groups:
        chars = sum(len(texts[line]) for line in group)
        pauses = sum(pauses_ms[line] for line in group if line > group.start) / 1000
        estimate = max(estimate, chars / SLOWEST_CHARS_PER_SECOND + pauses + 1)
    listed = max((chunk.duration for chunk in chunks), default=0.0)
    return max(MIN_TARGET_SECONDS, math.ceil(estimate), math.ceil(listed))


def render_playlist(
    chunks: Sequence[Chunk], *, target: int, ended: bool, uri: Callable[[int], str]
) -> str:
    """An HLS (RFC 8216) EVENT playlist of ``chunks``; ``#EXT-X-ENDLIST`` once ``ended``."""
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        "#EXT-X-PLAYLIST-TYPE:EVENT",
        f"#EXT-X-TARGETDURATION:{target}",
        "#EXT-X-MEDIA-SEQUENCE:0",
    ]
    for chunk in chunks:
        lines.append(f"#EXTINF:{chunk.duration:.6f},")
        lines.append(uri(chunk.index))
    if ended:
        lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def render_single(duration_seconds: float, url: str) -> str:
    """A finished playlist of one segment: the published episode itself."""
    return (
        "\n".join(
            [
                "#EXTM3U",
                "#EXT-X-VERSION:3",
                "#EXT-X-PLAYLIST-TYPE:VOD",
                f"#EXT-X-TARGETDURATION:{max(1, math.ceil(duration_seconds))}",
                "#EXT-X-MEDIA-SEQUENCE:0",
                f"#EXTINF:{duration_seconds:.6f},",
                url,
                "#EXT-X-ENDLIST",
            ]
        )
        + "\n"
    )


def _synchsafe(value: int) -> bytes:
    return bytes([(value >> 21) & 0x7F, (value >> 14) & 0x7F, (value >> 7) & 0x7F, value & 0x7F])


def timestamp_tag(start_samples: int) -> bytes:
    """The ID3v2.4 tag that starts a packed-audio HLS segment: a ``PRIV`` frame
    ``com.apple.streaming.transportStreamTimestamp`` with the segment's start as a 33-bit
    90 kHz timestamp (Apple's HLS authoring rules; ffmpeg and hls.js read it too)."""
    pts = (start_samples * 90000 // OUTPUT_RATE) & ((1 << 33) - 1)
    body = _ID3_OWNER + struct.pack(">Q", pts)
    frame = b"PRIV" + _synchsafe(len(body)) + b"\x00\x00" + body
    return b"ID3\x04\x00\x00" + _synchsafe(len(frame)) + frame
