"""The writer's rules on real, unmodified third-party notes (tests/unit/data/README.md).

A README with badges, a table of contents, code and links; a README with a changelog; a
Debian changelog with sign-offs and bug numbers; Python's plain-text reference docs with
indented grammar; Python's licence (prose, a plain-text table, numbered clauses).
"""

from __future__ import annotations

import re
from collections import Counter
from functools import cache
from pathlib import Path

import pytest

from podnex.pacing import pauses
from podnex.script.notes import has_hole, parse_document
from podnex.script.offline import MAX_MINUTES, OfflineScriptWriter, estimate_minutes
from podnex.script.types import Duration, Script
from podnex.speakable import speakable
from podnex.speech.espeak import ESPEAK_SPOKEN_WORDS_PER_MINUTE

DATA = Path(__file__).parent / "data"
TEXTS = [
    "readme-litestar.md",
    "readme-changelog-python-dotenv.md",
    "changelog-debian-libutempter.txt",
    "reference-pydoc-with.txt",
    "prose-python-licence.txt",
]
UNSPEAKABLE = {
    "url": re.compile(r"https?://|www\.|\b[\w-]+\.(?:com|org|io|dev|net)\b", re.IGNORECASE),
    "code": re.compile(r"[`{}=]|\w\(\)|\b\w+_\w+\b|::|->|>>>|\$ "),
    "markup": re.compile(r"[#*|<>\[\]\\^~]|!\["),
    "id": re.compile(r"#\d+|\b(?=\w*\d)[0-9a-f]{7,40}\b|\d{5,}|closes:", re.IGNORECASE),
    "digits": re.compile(r"\d"),
    "email": re.compile(r"\S+@\S+"),
}
SENTENCE = re.compile(r"\S.*?[.!?]+(?=\s|$)")
WORD = re.compile(r"[a-z0-9']+")


@cache
def script_for(name: str, duration: Duration) -> Script:
    return OfflineScriptWriter().write((DATA / name).read_text(), duration)


def sentences(script: Script) -> list[str]:
    return [s for line in script.lines for s in SENTENCE.findall(line.text)]


@pytest.mark.parametrize("duration", ["SHORT", "LONG"])
@pytest.mark.parametrize("name", TEXTS)
def test_nothing_unspeakable_is_synthesised(name: str, duration: Duration) -> None:
    for line in script_for(name, duration).lines:
        spoken = speakable(line.text)
        for kind, pattern in UNSPEAKABLE.items():
            assert not pattern.search(spoken), (kind, spoken)


@pytest.mark.parametrize("duration", ["SHORT", "LONG"])
@pytest.mark.parametrize("name", TEXTS)
def test_no_holes_no_repeats_no_worn_bridges(name: str, duration: Duration) -> None:
    script = script_for(name, duration)
    said = sentences(script)
    assert not [s for s in said if has_hole(s)]
    counts = Counter(" ".join(WORD.findall(s.lower())) for s in said)
    notes = " ".join(WORD.findall((DATA / name).read_text().lower()))
    repeated = {s: n for s, n in counts.items() if n > 1 and len(s.split()) >= 5 and s in notes}
    assert not repeated  # no sentence of the notes said twice
    worn = {s: n for s, n in counts.items() if n > 2}
    assert not worn  # no phrase (a bridge, a reaction) more than twice


@pytest.mark.parametrize("duration", ["SHORT", "LONG"])
@pytest.mark.parametrize("name", TEXTS)
def test_both_speakers_ask_and_the_intro_names_the_subject(name: str, duration: Duration) -> None:
    script = script_for(name, duration)
    for speaker in ("host", "guest"):
        assert any("?" in line.text for line in script.lines if line.speaker == speaker)
    first = script.lines[0].text
    for generic in ("Installation", "Table of Contents", "Version", "Quick Start"):
        assert f"about {generic}" not in first


@pytest.mark.parametrize("name", TEXTS)
def test_no_table_of_contents_is_read(name: str) -> None:
    notes = (DATA / name).read_text()
    anchors = {
        " ".join(WORD.findall(text.lower())) for text in re.findall(r"\[([^\]]+)\]\(#", notes)
    }
    for duration in ("SHORT", "LONG"):
        for sentence in sentences(script_for(name, duration)):
            assert " ".join(WORD.findall(sentence.lower())) not in anchors


def test_intro_names_the_subject_of_a_readme_and_a_changelog() -> None:
    assert "Litestar" in script_for("readme-litestar.md", "SHORT").lines[0].text
    assert "libutempter" in script_for("changelog-debian-libutempter.txt", "SHORT").lines[0].text


@pytest.mark.parametrize("name", TEXTS)
def test_length_in_minutes(name: str) -> None:
    short = estimate_minutes(script_for(name, "SHORT").lines)
    long = estimate_minutes(script_for(name, "LONG").lines)
    assert short <= MAX_MINUTES["SHORT"] and long <= MAX_MINUTES["LONG"]
    assert long >= short
    if name in ("readme-litestar.md", "prose-python-licence.txt"):
        assert short >= 4.0  # enough notes for a full SHORT episode
    if name == "readme-changelog-python-dotenv.md":
        assert long >= 13.0  # and for a full LONG one
    if name == "prose-python-licence.txt":
        # Its warranty disclaimers in capitals are not read aloud; the rest holds about
        # 12 minutes, and LONG says all of it rather than padding.
        assert long >= 11.0


@pytest.mark.parametrize("rate", [150, ESPEAK_SPOKEN_WORDS_PER_MINUTE])
@pytest.mark.parametrize("name", TEXTS)
def test_notes_that_hold_more_than_a_short_episode_fill_one(name: str, rate: int) -> None:
    # Issue 13: SHORT is 4-5.5 minutes when the notes hold enough. The quality set's
    # pytest-timeout changelog (short words, said fast) made a 3.9-minute SHORT although
    # its LONG reached 13 minutes; the writer's own estimate must not leave SHORT under 4.
    notes = (DATA / name).read_text()
    long = OfflineScriptWriter().write(notes, "LONG", words_per_minute=rate)
    if estimate_minutes(long.lines, rate) <= MAX_MINUTES["SHORT"]:
        return  # the notes hold no more than a SHORT episode
    short = OfflineScriptWriter().write(notes, "SHORT", words_per_minute=rate)
    assert 4.0 <= estimate_minutes(short.lines, rate) <= MAX_MINUTES["SHORT"]


def test_the_estimate_counts_the_pauses_the_mix_leaves() -> None:
    lines = script_for("readme-changelog-python-dotenv.md", "SHORT").lines
    silence = estimate_minutes(lines, words_per_minute=1e12) * 60_000
    assert silence == pytest.approx(sum(pauses(lines)))


def test_short_notes_make_short_episodes() -> None:
    # Retold in the guest's words an entry takes a few more words ("Bump to 4.6.2" ->
    # "They bumped to 4.6.2"), so the bound is SHORT's ceiling: never padded towards LONG.
    for name in ("changelog-debian-libutempter.txt", "reference-pydoc-with.txt"):
        assert estimate_minutes(script_for(name, "LONG").lines) < MAX_MINUTES["SHORT"]


def test_parsing_drops_navigation_badges_sign_offs_and_bug_numbers() -> None:
    readme = " ".join(
        s
        for section in parse_document((DATA / "readme-litestar.md").read_text()).sections
        for s in section.sentences
    )
    assert "CI/CD" not in readme and "Table of Contents" not in readme
    assert "Quick Start." not in readme  # a TOC entry
    assert "And run it with" not in readme  # introduced a dropped code block
    changelog = parse_document((DATA / "changelog-debian-libutempter.txt").read_text())
    text = " ".join(s for section in changelog.sections for s in section.sentences)
    assert "Christian" not in text and "Closes" not in text and "976398" not in text
    assert "2023" not in text
    assert changelog.sections[0].heading == "Version 1.2.1-3"


VERBATIM_CEILING = 0.5
"""Issue 13: at most half of an episode's words inside runs of 8+ words copied from the
notes (the quality set in docs/quality.md is at 16-49%)."""


@pytest.mark.parametrize("name", TEXTS)
def test_copied_words_in_long_runs_stay_under_the_ceiling(name: str) -> None:
    notes = WORD.findall((DATA / name).read_text().lower())
    grams = {tuple(notes[i : i + 8]) for i in range(len(notes) - 7)}
    words = WORD.findall(" ".join(line.text for line in script_for(name, "SHORT").lines).lower())
    copied = set()
    for i in range(len(words) - 7):
        if tuple(words[i : i + 8]) in grams:
            copied.update(range(i, i + 8))
    assert len(copied) <= VERBATIM_CEILING * len(words)
