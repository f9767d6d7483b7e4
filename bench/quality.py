"""The quality report: real episodes from texts nobody on the project wrote, measured.

    python -m bench.quality                  # the default corpus, SHORT and LONG (make quality)
    python -m bench.quality --notes DIR      # every *.md / *.txt / *.rst file of DIR instead
    python -m bench.quality --write docs/quality.md

For each notes file and duration: the offline writer writes the script at espeak's
measured rate, every line is made speakable (`podnex.speakable`) and spoken by espeak
(host and guest voices), `podnex.audio.combine_lines` mixes the MP3, and the episode is
measured: minutes against the target, the share of words copied from the notes in runs
of 8+ words, questions per speaker, the most repeated phrase, unspeakable tokens in what
was synthesised (URLs, code, markup, IDs, table-of-contents lines), sentences with holes,
repeated sentences, integrated loudness, true peak, the loudness of each speaker and each
speaker's median pitch. No Temporal, no database: the same domain code the worker runs.

The default corpus is gathered from this machine: package READMEs and changelogs from
the virtual environment's ``*.dist-info/METADATA``, Python's own reference docs
(``pydoc_data.topics``), a Debian package changelog and Python's licence (plain prose
with a history table).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gzip
import platform
import re
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from podnex.audio import FFMPEG_EXE, LineAudio, combine_lines
from podnex.pacing import pauses
from podnex.script.notes import has_hole, parse_document
from podnex.script.offline import MAX_MINUTES, TARGET_MINUTES, OfflineScriptWriter
from podnex.script.types import Duration, Script
from podnex.speakable import speakable
from podnex.speech.espeak import ESPEAK_SPOKEN_WORDS_PER_MINUTE, EspeakEngine
from tests.audio_analysis import decode_mp3, mean_pitch_hz

ROOT = Path(__file__).resolve().parent.parent
SITE = Path(sys.prefix) / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
RUN_LENGTH = 8
"""Words in a row, all in the notes in the same order, that count as copied verbatim."""

_UNSPEAKABLE = {
    "url": re.compile(r"https?://|www\.|\b[\w-]+\.(?:com|org|io|dev|net)\b", re.IGNORECASE),
    "code": re.compile(r"[`{}=]|\w\(\)|\b\w+_\w+\b|\b\w+\.\w+\(|::|->|>>>|\$ "),
    "markup": re.compile(r"[#*|<>\[\]\\^~]|\]\(|!\["),
    "id": re.compile(r"#\d+|\b[0-9a-f]{7,40}\b|\bnumber \d{4,}|\b\d{6,}\b|\bcloses: ", re.I),
    "email": re.compile(r"\S+@\S+\.\w+"),
}
_WORD = re.compile(r"[a-z0-9']+")
_QUESTION = re.compile(r"[^.!?]*\?")
_SENTENCE = re.compile(r"\S.*?[.!?]+(?=\s|$)")


@dataclass
class Result:
    name: str
    duration: Duration
    minutes: float
    target: str
    verbatim: float
    questions: dict[str, int]
    top_phrase: tuple[str, int]
    repeated_sentences: int
    unspeakable: dict[str, list[str]]
    toc_lines: int
    holes: list[str]
    lufs: float
    true_peak: float
    balance: float
    pitch: dict[str, float]
    words: int
    speech_wpm: float


# --------------------------------------------------------------------------- corpus


def _metadata_body(path: Path) -> str:
    text = path.read_text(encoding="utf-8", errors="replace")
    return text.split("\n\n", 1)[1] if "\n\n" in text else text


def default_corpus(folder: Path) -> list[Path]:
    """Write the default notes into ``folder`` (from this machine) and list them."""
    site = SITE / "site-packages"
    picks: dict[str, str] = {}
    for name, stem in (
        ("readme-litestar.md", "litestar-"),
        ("readme-temporalio.md", "temporalio-"),
        ("changelog-pytest-timeout.rst", "pytest_timeout-"),
        ("readme-python-dotenv.md", "python_dotenv-"),
    ):
        found = sorted(site.glob(f"{stem}*.dist-info/METADATA"))
        if found:
            picks[name] = _metadata_body(found[-1])
    debian = Path("/usr/share/doc/bash/changelog.Debian.gz")
    if debian.exists():
        with gzip.open(debian, "rt") as changelog:
            picks["changelog-debian-bash.txt"] = changelog.read()[:12_000]
    import pydoc_data.topics as topics

    picks["pydoc-with.txt"] = topics.topics["with"]
    picks["pydoc-exceptions.txt"] = topics.topics["exceptions"]
    licence = Path(sys.base_prefix) / "lib" / SITE.name / "LICENSE.txt"
    if licence.exists():
        picks["prose-python-licence.txt"] = licence.read_text()
    paths = []
    for name, text in picks.items():
        path = folder / name
        path.write_text(text[:50_000])
        paths.append(path)
    return paths


# --------------------------------------------------------------------------- text measures


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("\u2019", "'"))


def verbatim_share(script_text: str, notes: str) -> float:
    """Share of the script's words inside runs of `RUN_LENGTH`+ words found in the notes."""
    source = _words(" ".join(sentence for s in parse_document(notes).sections
                             for sentence in s.sentences)) + _words(notes)  # fmt: skip
    grams = {tuple(source[i : i + RUN_LENGTH]) for i in range(len(source) - RUN_LENGTH + 1)}
    words = _words(script_text)
    copied = [False] * len(words)
    for i in range(len(words) - RUN_LENGTH + 1):
        if tuple(words[i : i + RUN_LENGTH]) in grams:
            for j in range(i, i + RUN_LENGTH):
                copied[j] = True
    return sum(copied) / max(1, len(words))


def top_phrase(script: Script) -> tuple[str, int]:
    """The most repeated 4-word phrase of the script and its count."""
    counts: Counter[str] = Counter()
    for line in script.lines:
        words = _words(line.text)
        counts.update(" ".join(words[i : i + 4]) for i in range(len(words) - 3))
    return counts.most_common(1)[0] if counts else ("", 0)


def repeated_sentences(script: Script, notes: str) -> int:
    """Sentences of the notes (5+ words) said more than once (framing phrases are counted
    by the top-phrase column, and may come back twice)."""
    source = " ".join(_words(notes))
    counts = Counter(
        " ".join(_words(sentence))
        for line in script.lines
        for sentence in _SENTENCE.findall(line.text)
        if len(_words(sentence)) >= 5
    )
    return sum(count - 1 for text, count in counts.items() if count > 1 and text in source)


def unspeakable(spoken: list[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for text in spoken:
        for kind, pattern in _UNSPEAKABLE.items():
            for match in pattern.finditer(text):
                found.setdefault(kind, []).append(
                    text[max(0, match.start() - 20) : match.end() + 20]
                )
    return found


def toc_lines(script: Script, notes: str) -> int:
    """Sentences that are only a heading of the notes (a table of contents read out)."""
    headings = set(re.findall(r"^\s*#+\s*(.+?)\s*$", notes, re.MULTILINE))
    headings |= {h.strip("[]") for h in re.findall(r"\[([^\]]+)\]\(#", notes)}
    normal = {" ".join(_words(h)) for h in headings if len(_words(h)) >= 1}
    return sum(
        1
        for line in script.lines
        for sentence in _SENTENCE.findall(line.text)
        if " ".join(_words(sentence)) in normal
    )


# --------------------------------------------------------------------------- audio measures


def _ffmpeg_loudness(pcm: np.ndarray, rate: int) -> tuple[float, float]:
    """Integrated loudness (LUFS) and true peak (dBTP) of float samples, by ffmpeg."""
    data = (np.clip(pcm, -1, 1) * 32767).astype("<i2").tobytes()
    result = subprocess.run(
        [FFMPEG_EXE, "-hide_banner", "-nostats", "-f", "s16le", "-ar", str(rate), "-ac", "1",
         "-i", "pipe:0", "-af", "ebur128=peak=true", "-f", "null", "-"],
        input=data, capture_output=True, check=True,
    )  # fmt: skip
    log = result.stderr.decode(errors="replace")
    summary = log[log.rfind("Integrated loudness:") :]
    lufs = float(re.search(r"I:\s+(-?[\d.]+) LUFS", summary).group(1))  # type: ignore[union-attr]
    peak = float(re.search(r"Peak:\s+(-?[\d.]+|-inf) dBFS", summary).group(1))  # type: ignore[union-attr]
    return lufs, peak


async def _speak(script: Script, engine: EspeakEngine) -> tuple[list[LineAudio], list[str], float]:
    lines: list[LineAudio] = []
    spoken: list[str] = []
    seconds = 0.0
    # The pauses the workflow asks the mix for (podnex.pacing), so minutes are as heard.
    for line, pause in zip(script.lines, pauses(script.lines), strict=True):
        text = speakable(line.text)
        spoken.append(text)
        audio = await engine.synthesize(text, line.speaker)
        seconds += audio.duration_seconds
        lines.append(LineAudio(speaker=line.speaker, wav=audio.wav, pause_before_ms=pause))
    return lines, spoken, seconds


def measure(path: Path, duration: Duration, out: Path | None) -> Result:
    notes = path.read_text()
    writer = OfflineScriptWriter()
    script = writer.write(notes, duration, words_per_minute=ESPEAK_SPOKEN_WORDS_PER_MINUTE)
    engine = EspeakEngine()
    lines, spoken, speech_seconds = asyncio.run(_speak(script, engine))
    combined = combine_lines(lines)
    if out is not None:
        (out / f"{path.stem}-{duration}.mp3").write_bytes(combined.mp3)
        (out / f"{path.stem}-{duration}.txt").write_text(
            "\n".join(f"{line.speaker.upper()}: {line.text}" for line in script.lines)
        )
    samples, rate = decode_mp3(combined.mp3)
    lufs, peak = _ffmpeg_loudness(samples, rate)
    per_speaker: dict[str, list[np.ndarray]] = {}
    for timing in combined.timings:
        start, end = int(timing.start_seconds * rate), int(timing.end_seconds * rate)
        per_speaker.setdefault(timing.speaker, []).append(samples[start:end])
    joined = {speaker: np.concatenate(parts) for speaker, parts in per_speaker.items()}
    loudness = {speaker: _ffmpeg_loudness(audio, rate)[0] for speaker, audio in joined.items()}
    pitch = {speaker: mean_pitch_hz(audio[: rate * 120], rate) for speaker, audio in joined.items()}
    script_text = " ".join(line.text for line in script.lines)
    low, high = TARGET_MINUTES[duration], MAX_MINUTES[duration]
    questions = {
        speaker: sum(
            len(_QUESTION.findall(line.text)) for line in script.lines if line.speaker == speaker
        )
        for speaker in ("host", "guest")
    }
    spoken_words = sum(len(text.split()) for text in spoken)
    return Result(
        name=path.name,
        duration=duration,
        minutes=combined.duration_seconds / 60,
        target=f"~{low:g}, max {high:g}",
        verbatim=verbatim_share(script_text, notes),
        questions=questions,
        top_phrase=top_phrase(script),
        repeated_sentences=repeated_sentences(script, notes),
        unspeakable=unspeakable(spoken),
        toc_lines=toc_lines(script, notes),
        holes=[s for line in script.lines for s in _SENTENCE.findall(line.text) if has_hole(s)],
        lufs=lufs,
        true_peak=peak,
        balance=loudness.get("host", 0.0) - loudness.get("guest", 0.0),
        pitch=pitch,
        words=script.word_count,
        speech_wpm=spoken_words / (speech_seconds / 60) if speech_seconds else 0.0,
    )


# --------------------------------------------------------------------------- report


def table(results: list[Result]) -> str:
    rows = [
        "| notes | dur | min (aim) | verbatim 8+ | Q host/guest | top phrase (n) | rep. sent. "
        "| unspeakable | TOC | holes | LUFS | TP dBTP | host-guest LU | pitch host/guest Hz |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        bad = ", ".join(f"{k} {len(v)}" for k, v in r.unspeakable.items()) or "0"
        rows.append(
            f"| {r.name} | {r.duration} | {r.minutes:.1f} ({r.target}) | {r.verbatim:.0%} "
            f'| {r.questions["host"]}/{r.questions["guest"]} | "{r.top_phrase[0]}" '
            f"({r.top_phrase[1]}) | {r.repeated_sentences} | {bad} | {r.toc_lines} "
            f"| {len(r.holes)} | {r.lufs:.1f} | {r.true_peak:.1f} | {r.balance:+.2f} "
            f"| {r.pitch.get('host', 0):.0f}/{r.pitch.get('guest', 0):.0f} |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--notes", type=Path, help="a folder of notes (*.md, *.txt, *.rst)")
    parser.add_argument("--durations", default="SHORT,LONG")
    parser.add_argument("--out", type=Path, help="keep each episode's MP3 and script here")
    parser.add_argument("--write", type=Path, help="append the results to this document")
    parser.add_argument("--details", action="store_true", help="print each finding")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="podnex-quality-") as tmp:
        if args.notes:
            paths = sorted(p for p in args.notes.iterdir() if p.suffix in (".md", ".txt", ".rst"))
        else:
            paths = default_corpus(Path(tmp))
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
        results: list[Result] = []
        for path in paths:
            for duration in args.durations.split(","):
                result = measure(path, duration, args.out)  # type: ignore[arg-type]
                results.append(result)
                print(
                    f"{path.name} {duration}: {result.minutes:.1f} min, "
                    f"espeak {result.speech_wpm:.0f} spoken words/min",
                    file=sys.stderr,
                )
                if args.details:
                    for kind, found in result.unspeakable.items():
                        print(f"  {kind}: {found[:5]}", file=sys.stderr)
                    for hole in result.holes[:5]:
                        print(f"  hole: {hole}", file=sys.stderr)
    stamp = f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, " \
        f"{platform.machine()}, Python {platform.python_version()}"  # fmt: skip
    report = f"### Run of {stamp}\n\n{table(results)}\n"
    print(report)
    if args.write:
        with args.write.open("a") as handle:
            handle.write("\n" + report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
