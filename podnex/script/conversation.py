"""Turning selected sentences into a conversation between a host and a guest.

The host opens by naming the subject, asks about each part of the notes with a question
built from its heading or key phrase, reacts to the guest's answer by naming what it was
about, asks the next question from the next answer's key phrase, and closes with a recap
of the episode's key points. The guest explains in the notes' own facts, told in a
spoken register (contractions, no parenthetical asides, plainer connectives), opens with
a caveat when a point is one, and now and then asks the host a question back.

Every phrase pattern is used at most twice an episode (`_Phrases`), so no bridge is heard
over and over; patterns are picked by a stable hash of the topic and position, so the
same notes always give the same script.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Callable, Sequence

from podnex.script.paraphrase import ask_and_answer, pronoun_start, respeak
from podnex.script.select import Part, Sentence
from podnex.script.types import ScriptLine, Speaker

#: A phrase pattern is used at most this many times an episode.
MAX_PHRASE_USES = 2

_OPENINGS = (
    "Welcome to the show. Today we're talking about {topic}, and my guest has been "
    "through all the notes.",
    "Hello and welcome. This episode is all about {topic}, and I've got a guest here to "
    "walk us through it.",
    "Hi everyone, and welcome. We're diving into {topic} today, with a guest who knows "
    "the material well.",
)
_GREETINGS = (
    "Thanks for having me. {topic} is a fun one to unpack.",
    "Glad to be here. There's a lot to like in {topic}, so let's get into it.",
    "Thanks, it's great to be on the show. Happy to talk about {topic}.",
)
_FIRST_QUESTIONS = (
    "Let's start with {subject}. What should people know first?",
    "To kick things off, what's the big picture on {subject}?",
    "First up: {subject}. Where do we begin?",
    "So, {subject}. What's the short version?",
)
_TOPIC_QUESTIONS = (
    "So, what is {topic}, in a nutshell?",
    "Let's start at the beginning. What's {topic} about?",
    "For anyone new to it, how would you describe {topic}?",
)
_PART_QUESTIONS = (
    "Let's move on to {subject}. What's important there?",
    "Next up: {subject}. What can you tell us?",
    "Now, {subject}. What should we know about that?",
    "Let's turn to {subject}. What stands out?",
    "What about {subject}?",
    "How does {subject} fit into all this?",
    "I want to ask about {subject}. What's the story there?",
    "Tell me about {subject}.",
    "Where does {subject} come in?",
    "And {subject}? What's going on there?",
    "Can you walk us through {subject}?",
    "What's worth knowing about {subject}?",
    "Give us the gist of {subject}.",
    "Why should listeners care about {subject}?",
    "What's the main idea behind {subject}?",
)
_LATE_QUESTIONS = (
    "One more area: {subject}.",
    "Let's not skip {subject}.",
    "Quickly, {subject}?",
    "There's also {subject}, right?",
    "{subject}, briefly?",
    "Let's squeeze in {subject}.",
)
_VERSION_QUESTIONS = (
    "What changed in {subject}?",
    "And {subject}? What came with that one?",
    "What did {subject} bring?",
    "Moving on to {subject}. What's new there?",
    "How about {subject}?",
    "Anything notable in {subject}?",
    "And what happened in {subject}?",
)
_REACTIONS = (
    "So {term} is really at the heart of it.",
    "Okay, {term}. That's useful to know.",
    "Interesting, I hadn't thought about {term} that way.",
    "Right, so it comes down to {term}.",
    "That makes sense for {term}.",
    "Good point about {term}.",
    "Got it, {term}.",
    "{Term}, okay.",
    "So {term} matters here.",
    "I like that about {term}.",
    "That's a helpful way to put {term}.",
    "Noted on {term}.",
)
_FOLLOW_UPS = (
    "And what about {term}?",
    "Where does {term} come in?",
    "How does {term} fit with that?",
    "What should people know about {term}?",
    "Tell me more about {term}.",
    "And {term}? How does that work?",
    "So what's the deal with {term}?",
    "Can you say more about {term}?",
    "How does {term} play into this?",
    "What role does {term} play?",
    "Is {term} part of the same picture?",
    "What's the story with {term}?",
)
_OPEN_FOLLOW_UPS = (
    "What else is there?",
    "What comes next?",
    "Where does it go from here?",
    "Anything else on that?",
    "And then?",
    "Keep going, this is good.",
    "What else should we know?",
    "Is there more to it?",
    "And after that?",
    "Go on.",
)
_GUEST_QUESTIONS = (
    "Can I ask you something? Would you have guessed {term} mattered this much?",
    "Have you run into {term} before?",
    "Do you know what surprised me about {term}?",
    "Want to hear the part about {term} I like best?",
)
_HOST_ANSWERS = (
    "Honestly, no. Tell me more.",
    "Only in passing. Go ahead.",
    "No, what was it?",
    "Sure, go ahead.",
)
"""The host's reply to each of `_GUEST_QUESTIONS`, in the same order."""
_ECHOES = (
    "Oh, {term}.",
    "{Term}, nice.",
    "Mm, {term}.",
    "Right, {term}.",
    "Ah, {term}, okay.",
    "{Term}, got it.",
    "Okay, {term}.",
    "Huh, {term}.",
    "I see, {term}.",
    "{Term}, sure.",
    "Nice, {term}.",
    "So, {term}.",
)
"""Short host reactions between two sentences of one answer, naming what was just said."""
_CAVEATS = (
    "There's a catch, though.",
    "I'd add a caveat here.",
    "One thing to watch, though.",
)
_LEADS = ("Sure.", "Well,", "Right.", "Good question.", "So,", "Okay.", "Yes.")
_PART_RECAPS = (
    "So on {subject}, the thing to remember is {term}.",
    "Quick recap on {subject}: {term}.",
    "So {subject} comes down to {term}.",
)
_SUMMARY_QUESTIONS = (
    "Before we wrap up: if listeners remember just a few things, what should they be?",
    "We're nearly out of time. What are the key points to take away?",
    "Let's pull it together. What are the big takeaways?",
)
_SUMMARY_ANSWERS_THREE = (
    "Three things. First, {a}. Second, {b}. And third, {c}.",
    "I'd say {a}, then {b}, and finally {c}.",
)
_SUMMARY_ANSWERS_TWO = (
    "Two things. First, {a}. And second, {b}.",
    "I'd say {a}, and {b}.",
)
_GUEST_WRAP_QUESTIONS = (
    "What stood out for you?",
    "Which of those would you start with?",
    "And you, which one stuck with you?",
)
_HOST_PICKS = (
    "For me, it's {point}.",
    "I'd start with {point}.",
    "{point}, without a doubt.",
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

#: A sentence with one of these is a caveat the guest flags before saying it.
_CONTRAST = re.compile(
    r"\b(?:however|but|not|never|cannot|can't|don't|doesn't|must|only|although|beware"
    r"|careful|warning|avoid|instead)\b",
    re.IGNORECASE,
)


def spoken_style(sentence: str) -> str:
    """A sentence of the notes as a person would say it (`podnex.script.paraphrase.respeak`)."""
    return respeak(sentence)


def _stable(*key: object) -> int:
    digest = hashlib.sha256("\x1f".join(map(str, key)).encode()).digest()
    return int.from_bytes(digest[:4], "big")


class _Phrases:
    """Picks phrase patterns by a stable hash, each at most `MAX_PHRASE_USES` times."""

    def __init__(self, topic: str) -> None:
        self._topic = topic
        self._uses: Counter[str] = Counter()

    def pick(self, options: Sequence[str], *key: object) -> str | None:
        """A pattern not yet used up, or None when all of ``options`` are."""
        start = _stable(self._topic, *key) % len(options)
        for offset in range(len(options)):
            option = options[(start + offset) % len(options)]
            if self._uses[option] < MAX_PHRASE_USES:
                self._uses[option] += 1
                return option
        return None


def _term_text(term: str) -> str:
    """A key phrase as said mid-sentence: lower case unless it is a name or acronym."""
    if any(ch.isupper() for ch in term[1:]) or (term[:1].isupper() and " " not in term):
        return term
    return term.lower()


class Composer:
    """Renders a selection of sentences into dialogue for one topic and its parts."""

    def __init__(self, topic: str, parts: Sequence[Part], long: bool) -> None:
        self.topic = topic
        self.parts = list(parts)
        self.long = long
        self._named: str | None = None
        """The key phrase the host named last (the guest may say "it" for it)."""

    def compose(self, answers: Sequence[Sequence[Sequence[Sentence]]]) -> list[ScriptLine]:
        """The whole script: opening, a conversation per part, recap and closing."""
        dialogue = _Dialogue()
        self._render(dialogue.say, answers)
        return dialogue.lines()

    def _render(
        self,
        say: Callable[[Speaker, str], None],
        answers: Sequence[Sequence[Sequence[Sentence]]],
    ) -> None:
        phrases = _Phrases(self.topic)
        topic = self.topic
        say("host", _choose(phrases, _OPENINGS, "opening").format(topic=topic))
        say("guest", _choose(phrases, _GREETINGS, "greeting").format(topic=topic))
        used_terms: set[str] = set()
        exchange = 0
        spoken_parts = [(i, a) for i, a in enumerate(answers) if a]
        for order, (part_index, part_answers) in enumerate(spoken_parts):
            say("host", self._part_question(phrases, part_index, order, part_answers[0]))
            self._named = self._subject(part_index, part_answers[0])
            for answer_index, answer in enumerate(part_answers):
                exchange += 1
                opening: tuple[str, str] | None = None
                if answer_index:
                    previous = part_answers[answer_index - 1]
                    opening = ask_and_answer(answer[0].text, answer[0].index)
                    asked = self._bridge(
                        say, phrases, previous, answer, used_terms, exchange,
                        opening[0] if opening else None,
                    )  # fmt: skip
                    if not asked:
                        opening = None
                for speaker, text in self._answer(phrases, answer, exchange, answer_index, opening):
                    say(speaker, text)
            if self.long and len(part_answers) > 1:
                recap = self._part_recap(phrases, part_index, part_answers, used_terms)
                if recap:
                    say("host", recap)
        self._summary(say, phrases, answers)
        say("host", _choose(phrases, _THANKS, "thanks").format(topic=topic))
        say("guest", _choose(phrases, _SIGN_OFFS, "sign-off"))
        say("host", _choose(phrases, _CLOSINGS, "closing"))

    def _subject(self, part_index: int, first: Sequence[Sentence]) -> str:
        heading = self.parts[part_index].heading
        if heading and len(heading.split()) <= 10:
            return heading.rstrip("?")
        term = _best_term(first, set())
        return _term_text(term) if term else ""

    def _part_question(
        self, phrases: _Phrases, part_index: int, order: int, first: Sequence[Sentence]
    ) -> str:
        heading = self.parts[part_index].heading
        if heading and heading.endswith("?") and len(heading.split()) <= 14:
            return heading
        subject = self._subject(part_index, first)
        if not subject or (order == 0 and subject.casefold() == self.topic.casefold()):
            if order == 0:
                question = _choose(phrases, _TOPIC_QUESTIONS, "topic-question")
                return question.format(topic=self.topic)
            return _choose(phrases, _OPEN_FOLLOW_UPS, "open-question", part_index)
        pattern: str | None
        if subject.startswith("Version "):
            subject = "version" + subject[len("Version") :]
            pattern = phrases.pick(_VERSION_QUESTIONS, "version", part_index)
        elif order == 0:
            pattern = phrases.pick(_FIRST_QUESTIONS, "first", part_index)
        else:
            pattern = phrases.pick(_PART_QUESTIONS, "part", part_index)
        if pattern is None:
            pattern = phrases.pick(_LATE_QUESTIONS, "late", part_index)
        if pattern is None:
            return f"{subject[0].upper()}{subject[1:]}?"
        return pattern.format(subject=subject)

    def _bridge(
        self,
        say: Callable[[Speaker, str], None],
        phrases: _Phrases,
        previous: Sequence[Sentence],
        answer: Sequence[Sentence],
        used_terms: set[str],
        exchange: int,
        question: str | None = None,
    ) -> bool:
        """What joins two answers: a reaction and a question, or a question from the guest.

        ``question``, when given, is what the host asks about the next sentence (its
        condition, purpose or date); True when the host asked it.
        """
        said = _best_term(previous, used_terms)
        upcoming = _best_term(answer, used_terms | ({said} if said else set()))
        if said:
            used_terms.add(said)
        if upcoming and exchange % 4 == 2 and not question:
            guest_question = phrases.pick(_GUEST_QUESTIONS, "guest-question", exchange)
            if guest_question:
                reply = _HOST_ANSWERS[_GUEST_QUESTIONS.index(guest_question)]
                used_terms.add(upcoming)
                say("guest", guest_question.format(term=_term_text(upcoming)))
                say("host", reply)
                return False
        pieces: list[str] = []
        if said:
            reaction = phrases.pick(_REACTIONS, "reaction", exchange)
            if reaction:
                text = _term_text(said)
                pieces.append(reaction.format(term=text, Term=text[0].upper() + text[1:]))
        if question:
            pieces.append(question)
            say("host", " ".join(pieces))
            return True
        follow = phrases.pick(_FOLLOW_UPS, "follow-up", exchange) if upcoming else None
        if follow and upcoming:
            used_terms.add(upcoming)
            self._named = upcoming
            pieces.append(follow.format(term=_term_text(upcoming)))
        else:
            open_follow = phrases.pick(_OPEN_FOLLOW_UPS, "open-follow-up", exchange)
            if open_follow:
                pieces.append(open_follow)
        if pieces:
            say("host", " ".join(pieces))
        return False

    def _answer(
        self,
        phrases: _Phrases,
        answer: Sequence[Sentence],
        exchange: int,
        answer_index: int,
        opening: tuple[str, str] | None = None,
    ) -> list[tuple[Speaker, str]]:
        """The guest's turn for an answer; the host may ask about a sentence's condition.

        ``opening`` is the question the host already asked about the first sentence and
        the guest's answer to it.
        """
        turns: list[tuple[Speaker, str]] = []
        texts: list[str] = []
        for position, sentence in enumerate(answer):
            if position == 0 and opening:
                texts.append(opening[1])
                continue
            asked = ask_and_answer(sentence.text, sentence.index) if position else None
            if asked:
                turns.append(("guest", " ".join(texts)))
                turns.append(("host", asked[0]))
                texts = [asked[1]]
                continue
            text = respeak(sentence.text, sentence.index)
            if position == 0:
                text = pronoun_start(text, self._named)
            echo = self._echo(phrases, answer[position - 1], sentence) if position else None
            if echo:
                turns.append(("guest", " ".join(texts)))
                turns.append(("host", echo))
                texts = [_continued(text)]
            else:
                texts.append(text)
        self._named = None
        if not opening:
            first = turns[0][1] if turns else texts[0]
            lead: str | None = None
            if _CONTRAST.search(first) and exchange % 2 == 0:
                lead = phrases.pick(_CAVEATS, "caveat", exchange)
            elif answer_index == 0 and exchange % 3 == 1:
                lead = phrases.pick(_LEADS, "lead", exchange)
            if lead:
                first = f"{lead} {_lower_first(first)}" if lead.endswith(",") else f"{lead} {first}"
                if turns:
                    turns[0] = ("guest", first)
                else:
                    texts[0] = first
        turns.append(("guest", " ".join(texts)))
        return turns

    def _echo(self, phrases: _Phrases, said: Sentence, following: Sentence) -> str | None:
        """A short host reaction naming a key phrase of what the guest just said.

        Said between two sentences of one answer, every other time, when the first is long
        enough to react to.
        """
        if said.words < (8 if following.index % 2 == 0 else 14):
            return None
        term = _best_term([said], {self.topic})
        if not term:
            return None
        pattern = phrases.pick(_ECHOES, "echo", said.index)
        if pattern is None:
            return None
        text = _term_text(term)
        return pattern.format(term=text, Term=text[0].upper() + text[1:])

    def _part_recap(
        self,
        phrases: _Phrases,
        part_index: int,
        part_answers: Sequence[Sequence[Sentence]],
        used_terms: set[str],
    ) -> str | None:
        heading = self.parts[part_index].heading
        sentences = [sentence for answer in part_answers for sentence in answer]
        best = max(sentences, key=lambda s: s.score)
        term = _best_term([best], set()) or None
        if not heading or not term or heading.casefold() == term.casefold():
            return None
        pattern = phrases.pick(_PART_RECAPS, "recap", part_index)
        return pattern.format(subject=heading, term=_term_text(term)) if pattern else None

    def _summary(
        self,
        say: Callable[[Speaker, str], None],
        phrases: _Phrases,
        answers: Sequence[Sequence[Sequence[Sentence]]],
    ) -> None:
        """The host asks for the key points; the guest names two or three of them."""
        ranked_parts = sorted(
            (
                (max(s.score for answer in part for s in answer), index)
                for index, part in enumerate(answers)
                if part
            ),
            reverse=True,
        )
        points: list[str] = []
        for _, index in ranked_parts:
            heading = self.parts[index].heading
            spoken = [s for answer in answers[index] for s in answer]
            point = heading if heading and _summary_heading(heading) else None
            if point is None:
                term = _best_term(sorted(spoken, key=lambda s: -s.score), {self.topic})
                point = _term_text(term) if term else None
            if point and all(point.casefold() not in p.casefold() for p in points):
                points.append(point if point[1:2].isupper() else _lower_first(point))
            if len(points) == 3:
                break
        if len(points) < 2:
            return
        say("host", _choose(phrases, _SUMMARY_QUESTIONS, "summary"))
        if len(points) == 3:
            pattern = _choose(phrases, _SUMMARY_ANSWERS_THREE, "summary-answer")
            say("guest", pattern.format(a=points[0], b=points[1], c=points[2]))
        else:
            pattern = _choose(phrases, _SUMMARY_ANSWERS_TWO, "summary-answer")
            say("guest", pattern.format(a=points[0], b=points[1]))
        say("guest", _choose(phrases, _GUEST_WRAP_QUESTIONS, "guest-wrap"))
        pick = points[_stable(self.topic, "host-pick") % len(points)]
        say("host", _choose(phrases, _HOST_PICKS, "host-pick").format(point=pick))


_CONNECTIVE = re.compile(r"^(?:And|But|So|Or|Also|Then|Yes|No|Even|In other words|For instance)\b")


def _continued(text: str) -> str:
    """A sentence that goes on after the host's reaction: "And ..." unless it has a link."""
    if _CONNECTIVE.match(text):
        return text
    return f"And {_lower_first(text)}"


def _summary_heading(heading: str) -> bool:
    """A heading that can stand as a key point ("Route Guards", not "Version 1.2")."""
    return (
        len(heading.split()) <= 6
        and not heading.startswith("Version ")
        and not heading.endswith("?")
        and " and " not in heading
    )


def _lowerable(text: str) -> bool:
    word = text.split()[0] if text.split() else ""
    return len(word) > 1 and word[1:].islower() and word not in ("I",)


def _lower_first(text: str) -> str:
    return text[0].lower() + text[1:] if _lowerable(text) else text


def _choose(phrases: _Phrases, options: Sequence[str], *key: object) -> str:
    """A pattern from ``options``; once all are used up, the least repeated by hash."""
    picked = phrases.pick(options, *key)
    return picked if picked is not None else options[_stable(*key) % len(options)]


_VERB_ENDINGS = frozenset(
    [
        "is",
        "are",
        "was",
        "were",
        "be",
        "has",
        "have",
        "had",
        "can",
        "will",
        "supports",
        "support",
        "allows",
        "allow",
        "uses",
        "use",
        "provides",
        "provide",
        "offers",
        "offer",
        "makes",
        "make",
        "includes",
        "include",
        "means",
        "lets",
        "let",
        "gives",
        "give",
        "helps",
        "help",
        "runs",
        "run",
        "needs",
        "need",
        "works",
        "work",
        "does",
        "do",
    ]
)
_GENERIC_TERMS = frozenset(
    [
        "support",
        "features",
        "feature",
        "application",
        "applications",
        "project",
        "projects",
        "users",
        "user",
        "version",
        "versions",
        "release",
        "releases",
        "example",
        "examples",
        "way",
        "ways",
        "thing",
        "things",
        "data",
        "time",
        "times",
        "use",
        "case",
        "cases",
        "part",
        "parts",
        "number",
        "lot",
    ]
)


def _good_term(term: str, avoid: set[str]) -> bool:
    words = term.split()
    if term in avoid or len(term) <= 2 or words[-1].lower() in _VERB_ENDINGS:
        return False
    if words[0].lower() in _VERB_ENDINGS:
        return False
    return not (len(words) == 1 and term.lower() in _GENERIC_TERMS)


def _best_term(answer: Sequence[Sentence], avoid: set[str]) -> str | None:
    """The best key phrase of an answer not talked about yet (phrases before single words)."""
    candidates = [
        term
        for sentence in answer
        for term in sentence.terms
        if _good_term(term, avoid) and (" " in term or not sentence.text.startswith(term))
    ]
    for term in candidates:
        if " " in term or any(ch.isupper() for ch in term):
            return term
    return candidates[0] if candidates else None


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
