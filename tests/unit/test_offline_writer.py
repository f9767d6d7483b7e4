"""Unit tests for the offline script writer: grounded, alternating, deterministic, sized."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

import pytest

from podnex.script.offline import (
    MAX_MINUTES,
    TARGET_MINUTES,
    TARGET_WORDS,
    WORDS_PER_MINUTE,
    OfflineScriptWriter,
    estimate_minutes,
)
from podnex.script.types import Duration, Script

MEDIUM_NOTE = """# Moving the team to PostgreSQL

We spent most of the quarter moving our order service from MongoDB to PostgreSQL. The old
setup worked, but reporting queries had become slow and expensive. Finance needed joins
across orders, refunds and invoices that the document model made painful.

## Why we moved

- Reporting queries took up to 40 seconds on the old cluster
- Schema drift caused three production incidents last year
- The team already knew SQL well, e.g. from the analytics work
- Managed PostgreSQL costs about 30% less than our current hosting

## How the migration worked

We ran both databases side by side for six weeks. Every write went to MongoDB first and was
copied to PostgreSQL by a background job. A nightly checker compared row counts and checksums
between the two stores. When the checker stayed green for ten days in a row, we switched
reads over to PostgreSQL. See the [runbook](https://wiki.example.com/runbook) for details.

```sql
SELECT count(*) FROM orders;
```

The hardest part was the data model. Nested documents had to be split into proper tables
with foreign keys. Dr. Patel's team wrote the mapping rules, and we reviewed every one of
them in pairs.

## Results

| Metric | Before | After |
|--------|--------|-------|
| Report time | 40 s | 2 s |
| Monthly cost | $9,000 | $6,300 |

Incidents related to data shape dropped to zero in the first two months. Developers say
the new schema is easier to reason about. Support tickets about missing invoices also fell
sharply, because refunds now link to their orders directly.

## Lessons

Start the dual-write period earlier than you think you need to. Invest in the checker before
you invest in the migration scripts. Keep the old database read-only for a month after the
switch, just in case. Finally, write down every mapping decision, since nobody remembers
them six months later.
"""

NOUNS = ("garden", "budget", "river", "library", "engine", "harvest", "market", "bridge")
VERBS = ("improves", "reduces", "changes", "supports", "delays", "shapes", "protects", "funds")
OBJECTS = ("local transport", "water quality", "housing costs", "public trust", "energy use")


def long_note(sections: int = 12, per_section: int = 14) -> str:
    """A multi-section Markdown note; sentence k contains the marker "Finding k"."""
    lines = ["# City Planning Review", ""]
    k = 0
    for s in range(sections):
        lines += [f"## Chapter {s + 1}: the {NOUNS[s % len(NOUNS)]}", ""]
        paragraph: list[str] = []
        for i in range(per_section):
            paragraph.append(
                f"Finding {k} says the {NOUNS[(s + i) % len(NOUNS)]} project "
                f"{VERBS[(i + s) % len(VERBS)]} {OBJECTS[(k * 3) % len(OBJECTS)]} "
                f"by {k % 17 + 2} percent over {i % 5 + 2} years."
            )
            k += 1
            if len(paragraph) == 4 or i == per_section - 1:
                lines += [" ".join(paragraph), ""]
                paragraph = []
    return "\n".join(lines)


def write(notes: str, duration: Duration = "SHORT", title: str | None = None) -> Script:
    return OfflineScriptWriter().write(notes, duration, title)


def findings(script: Script) -> list[int]:
    """The "Finding k" markers in guest lines, in speaking order."""
    return [
        int(number)
        for line in script.lines
        if line.speaker == "guest"
        for number in re.findall(r"[Ff]inding (\d+)", line.text)
    ]


def assert_well_formed(script: Script) -> None:
    assert script.title.strip()
    assert script.lines[0].speaker == "host"
    assert {line.speaker for line in script.lines} == {"host", "guest"}
    assert all(line.text.strip() for line in script.lines)
    for previous, current in zip(script.lines, script.lines[1:], strict=False):
        assert previous.speaker != current.speaker, (previous.text, current.text)
    assert [line.speaker for line in script.lines[-3:]] == ["host", "guest", "host"]
    for line in script.lines:
        assert not re.search(r"[#*`|\[\]<>]|\]\(|https?:|www\.", line.text), line.text
        if line.speaker == "guest":
            assert len(line.text.split()) <= 80, line.text


def test_constants() -> None:
    assert WORDS_PER_MINUTE == 150
    assert TARGET_MINUTES == {"SHORT": 4.6, "LONG": 14.5}
    assert MAX_MINUTES == {"SHORT": 5.5, "LONG": 16.0}
    assert 600 <= TARGET_WORDS["SHORT"] <= 690 and 1900 <= TARGET_WORDS["LONG"] <= 2175
    assert OfflineScriptWriter.name == "offline"


@pytest.mark.parametrize("duration", ["SHORT", "LONG"])
def test_markdown_never_reaches_the_script(duration: Duration) -> None:
    notes = (
        "# Release *notes*\n\n"
        "Read the [changelog](https://example.com/changes) and ![logo](logo.png) today. "
        "Mail ops@example.com or visit https://status.example.com for updates.\n\n"
        "```bash\ncurl https://example.com | sh\n```\n\n"
        "- **Bold** item with `inline_code()` and a footnote[^1]\n"
        "- ~~Old~~ item\n\n"
        "| Service | Owner |\n|---|---|\n| API | Dana |\n\n"
        "<div>Some <em>HTML</em> text</div>\n\n[^1]: Footnote."
    )
    script = write(notes, duration)
    assert_well_formed(script)
    text = " ".join(line.text for line in script.lines)
    assert "Read the changelog today." in text
    assert "Bold item with inline code and a footnote." in text
    assert "For API, Owner is Dana." in text
    assert "curl" not in text
    assert "logo" not in text


@pytest.mark.parametrize("duration", ["SHORT", "LONG"])
def test_structure_opening_questions_and_closing(duration: Duration) -> None:
    script = write(MEDIUM_NOTE, duration)
    assert_well_formed(script)
    assert script.title == "Moving the team to PostgreSQL"
    assert "Moving the team to PostgreSQL" in script.lines[0].text
    host_text = " ".join(line.text for line in script.lines if line.speaker == "host")
    positions = [
        host_text.index(h) for h in ("Why we moved", "How the migration", "Results", "Lessons")
    ]
    assert positions == sorted(positions)  # sections are introduced in the notes' order


def test_titles_given_heading_or_first_words() -> None:
    assert write(MEDIUM_NOTE, title="  My   *Own* Title ").title == "My *Own* Title"
    assert "My Own Title" in write(MEDIUM_NOTE, title="My *Own* Title").lines[0].text
    plain = "Quarterly planning went well for the platform group this time. " * 5
    script = write(plain)
    assert script.title == "Quarterly planning went well for the platform group"
    assert script.title in script.lines[0].text


def test_short_notes_make_a_short_episode_with_every_sentence_once_in_order() -> None:
    for duration in ("SHORT", "LONG"):
        script = write(long_note(2, 6), duration)
        numbers = findings(script)
        assert numbers == list(range(12))  # everything, in order, nothing repeated
        assert estimate_minutes(script.lines) < 3.0


def test_long_notes_are_selected_across_beginning_middle_and_end() -> None:
    sections, per_section = 12, 14
    for duration in ("SHORT", "LONG"):
        numbers = findings(write(long_note(sections, per_section), duration))
        assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)
        covered = {number // per_section for number in numbers}
        assert covered == set(range(sections))  # every section represented
        assert min(numbers) < per_section  # beginning
        assert max(numbers) >= (sections - 1) * per_section  # end
        middle = (sections // 2) * per_section
        assert any(middle <= n < middle + per_section for n in numbers)  # middle


@pytest.mark.parametrize("rate", [150.0, 160.0, 180.0])
def test_length_is_set_in_minutes_at_the_engines_rate(rate: float) -> None:
    for note in (long_note(12, 14), long_note(40, 10), long_note(2, 150)):
        for duration, (low, high) in (("SHORT", (4.0, 5.5)), ("LONG", (13.0, 16.0))):
            script = OfflineScriptWriter().write(note, duration, words_per_minute=rate)
            assert low <= estimate_minutes(script.lines, rate) <= high, (duration, rate)


def test_a_faster_engine_gets_more_words() -> None:
    note = long_note(12, 14)
    slow = OfflineScriptWriter().write(note, "SHORT", words_per_minute=140)
    fast = OfflineScriptWriter().write(note, "SHORT", words_per_minute=190)
    assert fast.word_count > 1.15 * slow.word_count


def test_long_is_longer_than_short_when_the_notes_hold_enough() -> None:
    note = long_note(12, 14)
    short, long = write(note, "SHORT"), write(note, "LONG")
    assert long.word_count >= 2.5 * short.word_count
    assert_well_formed(long)


def test_output_is_deterministic_across_calls_and_processes() -> None:
    assert write(MEDIUM_NOTE, "LONG") == write(MEDIUM_NOTE, "LONG")
    assert write(long_note(), "SHORT") == OfflineScriptWriter().write(long_note(), "SHORT")
    program = (
        "import json, sys\n"
        "from podnex.script.offline import OfflineScriptWriter\n"
        "print(OfflineScriptWriter().write(sys.stdin.read(), 'LONG').model_dump_json())\n"
    )
    outputs = set()
    for seed in ("1", "2"):
        result = subprocess.run(
            [sys.executable, "-c", program],
            input=MEDIUM_NOTE,
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        outputs.add(result.stdout)
    assert len(outputs) == 1
    assert json.loads(outputs.pop()) == write(MEDIUM_NOTE, "LONG").model_dump()


@pytest.mark.parametrize(
    "note",
    [long_note(60, 12)[:50_000], " ".join(f"token{i % 89}" for i in range(8_000))[:50_000]],
    ids=["markdown", "one-line"],
)
def test_fifty_thousand_characters_finish_quickly(note: str) -> None:
    assert len(note) == 50_000
    for duration in ("SHORT", "LONG"):
        started = time.perf_counter()
        script = write(note, duration)
        assert time.perf_counter() - started < 3.0
        assert estimate_minutes(script.lines) <= MAX_MINUTES[duration]


@pytest.mark.parametrize(
    "notes",
    [
        "```python\n" + "x = compute(1)\n" * 30 + "```\n",
        "\n".join(f"https://example.com/page/{i}" for i in range(10)),
        "![a](b.png) ![c](d.png) <img src='e.png'> mail@example.com" * 5,
        "*** --- ### !!! ??? ``` ~~~" * 10,
        "` a `` b ``` c " * 800,  # nothing but code spans: every sentence has a hole
        "a. " * 3_000,  # one word said once is a hole ("A."), never said 3,000 times
        "| a | b |\n|---|---|\n" + "| x | y |\n" * 200,  # a table of letters means nothing
    ],
)
def test_unspeakable_notes_raise_value_error(notes: str) -> None:
    with pytest.raises(ValueError, match="notes contain no speakable text"):
        write(notes)


@pytest.mark.parametrize(
    "notes",
    [
        " ".join(f"token{i % 89}" for i in range(8_000)),  # one giant line, no punctuation
        "\n".join(f"# Heading {i}\nFact number {i} is short." for i in range(800)),
        "# " + "very long heading " * 100,
        "(((( [[[[ " * 400 + "Some words in the end.",
        "<html><head><script>var x = 1;</script></head><body><h1>Hi</h1><p>Body text "
        "&amp; more.</p></body></html>" + " padding" * 20,
        "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8\u3002 \U0001f389 Emoji and "
        "\u00fcnic\u00f6de text \u2014 with \u201cquotes\u201d. " * 40,
    ],
)
def test_pathological_notes_still_give_a_sized_script(notes: str) -> None:
    for duration in ("SHORT", "LONG"):
        script = write(notes, duration)
        assert_well_formed(script)
        assert estimate_minutes(script.lines) <= MAX_MINUTES[duration]


def test_a_disclaimer_in_capitals_is_not_read_aloud() -> None:
    from podnex.script.notes import parse_document
    from podnex.script.select import score_sections

    notes = (
        "You may copy the software and share it with anyone you like.\n\n"
        "THE SOFTWARE IS PROVIDED AS IS, WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED.\n\n"
        "The NASA team and the W3C helped with the first release of the tool.\n"
    )
    parts = score_sections(parse_document(notes).sections)
    kept = [sentence.text for part in parts for sentence in part.sentences]
    assert not any("WARRANTY" in text for text in kept)
    assert any("NASA" in text for text in kept), "names in capitals inside a sentence stay"
