"""How combine time and memory grow with the episode's length: one size in one process.

    python -m bench.combine_scale --impl new --minutes 15 --pool DIR

Lines come from DIR (WAV files of real espeak-ng speech, host and guest in turn), reused
in order until the episode reaches the length. ``new`` is podnex's streaming combine, fed
by a generator that reads each WAV as the mix reaches it (as the activity's storage
fetches do); ``legacy`` is the combine before issue #8, which takes a list. Prints one JSON
object: seconds, the resident memory of this process before and at its peak (sampled
every 20 ms) and the peak of its ffmpeg children, the MP3's duration and integrated
loudness.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import time
import wave
from collections.abc import Iterator
from pathlib import Path

from bench.stack import RssSampler, rss_bytes


def pool_lines(pool: Path, minutes: float) -> list[tuple[str, Path]]:
    files = sorted(pool.glob("*.wav"))
    chosen: list[tuple[str, Path]] = []
    total = 0.0
    index = 0
    while total < minutes * 60:
        path = files[index % len(files)]
        with wave.open(str(path)) as reader:
            total += reader.getnframes() / reader.getframerate() + 0.4
        chosen.append(("host" if index % 2 == 0 else "guest", path))
        index += 1
    return chosen


def measure_lufs(mp3: bytes, ffmpeg: str) -> float:
    result = subprocess.run(
        [
            ffmpeg,
            "-hide_banner",
            "-nostats",
            "-i",
            "pipe:0",
            "-af",
            "ebur128=framelog=quiet",
            "-f",
            "null",
            "-",
        ],
        input=mp3,
        capture_output=True,
        check=True,
    )
    found = re.search(rb"I:\s*(-?[0-9.]+) LUFS", result.stderr)
    return float(found.group(1)) if found else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--impl", choices=["new", "legacy"], required=True)
    parser.add_argument("--minutes", type=float, required=True)
    parser.add_argument("--pool", type=Path, required=True)
    args = parser.parse_args()

    if args.impl == "new":
        from podnex.audio import FFMPEG_EXE, LineAudio, combine_lines
    else:
        from bench.legacy_audio import FFMPEG_EXE, LineAudio, combine_lines  # type: ignore[assignment]

    chosen = pool_lines(args.pool, args.minutes)
    before = rss_bytes(os.getpid())

    def lazily() -> Iterator[LineAudio]:
        for speaker, path in chosen:
            yield LineAudio(speaker, path.read_bytes())

    with RssSampler(os.getpid()) as sampler:
        started = time.perf_counter()
        combined = combine_lines(lazily()) if args.impl == "new" else combine_lines(list(lazily()))
        seconds = time.perf_counter() - started
    peak = sampler.peak_self
    children = max(
        sampler.peak_children, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    )
    print(
        json.dumps(
            {
                "impl": args.impl,
                "minutes": args.minutes,
                "lines": len(chosen),
                "seconds": seconds,
                "audio_seconds": combined.duration_seconds,
                "rss_before": before,
                "rss_peak": peak,
                "ffmpeg_peak": children,
                "lufs": measure_lufs(combined.mp3, FFMPEG_EXE),
            }
        )
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
