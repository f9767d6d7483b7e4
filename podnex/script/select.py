"""Choosing what an episode says: sentences ranked by importance, spread over the sections.

Importance comes from YAKE (``yake``), an unsupervised keyword extractor: the notes'
key phrases are found once, and a sentence scores by the key phrases it holds (weighted
by their rank), with a little weight for opening a section and for a comfortable spoken
length. Selection then keeps, for every part of the notes, a share of sentences in
proportion to the part's size (at least one), taking each part's best sentences and
speaking them in the notes' order. Near-duplicate sentences are removed first, so no
sentence is ever said twice.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import yake

from podnex.script.notes import Section, has_hole

#: Key phrases extracted from the notes (1 to 3 words each).
KEYPHRASES = 40
#: Characters of notes given to the keyword extractor (the rest adds little, costs time).
_MAX_KEYWORD_CHARS = 60_000
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'+-]*")
_DUPLICATE_OVERLAP = 0.8


@dataclass(frozen=True)
class Sentence:
    """One sentence of the notes with what selection and dialogue need to know about it."""

    index: int
    text: str
    words: int
    score: float
    terms: tuple[str, ...]
    """Key phrases of the notes this sentence holds, best first (as written in the text)."""


@dataclass(frozen=True)
class Part:
    """A section of the notes as the dialogue treats it (consecutive sections may merge)."""

    heading: str | None
    sentences: tuple[Sentence, ...]


@lru_cache(maxsize=8)
def keyphrases(text: str) -> tuple[tuple[str, float], ...]:
    """The notes' key phrases with a weight in (0, 1], best first (YAKE, English)."""
    extractor = yake.KeywordExtractor(lan="en", n=3, top=KEYPHRASES, dedupLim=0.7)
    found = extractor.extract_keywords(text[:_MAX_KEYWORD_CHARS])
    return tuple((phrase, 1.0 / (rank + 1) ** 0.5) for rank, (phrase, _) in enumerate(found))


def _normalised(text: str) -> str:
    return " ".join(word.lower() for word in _WORD.findall(text))


def score_sections(sections: Sequence[Section]) -> list[Part]:
    """Rank every sentence and drop repeats; one `Part` per section, in order."""
    text = "\n".join(sentence for section in sections for sentence in section.sentences)
    phrases = [(phrase, weight, re.compile(rf"\b{re.escape(phrase)}\b", re.IGNORECASE))
               for phrase, weight in keyphrases(text)]  # fmt: skip
    seen: list[set[str]] = []
    seen_texts: set[str] = set()
    parts: list[Part] = []
    index = 0
    for section in sections:
        sentences: list[Sentence] = []
        for position, sentence in enumerate(section.sentences):
            if has_hole(sentence) or _shouted(sentence):
                continue
            normal = _normalised(sentence)
            words = set(normal.split())
            if normal in seen_texts or _near_duplicate(words, seen):
                continue
            seen_texts.add(normal)
            seen.append(words)
            matched = [(found.group(), weight) for _, weight, pattern in phrases
                       if (found := pattern.search(sentence))]  # fmt: skip
            count = len(sentence.split())
            keyword_score = sum(weight for _, weight in matched)
            fit = 1.0 if 6 <= count <= 35 else 0.6
            opening = 0.3 if position == 0 else 0.0
            score = (keyword_score / math.sqrt(max(count, 4)) * 3 + opening + 0.05) * fit
            terms = tuple(phrase for phrase, _ in matched)
            sentences.append(Sentence(index, sentence, count, score, terms))
            index += 1
        if sentences:
            parts.append(Part(section.heading, tuple(sentences)))
    return parts


def _shouted(sentence: str) -> bool:
    """A sentence in capitals (a licence's warranty disclaimer): boilerplate that nobody
    reads aloud, and that a speech engine would read as if shouting."""
    letters = [ch for ch in sentence if ch.isalpha()]
    return len(sentence.split()) >= 6 and sum(ch.isupper() for ch in letters) >= 0.8 * len(letters)


def _near_duplicate(words: set[str], seen: list[set[str]]) -> bool:
    if len(words) < 4:
        return False
    for other in seen[-200:]:
        if len(other) >= 4 and len(words & other) / len(words | other) >= _DUPLICATE_OVERLAP:
            return True
    return False


def merge_parts(parts: list[Part], max_parts: int) -> list[Part]:
    """Merge consecutive parts into at most ``max_parts`` parts of balanced size."""
    if len(parts) <= max_parts:
        return parts
    total = sum(sentence.words for part in parts for sentence in part.sentences)
    groups: dict[int, list[Part]] = {}
    before = 0
    for part in parts:
        groups.setdefault(before * max_parts // max(total, 1), []).append(part)
        before += sum(sentence.words for sentence in part.sentences)
    return [
        Part(
            _joined_heading([part.heading for part in group]),
            tuple(sentence for part in group for sentence in part.sentences),
        )
        for group in groups.values()
    ]


def _joined_heading(headings: list[str | None]) -> str | None:
    present = [heading.rstrip("?") for heading in headings if heading]
    if not present:
        return None
    if len(present) == 2 and len(" and ".join(present).split()) <= 8:
        return " and ".join(present)
    return present[0]


def quotas(parts: Sequence[Part], total: int) -> list[int]:
    """Split ``total`` kept sentences across parts in proportion to their size.

    Every part keeps at least one sentence and at most all of its own; the rest is shared
    by largest remainder (earlier parts win ties), so the total moves one at a time.
    """
    sizes = [len(part.sentences) for part in parts]
    available = sum(sizes)
    shares = [total * size / available for size in sizes]
    kept = [min(size, max(1, math.floor(share))) for size, share in zip(sizes, shares, strict=True)]
    order = sorted(range(len(parts)), key=lambda i: (kept[i] - shares[i], i))
    for index in order[: max(0, total - sum(kept))]:
        if kept[index] < sizes[index]:
            kept[index] += 1
    return kept


def select(parts: Sequence[Part], total: int) -> list[tuple[Sentence, ...]]:
    """Keep about ``total`` sentences: each part's best, in the notes' order."""
    chosen: list[tuple[Sentence, ...]] = []
    for part, keep in zip(parts, quotas(parts, total), strict=True):
        best = sorted(part.sentences, key=lambda s: (-s.score, s.index))[:keep]
        chosen.append(tuple(sorted(best, key=lambda s: s.index)))
    return chosen
