"""Captions of a finished episode: its transcript as WebVTT."""

from __future__ import annotations

from collections.abc import Sequence

from podnex.spec import TranscriptLine


def timestamp(seconds: float) -> str:
    """WebVTT's `hh:mm:ss.ttt`."""
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


def escape(text: str) -> str:
    """Cue text as WebVTT requires: `&`, `<` and `>` as character references (so `-->`,
    which may not appear in a cue, becomes `--&gt;`); line breaks as spaces, since a blank
    line would end the cue."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return " ".join(text.split())


def webvtt(lines: Sequence[TranscriptLine]) -> str:
    """The transcript as WebVTT, one cue a line, with the speaker as a voice span
    (`<v Host>`); the text escaped."""
    cues = ["WEBVTT", ""]
    for number, line in enumerate(lines, start=1):
        text = escape(line.text)
        cues += [
            str(number),
            f"{timestamp(line.start_seconds)} --> {timestamp(line.end_seconds)}",
            f"<v {line.speaker.capitalize()}>{text}",
            "",
        ]
    return "\n".join(cues)
