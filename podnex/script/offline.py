"""The offline script writer: a grounded host/guest dialogue from notes, without a model.

The writer parses the notes (`podnex.script.notes`), then builds a conversation that
follows the notes' sections in order: the host opens by naming the topic, introduces
each section with a question, and the guest answers with the notes' own sentences (one
to three a line), the host bridging between answers so the speakers strictly alternate.
A closing exchange ends the episode.

Length. Each duration has a word target (`TARGET_WORDS`). When the notes hold more than
fits, sentences are selected: every section keeps a quota proportional to its size (at
least one sentence), and a section keeping m sentences is cut into m equal windows whose
best-scoring sentence (recurring content words, comfortable length) is kept, so the
beginning, middle and end are all covered and order is preserved. The number of kept
sentences is bisected so the script lands just under the target; too many sections for
the budget are first merged into balanced consecutive groups. When everything fits, a
LONG episode adds grounded extras (a closing summary of key points, "why does that
matter" follow-ups the guest answers by restating the notes, host recaps) while it stays
under the target. Nothing is invented: every factual sentence spoken is from the notes.

Phrasing varies with a stable hash (SHA-256) of the topic and position, so the same
input always gives the same script.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from podnex.script.base import ScriptError, WriteRequest
from podnex.script.notes import ParsedNotes, Section, clean_text, parse_document
from podnex.script.types import Duration, Script, ScriptLine, Speaker

WORDS_PER_MINUTE = 150
TARGET_WORDS: dict[Duration, int] = {Duration.SHORT: 750, Duration.LONG: 2250}

#: Words a guest answer packs before a new line starts (a single sentence may be longer).
_ANSWER_WORDS = 70
#: Most sentences in one guest answer.
_ANSWER_SENTENCES = 3
#: Longest guest elaboration (LONG follow-ups).
_ELABORATION_WORDS = 75
#: Longest closing summary of key points (sentences, not counting the lead-in).
_SUMMARY_WORDS = 70
#: Words reserved for the opening and closing when deciding how many sections fit.
_FRAME_WORDS = 100
#: Words each section needs at least (question plus one sentence).
_SECTION_WORDS = 60
#: Headings longer than this are not read out in a question.
_MAX_HEADING_WORDS = 12
#: A topic derived from the first sentence keeps at most this many words.
_TOPIC_WORDS = 8

_STOPWORD_TEXT = """
    a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each few
    for from further had has have having he her here hers him his how i if in into is it its
    itself just let me more most my no nor not now of off on once only or other our ours out
    over own same she should so some such than that the their them then there these they this
    those through to too under until up very was we were what when where which while who whom
    why will with would you your yours one two use used using get gets may might must
    shall like via per etc"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())
_TERM = re.compile(r"[a-z0-9][a-z0-9'-]*")

_OPENINGS = (
    "Welcome to the show. Today we're talking about {topic}, and my guest has been "
    "through all the notes.",
    "Hello and welcome. This episode is all about {topic}, and I've got a guest here to "
    "walk us through it.",
    "Hi everyone, and welcome. We're diving into {topic} today, with a guest who knows "
    "the material well.",
)
_GREETINGS = (
    "Thanks for having me. Happy to be here.",
    "Glad to be here. Let's get into it.",
    "Thanks, it's great to be on the show.",
)
_FIRST_QUESTIONS = (
    "Let's start with {heading}. What should people know first?",
    "To kick things off, let's talk about {heading}. What's the big picture?",
    "First up: {heading}. Where do we begin?",
)
_FIRST_OPEN_QUESTIONS = (
    "So where do we begin?",
    "What's the first thing people should know?",
    "Let's start at the beginning. What stands out?",
)
_NEXT_QUESTIONS = (
    "Let's move on to {heading}. What's important there?",
    "Next up: {heading}. What can you tell us?",
    "Now, {heading}. What should we know about that?",
    "Let's turn to {heading}. What stands out?",
)
_NEXT_OPEN_QUESTIONS = (
    "What else should we know?",
    "What comes next?",
    "Where does it go from here?",
    "What's the next point?",
)
_QUESTION_LEADS = (
    "Here's a question for you. {heading}",
    "Let me ask you this. {heading}",
    "That brings us to a question. {heading}",
)
_BRIDGES = (
    "Interesting. What else?",
    "Okay. Tell me more.",
    "Go on.",
    "That makes sense. And then?",
    "Right. What's next?",
    "Got it. Keep going.",
    "I see. What else should we know?",
)
_FOLLOW_UPS = (
    "Why does that matter?",
    "Can you unpack that a little?",
    "What's the key idea there?",
    "How would you put that simply?",
    "Why is that worth stressing?",
)
_ELABORATION_LEADS = (
    "The key point is this.",
    "Put simply, it comes down to this.",
    "Here's the heart of it.",
    "If you remember one thing, make it this.",
)
_REPEAT_LEADS = (
    "It's worth saying twice.",
    "Let me repeat that, because it matters.",
    "I'll say it again.",
)
_ECHO_LEADS = (
    "It ties back to an earlier point:",
    "It echoes something from earlier:",
    "And it connects with what we said before:",
)
_RECAPS = (
    "So, to recap {heading}: {point}",
    "Let me sum up {heading} for a second. {point}",
    "The takeaway on {heading} is this. {point}",
)
_OPEN_RECAPS = (
    "So, to recap that part: {point}",
    "Let me sum that up for a second. {point}",
    "The takeaway there is this. {point}",
)
_SUMMARY_LEADS = (
    "Before we wrap up, let's recap the key points.",
    "Let me pull it all together before we finish.",
    "Quick recap before we go.",
)
_SUMMARY_REPLIES = (
    "That sums it up nicely.",
    "That's a good summary.",
    "Yes, those are the big ones.",
)
_THANKS = (
    "This has been great. Thank you for walking us through {topic}.",
    "Thanks so much for breaking down {topic} for us.",
    "Really helpful. Thank you for taking us through {topic}.",
)
_SIGN_OFFS = (
    "Thanks for having me. It was a pleasure.",
    "My pleasure. Thanks for having me, and thanks to everyone listening.",
    "Thank you. I enjoyed it.",
)
_CLOSINGS = (
    "And thank you all for listening. Until next time.",
    "That's all for today. Thanks for listening, and see you next time.",
    "Thanks for tuning in. Take care, and see you soon.",
)


@dataclass(frozen=True)
class _Sentence:
    """One sentence of the notes with what selection needs to know about it."""

    index: int
    text: str
    words: int
    terms: tuple[str, ...]
    score: float


@dataclass(frozen=True)
class _Part:
    """A section of the notes as the dialogue treats it (consecutive sections may merge)."""

    heading: str | None
    sentences: tuple[_Sentence, ...]


@dataclass(frozen=True)
class _Exchange:
    """A host prompt and the guest's reply, added as grounded extra material."""

    host: str
    guest: str

    @property
    def words(self) -> int:
        """Words this exchange adds to the script."""
        return _word_count(self.host) + _word_count(self.guest)


_Answers = tuple[tuple[tuple[_Sentence, ...], ...], ...]


@dataclass(frozen=True)
class _Extras:
    """The extras chosen for one script, by place.

    ``follow_ups`` is keyed by (part, answer) and follows that answer; ``recaps`` (host
    only) close a part; ``summary`` comes just before the closing thanks.
    """

    follow_ups: dict[tuple[int, int], _Exchange]
    recaps: dict[int, str]
    summary: _Exchange | None


_NO_EXTRAS = _Extras(follow_ups={}, recaps={}, summary=None)


class OfflineScriptWriter:
    """Writes a host/guest script grounded in the notes, offline and deterministically."""

    name = "offline"

    def write(self, notes: str, duration: Duration, title: str | None = None) -> Script:
        """Turn notes into a script of about `TARGET_WORDS[duration]` words (at most +20%).

        Raises ``ValueError("notes contain no speakable text")`` when nothing speakable
        remains once markup, code, URLs and the like are removed.
        """
        parsed = parse_document(notes)
        if not parsed.sections:
            raise ValueError("notes contain no speakable text")
        target = TARGET_WORDS[duration]
        script_title, topic = _title_and_topic(title, parsed)
        max_parts = max(1, (target - _FRAME_WORDS) // _SECTION_WORDS)
        parts = _merge_parts(_score_sections(parsed.sections), max_parts)
        composer = _Composer(topic, parts)
        answers, complete = _fit(composer, target)
        extras = _NO_EXTRAS
        if duration == "LONG" and complete:
            extras = _choose_extras(composer, answers, target)
        return Script(title=script_title, lines=composer.compose(answers, extras))


# --------------------------------------------------------------------------- title and topic


def _title_and_topic(title: str | None, parsed: ParsedNotes) -> tuple[str, str]:
    """The script's title and the topic the host names (the title, cleaned for speech)."""
    given = " ".join(title.split()) if title else ""
    spoken = clean_text(given).rstrip(" .:;,") if given else ""
    derived = _derived_topic(parsed)
    return (given or derived), (spoken or derived)


def _derived_topic(parsed: ParsedNotes) -> str:
    """A topic from the first heading, else a short phrase from the first sentence."""
    if parsed.first_heading:
        return _trim_words(parsed.first_heading, _MAX_HEADING_WORDS)
    first = parsed.sections[0].sentences[0]
    phrase = re.split(r"[,;:.!?(]\s", first + " ", maxsplit=1)[0]
    if len(phrase.split()) < 3:
        phrase = first
    return _trim_words(phrase, _TOPIC_WORDS).rstrip(" .,;:!?") or first.rstrip(" .!?")


def _trim_words(text: str, limit: int) -> str:
    """The first ``limit`` words of a text."""
    return " ".join(text.split()[:limit])


# --------------------------------------------------------------------------- scoring


def _terms(text: str) -> tuple[str, ...]:
    """The distinct content words of a sentence, in order of appearance."""
    found = (term for term in _TERM.findall(text.lower()) if term not in _STOPWORDS)
    return tuple(dict.fromkeys(term for term in found if len(term) > 2))


def _score_sections(sections: Sequence[Section]) -> list[_Part]:
    """Attach to every sentence its position, length, content words and a salience score.

    The score favours sentences whose content words recur across the notes (their main
    themes) and of a comfortable spoken length (8 to 35 words).
    """
    term_lists = [[_terms(text) for text in section.sentences] for section in sections]
    frequency = Counter(term for terms in term_lists for sentence in terms for term in sentence)
    parts: list[_Part] = []
    index = 0
    for section, section_terms in zip(sections, term_lists, strict=True):
        sentences: list[_Sentence] = []
        for text, terms in zip(section.sentences, section_terms, strict=True):
            words = len(text.split())
            salience = sum(math.log1p(frequency[term]) for term in terms) / (len(terms) + 2)
            fit = 1.0 if 8 <= words <= 35 else 0.75
            sentences.append(_Sentence(index, text, words, terms, salience * fit))
            index += 1
        parts.append(_Part(section.heading, tuple(sentences)))
    return parts


def _merge_parts(parts: list[_Part], max_parts: int) -> list[_Part]:
    """Merge consecutive sections into at most ``max_parts`` parts of balanced size."""
    if len(parts) <= max_parts:
        return parts
    total = sum(sentence.words for part in parts for sentence in part.sentences)
    groups: dict[int, list[_Part]] = {}
    before = 0
    for part in parts:
        groups.setdefault(before * max_parts // total, []).append(part)
        before += sum(sentence.words for sentence in part.sentences)
    return [
        _Part(
            _joined_heading([part.heading for part in group]),
            tuple(sentence for part in group for sentence in part.sentences),
        )
        for group in groups.values()
    ]


def _joined_heading(headings: list[str | None]) -> str | None:
    """A heading for merged sections: "A and B" when short enough, else the first one."""
    present = [heading.rstrip("?") for heading in headings if heading]
    if not present:
        return None
    if len(present) <= 3:
        joined = " and ".join(
            [", ".join(present[:-1]), present[-1]] if len(present) > 1 else present
        )
        if len(joined.split()) <= _MAX_HEADING_WORDS:
            return joined
    return present[0]


# --------------------------------------------------------------------------- selection


def _quotas(parts: Sequence[_Part], total: int) -> list[int]:
    """Split ``total`` kept sentences across parts in proportion to their size.

    Every part keeps at least one sentence and at most all of its own; the rest is shared
    by largest remainder (earlier parts win ties), so the total moves one at a time.
    """
    sizes = [len(part.sentences) for part in parts]
    available = sum(sizes)
    shares = [total * size / available for size in sizes]
    quotas = [
        min(size, max(1, math.floor(share))) for size, share in zip(sizes, shares, strict=True)
    ]
    order = sorted(range(len(parts)), key=lambda i: (quotas[i] - shares[i], i))
    for index in order[: max(0, total - sum(quotas))]:
        if quotas[index] < sizes[index]:
            quotas[index] += 1
    return quotas


def _select(parts: Sequence[_Part], total: int) -> list[tuple[_Sentence, ...]]:
    """Keep about ``total`` sentences, spread across the parts and across each part.

    A part of n sentences keeping m of them is cut into m equal windows; the best-scoring
    sentence of each window is kept (ties go to the earlier one), in original order.
    """
    selection: list[tuple[_Sentence, ...]] = []
    for part, keep in zip(parts, _quotas(parts, total), strict=True):
        count = len(part.sentences)
        windows = (part.sentences[w * count // keep : (w + 1) * count // keep] for w in range(keep))
        selection.append(tuple(_top(window) for window in windows))
    return selection


def _pack(sentences: Sequence[_Sentence]) -> tuple[tuple[_Sentence, ...], ...]:
    """Pack a part's sentences into guest answers of 1 to 3 sentences and ~70 words."""
    answers: list[tuple[_Sentence, ...]] = []
    current: list[_Sentence] = []
    for sentence in sentences:
        words = sum(s.words for s in current) + sentence.words
        if current and (len(current) >= _ANSWER_SENTENCES or words > _ANSWER_WORDS):
            answers.append(tuple(current))
            current = []
        current.append(sentence)
    if current:
        answers.append(tuple(current))
    return tuple(answers)


def _fit(composer: _Composer, target: int) -> tuple[_Answers, bool]:
    """Choose the answers: all sentences when they fit the target, else as many as fit.

    The number of kept sentences is bisected between one a part and all of them, so the
    script lands just under the target. Returns the answers and whether they hold every
    sentence of the notes.
    """

    def answers_for(total: int) -> _Answers:
        return tuple(_pack(chosen) for chosen in _select(composer.parts, total))

    low, high = len(composer.parts), len(composer.sentences)
    everything = answers_for(high)
    if composer.words(everything, _NO_EXTRAS) <= target:
        return everything, True
    best = answers_for(low)
    low += 1
    while low < high:
        middle = (low + high) // 2
        candidate = answers_for(middle)
        if composer.words(candidate, _NO_EXTRAS) <= target:
            best, low = candidate, middle + 1
        else:
            high = middle
    return best, False


# --------------------------------------------------------------------------- extras


def _choose_extras(composer: _Composer, answers: _Answers, target: int) -> _Extras:
    """Add grounded extras in priority order while the script stays within the target.

    Priority: the closing summary, then a follow-up on each answer taken round-robin
    across parts (so early and late parts both gain), then a recap per part, then, for
    answers still without a follow-up, a plain repeat of their key sentence.
    """
    budget = target - composer.words(answers, _NO_EXTRAS)
    closing = composer.summary()
    summary = closing if closing.words <= budget else None
    if summary:
        budget -= summary.words
    follow_ups: dict[tuple[int, int], _Exchange] = {}
    rounds = max(len(part_answers) for part_answers in answers)
    for answer_index in range(rounds):
        for part_index, part_answers in enumerate(answers):
            if answer_index >= len(part_answers):
                continue
            exchange = composer.follow_up(part_index, answer_index, part_answers[answer_index])
            if exchange is not None and exchange.words <= budget:
                follow_ups[(part_index, answer_index)] = exchange
                budget -= exchange.words
    recaps: dict[int, str] = {}
    for part_index in range(len(answers)):
        recap = composer.recap(part_index)
        if _word_count(recap) <= budget:
            recaps[part_index] = recap
            budget -= _word_count(recap)
    for part_index, part_answers in enumerate(answers):
        for answer_index, answer in enumerate(part_answers):
            exchange = composer.repeat(part_index, answer_index, answer)
            if (part_index, answer_index) not in follow_ups and exchange.words <= budget:
                follow_ups[(part_index, answer_index)] = exchange
                budget -= exchange.words
    return _Extras(follow_ups=follow_ups, recaps=recaps, summary=summary)


def _echo(earlier: Sequence[_Sentence], answer: Sequence[_Sentence]) -> _Sentence | None:
    """The earlier sentence sharing the most content words with ``answer`` (nearest on ties).

    None when no earlier sentence shares a content word.
    """
    terms = {term for sentence in answer for term in sentence.terms}
    best: _Sentence | None = None
    best_overlap = 0
    for sentence in earlier:
        overlap = sum(1 for term in sentence.terms if term in terms)
        if overlap >= best_overlap and overlap > 0:
            best, best_overlap = sentence, overlap
    return best


def _top(sentences: Sequence[_Sentence]) -> _Sentence:
    """The best-scoring sentence (the earliest one on ties)."""
    return max(sentences, key=lambda s: (s.score, -s.index))


# --------------------------------------------------------------------------- composition


def _pick(options: Sequence[str], *key: object) -> str:
    """Choose a phrasing by a stable hash of ``key`` (never the salted built-in hash)."""
    digest = hashlib.sha256("\x1f".join(map(str, key)).encode()).digest()
    return options[int.from_bytes(digest[:4], "big") % len(options)]


def _word_count(text: str) -> int:
    """Words in a text, counted as `Script.word_count` counts them."""
    return len(text.split())


class _Dialogue:
    """Accumulates spoken turns; consecutive turns by one speaker join into one line."""

    def __init__(self) -> None:
        self._turns: list[tuple[Speaker, list[str]]] = []

    def say(self, speaker: Speaker, text: str) -> None:
        """Add text for a speaker, continuing their line if they spoke last."""
        if self._turns and self._turns[-1][0] == speaker:
            self._turns[-1][1].append(text)
        else:
            self._turns.append((speaker, [text]))

    def lines(self) -> list[ScriptLine]:
        """The finished lines of dialogue."""
        return [ScriptLine(speaker=speaker, text=" ".join(texts)) for speaker, texts in self._turns]


class _Composer:
    """Renders answers and extras into dialogue for one topic and its parts."""

    def __init__(self, topic: str, parts: list[_Part]) -> None:
        self.topic = topic
        self.parts = parts
        self.sentences = [sentence for part in parts for sentence in part.sentences]

    def compose(self, answers: _Answers, extras: _Extras) -> list[ScriptLine]:
        """The whole script: opening, each part's questions and answers, closing."""
        dialogue = _Dialogue()
        self._render(dialogue.say, answers, extras)
        return dialogue.lines()

    def words(self, answers: _Answers, extras: _Extras) -> int:
        """The script's word count, without building its lines."""
        total = 0

        def count(_speaker: Speaker, text: str) -> None:
            nonlocal total
            total += _word_count(text)

        self._render(count, answers, extras)
        return total

    def _render(
        self, say: Callable[[Speaker, str], None], answers: _Answers, extras: _Extras
    ) -> None:
        topic = self.topic
        say("host", _pick(_OPENINGS, topic, "opening").format(topic=topic))
        say("guest", _pick(_GREETINGS, topic, "greeting"))
        for part_index, part_answers in enumerate(answers):
            say("host", self._question(part_index))
            for answer_index, answer in enumerate(part_answers):
                if answer_index:
                    say("host", _pick(_BRIDGES, topic, "bridge", part_index, answer_index))
                say("guest", " ".join(sentence.text for sentence in answer))
                follow_up = extras.follow_ups.get((part_index, answer_index))
                if follow_up:
                    say("host", follow_up.host)
                    say("guest", follow_up.guest)
            recap = extras.recaps.get(part_index)
            if recap:
                say("host", recap)
        if extras.summary:
            say("host", extras.summary.host)
            say("guest", extras.summary.guest)
        say("host", _pick(_THANKS, topic, "thanks").format(topic=topic))
        say("guest", _pick(_SIGN_OFFS, topic, "sign-off"))
        say("host", _pick(_CLOSINGS, topic, "closing"))

    def _heading(self, part_index: int) -> str | None:
        """The part's heading as the host can say it, or None to ask an open question."""
        heading = self.parts[part_index].heading
        if not heading or len(heading.split()) > _MAX_HEADING_WORDS:
            return None
        if part_index == 0 and heading.casefold() == self.topic.casefold():
            return None
        return heading

    def _question(self, part_index: int) -> str:
        """The host's question that introduces a part."""
        heading = self._heading(part_index)
        key = (self.topic, "question", part_index)
        if heading and heading.endswith("?"):
            return _pick(_QUESTION_LEADS, *key).format(heading=heading)
        options: Sequence[str]
        if part_index == 0:
            options = _FIRST_QUESTIONS if heading else _FIRST_OPEN_QUESTIONS
        else:
            options = _NEXT_QUESTIONS if heading else _NEXT_OPEN_QUESTIONS
        return _pick(options, *key).format(heading=heading)

    def follow_up(
        self, part_index: int, answer_index: int, answer: Sequence[_Sentence]
    ) -> _Exchange | None:
        """A "why does that matter" exchange grounded in what was already said.

        The guest restates the answer's key sentence (when the answer has several) and an
        earlier sentence of the notes that shares content words with it. None when there
        is neither: repeating a one-sentence answer straight away adds nothing.
        """
        key = (self.topic, "follow-up", part_index, answer_index)
        pieces: list[str] = []
        if len(answer) > 1:
            pieces += [_pick(_ELABORATION_LEADS, *key), _top(answer).text]
        echo = _echo(self.sentences[: answer[0].index], answer)
        if echo:
            echoed = [*pieces, _pick(_ECHO_LEADS, *key), echo.text]
            if _word_count(" ".join(echoed)) <= _ELABORATION_WORDS:
                pieces = echoed
        if not pieces:
            return None
        return _Exchange(host=_pick(_FOLLOW_UPS, *key), guest=" ".join(pieces))

    def repeat(self, part_index: int, answer_index: int, answer: Sequence[_Sentence]) -> _Exchange:
        """A follow-up the guest answers by plainly repeating the answer's key sentence."""
        key = (self.topic, "repeat", part_index, answer_index)
        reply = f"{_pick(_REPEAT_LEADS, *key)} {_top(answer).text}"
        return _Exchange(host=_pick(_FOLLOW_UPS, *key), guest=reply)

    def recap(self, part_index: int) -> str:
        """A host recap of a part, restating its best sentence after the first-ranked one."""
        sentences = self.parts[part_index].sentences
        ranked = sorted(sentences, key=lambda s: (-s.score, s.index))
        point = ranked[1] if len(ranked) > 1 else ranked[0]
        heading = self._heading(part_index)
        key = (self.topic, "recap", part_index)
        if heading and not heading.endswith("?"):
            return _pick(_RECAPS, *key).format(heading=heading, point=point.text)
        return _pick(_OPEN_RECAPS, *key).format(point=point.text)

    def summary(self) -> _Exchange:
        """The closing summary: the best sentence of each third of the notes, while they fit."""
        count = len(self.sentences)
        thirds = min(3, count)
        points: list[str] = []
        words = 0
        for third in range(thirds):
            point = _top(self.sentences[third * count // thirds : (third + 1) * count // thirds])
            if points and words + point.words > _SUMMARY_WORDS:
                continue
            points.append(point.text)
            words += point.words
        host = " ".join([_pick(_SUMMARY_LEADS, self.topic, "summary"), *points])
        return _Exchange(host=host, guest=_pick(_SUMMARY_REPLIES, self.topic, "summary-reply"))


# --------------------------------------------------------------------------- async adapter


class AsyncOfflineWriter:
    """The offline writer behind the async `ScriptWriter` protocol.

    Runs `OfflineScriptWriter.write` in a worker thread; ``language`` and
    ``instructions`` are ignored (the offline writer speaks the notes' own sentences).
    Notes with nothing speakable raise a non-retryable ``ScriptError`` of kind
    ``InvalidNotes``.
    """

    name = "offline"

    def __init__(self, writer: OfflineScriptWriter | None = None) -> None:
        self.writer = writer or OfflineScriptWriter()

    async def write(self, request: WriteRequest) -> Script:
        """Write the script for ``request`` off the event loop."""
        try:
            return await asyncio.to_thread(
                self.writer.write, request.notes, request.duration, request.title
            )
        except ValueError as exc:
            raise ScriptError(str(exc), retryable=False, kind="InvalidNotes") from exc
