"""The offline script writer: a grounded host/guest conversation from notes, without a model.

1. Reading (`podnex.script.notes`): the notes become sections of clean, speakable
   sentences; navigation, markup, code, tables of badges, IDs and sign-offs are gone.
2. Choosing (`podnex.script.select`): sentences are ranked by the notes' key phrases
   (YAKE) and repeats removed; each part of the notes keeps a share in proportion to its
   size, its best sentences, in order.
3. Talking (`podnex.script.conversation`): the host names the subject, asks about each
   part from its heading or key phrase, reacts and asks on; the guest explains, flags
   caveats and sometimes asks back; the episode ends with two or three key points.

Length is set in minutes, not words. An episode's playing time is estimated from each
line once made speakable (`podnex.speakable`: "$9,000" is three words aloud), measured
in words of typical length (`_LETTERS_PER_WORD`: a long word takes longer to say than a
short one, a comma or full stop adds a break), at the speech engine's rate, plus the
silences `podnex.pacing.pauses` leaves between the lines. SHORT aims at about
`TARGET_MINUTES["SHORT"]` and never passes `MAX_MINUTES["SHORT"]`; LONG likewise. The
number of sentences kept is bisected to land under the aim. Notes that hold less than
that make a shorter episode: nothing is repeated to fill time.

Phrasing varies with a stable hash (SHA-256) of the topic and position, so the same
input always gives the same script.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from functools import lru_cache

from podnex.pacing import pauses
from podnex.script.base import ScriptError, WriteRequest
from podnex.script.conversation import Composer
from podnex.script.notes import ParsedNotes, clean_text, parse_document
from podnex.script.select import Part, Sentence, merge_parts, score_sections, select
from podnex.script.types import Duration, Script, ScriptLine
from podnex.speakable import speakable

WORDS_PER_MINUTE = 150
"""Speaking rate assumed when the engine's is not known (OpenAI-like voices, about 150)."""
TARGET_MINUTES: dict[Duration, float] = {Duration.SHORT: 4.6, Duration.LONG: 14.5}
"""Playing time each duration aims at when the notes hold enough."""
MAX_MINUTES: dict[Duration, float] = {Duration.SHORT: 5.5, Duration.LONG: 16.0}
"""Playing time an episode never passes."""
PAUSE_SECONDS = 0.45
"""Average silence between two lines assumed by `TARGET_WORDS` (for writers that count
words). `estimate_minutes` adds the script's own pauses (`podnex.pacing.pauses`: 0.45-0.62 s
on average on the quality set's scripts)."""
_TYPICAL_WORDS_PER_LINE = 22
TARGET_WORDS: dict[Duration, int] = {
    duration: round(
        minutes
        * WORDS_PER_MINUTE
        / (1 + PAUSE_SECONDS * WORDS_PER_MINUTE / 60 / _TYPICAL_WORDS_PER_LINE)
    )
    for duration, minutes in TARGET_MINUTES.items()
}
"""Words of dialogue that fill each target at `WORDS_PER_MINUTE` (for writers that count words)."""

#: Words a guest answer packs before the host speaks again (a single sentence may be longer).
_ANSWER_WORDS = 30
_ANSWER_SENTENCES = 2
#: Parts (groups of sections) a SHORT or LONG episode can give a question each.
_MAX_PARTS: dict[Duration, int] = {Duration.SHORT: 8, Duration.LONG: 22}
#: Headings longer than this are not named as the topic.
_MAX_HEADING_WORDS = 12
_TOPIC_WORDS = 8
#: First headings that name a section, not the subject of the notes.
_GENERIC_HEADINGS = re.compile(
    r"^(?:introduction|intro|overview|summary|abstract|about|description|background"
    r"|installation|install|installing|getting started|quick ?start|usage|features"
    r"|requirements|prerequisites|setup|set ?up|changelog|change ?log|changes|history"
    r"|release notes|news|what's new|notes|readme|contents|table of contents|type safe"
    r"|version .*|v?\d[\w.-]*|agenda|minutes|attendees|tl;?dr|motivation|example|examples"
    r"|documentation|docs|license|contributing|faq)$",
    re.IGNORECASE,
)
_SUBJECT_SENTENCE = re.compile(
    r"^(?:The\s+)?([A-Z][\w.+-]*(?:\s+[A-Z][\w.+-]*){0,3})\s+(?:is|are|was|provides|lets"
    r"|offers|makes|helps)\b"
)


_LETTERS_PER_WORD = 6.0
"""Letters in a word of a speaking rate, each clause break counted as `_BREAK_LETTERS`.
Fitted on the quality set's scripts spoken by espeak-ng (docs/quality.md): at its rate of
160 words a minute (`ESPEAK_SPOKEN_WORDS_PER_MINUTE`) a letter took 0.062 s and a break
0.29 s, so 60 / 160 / 0.062 = 6.0 letters a word; each episode's speech came within 4 %
of the estimate, where counting plain words was 5-12 % off (espeak says a script of short
words, a changelog, at 180 words a minute, one of long words at 160)."""
_BREAK_LETTERS = 4.5
"""A comma, colon, semicolon, full stop or question mark takes about as long as 4.5
letters (0.29 s against 0.062 s a letter, espeak-ng, the same fit)."""
_LETTER = re.compile(r"[^\W_]|'")
_BREAK = re.compile(r"[,;:.!?]")


def estimate_minutes(
    lines: Sequence[ScriptLine], words_per_minute: float = WORDS_PER_MINUTE
) -> float:
    """The playing time of a script: its speakable words at the rate, plus the pauses.

    Words are counted at their typical length (`_LETTERS_PER_WORD`), so a line of short
    words is quicker than one of long ones, as an engine says them; the pauses are those
    the mix leaves (`podnex.pacing.pauses`).
    """
    words = sum(_spoken_words(line.text) for line in lines)
    silence = sum(pauses(lines)) / 1000
    return (words / words_per_minute * 60 + silence) / 60


@lru_cache(maxsize=8192)
def _spoken_words(text: str) -> float:
    """The words of typical length a line has once made speakable."""
    spoken = speakable(text)
    letters = len(_LETTER.findall(spoken)) + _BREAK_LETTERS * len(_BREAK.findall(spoken))
    return letters / _LETTERS_PER_WORD


class OfflineScriptWriter:
    """Writes a host/guest script grounded in the notes, offline and deterministically."""

    name = "offline"

    def write(
        self,
        notes: str,
        duration: Duration,
        title: str | None = None,
        *,
        words_per_minute: float | None = None,
    ) -> Script:
        """Turn notes into a conversation of about `TARGET_MINUTES[duration]` minutes.

        ``words_per_minute`` is the speech engine's rate (`WORDS_PER_MINUTE` when None).
        Raises ``ValueError("notes contain no speakable text")`` when nothing speakable
        remains once markup, code, URLs and the like are removed.
        """
        parsed = parse_document(notes)
        if not parsed.sections:
            raise ValueError("notes contain no speakable text")
        rate = words_per_minute or WORDS_PER_MINUTE
        script_title, topic = _title_and_topic(title, parsed)
        parts = merge_parts(score_sections(parsed.sections), _MAX_PARTS[duration])
        if not parts:
            raise ValueError("notes contain no speakable text")
        composer = Composer(topic, parts, long=duration == "LONG")
        lines = _fit(composer, parts, TARGET_MINUTES[duration], MAX_MINUTES[duration], rate)
        return Script(title=script_title, lines=lines)


# --------------------------------------------------------------------------- length


def _pack(sentences: Sequence[Sentence]) -> tuple[tuple[Sentence, ...], ...]:
    """Pack a part's sentences into guest answers of one or two sentences."""
    answers: list[tuple[Sentence, ...]] = []
    current: list[Sentence] = []
    for sentence in sentences:
        words = sum(s.words for s in current) + sentence.words
        if current and (len(current) >= _ANSWER_SENTENCES or words > _ANSWER_WORDS):
            answers.append(tuple(current))
            current = []
        current.append(sentence)
    if current:
        answers.append(tuple(current))
    return tuple(answers)


def _fit(
    composer: Composer, parts: Sequence[Part], target: float, ceiling: float, rate: float
) -> list[ScriptLine]:
    """The script with as many sentences as fit the target minutes (all when they fit)."""

    def script_for(total: int) -> list[ScriptLine]:
        return composer.compose([_pack(chosen) for chosen in select(parts, total)])

    low = len(parts)
    high = sum(len(part.sentences) for part in parts)
    everything = script_for(high)
    if estimate_minutes(everything, rate) <= target:
        return everything
    best = script_for(low)
    if estimate_minutes(best, rate) > ceiling:
        return _trim_parts(composer, parts, ceiling, rate)
    low += 1
    while low < high:
        middle = (low + high) // 2
        candidate = script_for(middle)
        if estimate_minutes(candidate, rate) <= target:
            best, low = candidate, middle + 1
        else:
            high = middle
    return best


def _trim_parts(
    composer: Composer, parts: Sequence[Part], ceiling: float, rate: float
) -> list[ScriptLine]:
    """One sentence a part is still too long: keep the best parts' best sentences."""
    firsts = [max(part.sentences, key=lambda s: (s.score, -s.index)) for part in parts]
    ranked = sorted(range(len(parts)), key=lambda i: (-firsts[i].score, i))
    keep = len(parts)
    while keep > 1:
        kept = sorted(ranked[:keep])
        answers = [((firsts[i],),) if i in kept else () for i in range(len(parts))]
        lines = composer.compose(answers)
        if estimate_minutes(lines, rate) <= ceiling:
            return lines
        keep -= 1
    best = ranked[0]
    return composer.compose([((firsts[i],),) if i == best else () for i in range(len(parts))])


# --------------------------------------------------------------------------- title and topic


def _title_and_topic(title: str | None, parsed: ParsedNotes) -> tuple[str, str]:
    """The script's title and the topic the host names (the title, cleaned for speech)."""
    given = " ".join(title.split()) if title else ""
    spoken = clean_text(given).rstrip(" .:;,") if given else ""
    derived = _derived_topic(parsed)
    return (given or derived), (spoken or derived)


def _derived_topic(parsed: ParsedNotes) -> str:
    """The subject of the notes: the first real heading, else the first sentence's subject.

    A heading that only names a kind of section ("Installation", "Version 1.2") is not the
    subject; "Litestar is a ... framework" names it.
    """
    if (
        parsed.first_heading
        and len(parsed.first_heading) >= 3
        and not _GENERIC_HEADINGS.match(parsed.first_heading)
    ):
        return _trim_words(parsed.first_heading, _MAX_HEADING_WORDS)
    for section in parsed.sections:
        heading = section.heading
        if (
            heading
            and len(heading) >= 3
            and not _GENERIC_HEADINGS.match(heading)
            and section is parsed.sections[0]
        ):
            return _trim_words(heading, _MAX_HEADING_WORDS)
    first = parsed.sections[0].sentences[0]
    subject = _SUBJECT_SENTENCE.match(first)
    if subject:
        return subject.group(1)
    phrase = re.split(r"[,;:.!?(]\s", first + " ", maxsplit=1)[0]
    if len(phrase.split()) < 3:
        phrase = first
    return _trim_words(phrase, _TOPIC_WORDS).rstrip(" .,;:!?") or first.rstrip(" .!?")


def _trim_words(text: str, limit: int) -> str:
    """The first ``limit`` words of a text."""
    return " ".join(text.split()[:limit])


# --------------------------------------------------------------------------- async adapter


class AsyncOfflineWriter:
    """The offline writer behind the async `ScriptWriter` protocol.

    Runs `OfflineScriptWriter.write` in a worker thread; ``language`` and
    ``instructions`` are ignored (the offline writer speaks the notes' own facts). The
    request's ``words_per_minute`` (the speech engine's rate), when it has one, sets the
    length. Notes with nothing speakable raise a non-retryable ``ScriptError`` of kind
    ``InvalidNotes``.
    """

    name = "offline"

    def __init__(self, writer: OfflineScriptWriter | None = None) -> None:
        self.writer = writer or OfflineScriptWriter()

    async def write(self, request: WriteRequest) -> Script:
        """Write the script for ``request`` off the event loop."""
        rate = getattr(request, "words_per_minute", None)
        try:
            return await asyncio.to_thread(
                self.writer.write,
                request.notes,
                request.duration,
                request.title,
                words_per_minute=rate,
            )
        except ValueError as exc:
            raise ScriptError(str(exc), retryable=False, kind="InvalidNotes") from exc
