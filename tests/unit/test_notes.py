"""Unit tests for the notes parser: Markdown and pasted text in, clean spoken sentences out."""

from __future__ import annotations

import re

from podnex.script.notes import MAX_SENTENCE_WORDS, Section, parse_document, parse_notes

MARKUP = re.compile(r"[#*`|\[\]<>{}\\_~^]|\]\(|https?|www\.|@")


def all_sentences(sections: list[Section]) -> list[str]:
    return [sentence for section in sections for sentence in section.sentences]


def assert_clean(sections: list[Section]) -> None:
    for section in sections:
        for text in [*section.sentences, section.heading or ""]:
            assert not MARKUP.search(text), text
            assert text == text.strip()
            assert "  " not in text


def test_plain_paragraphs_become_sentences() -> None:
    notes = (
        "The first paragraph has two sentences. Here is the second!\n\n"
        "A new paragraph\nwraps onto two lines?"
    )
    sections = parse_notes(notes)
    assert sections == [
        Section(
            heading=None,
            sentences=(
                "The first paragraph has two sentences.",
                "Here is the second!",
                "A new paragraph wraps onto two lines?",
            ),
        )
    ]


def test_atx_and_setext_headings_start_sections_in_order() -> None:
    notes = (
        "Preamble before any heading.\n\n"
        "# Title *One*\n\nBody one.\n\n"
        "Second Title\n============\n\nBody two.\n\n"
        "Third title\n-----------\nBody three.\n\n"
        "### Fourth ###\nBody four."
    )
    sections = parse_notes(notes)
    assert [s.heading for s in sections] == [
        None,
        "Title One",
        "Second Title",
        "Third title",
        "Fourth",
    ]
    assert [s.sentences for s in sections] == [
        ("Preamble before any heading.",),
        ("Body one.",),
        ("Body two.",),
        ("Body three.",),
        ("Body four.",),
    ]


def test_empty_sections_are_dropped_but_first_heading_is_kept() -> None:
    parsed = parse_document("# Big Title\n\n## Empty\n\n## Filled\n\nSome real content here.")
    assert parsed.first_heading == "Big Title"
    assert parsed.sections == (Section("Filled", ("Some real content here.",)),)


def test_dashes_under_a_long_paragraph_are_a_separator_not_a_heading() -> None:
    sections = parse_notes("A first line of prose.\nA second line of prose.\n---\nAfter the rule.")
    assert sections == [
        Section(None, ("A first line of prose.", "A second line of prose.", "After the rule."))
    ]


def test_list_items_lose_bullets_and_get_a_period() -> None:
    notes = (
        "## Steps\n"
        "- first bullet\n"
        "* second bullet!\n"
        "+ third bullet\n"
        "1. numbered one\n"
        "2) numbered two\n"
        "- [x] done task\n"
        "- [ ] open task\n"
        "   continued on the next line\n"
        "\u2022 pasted bullet\n"
    )
    (section,) = parse_notes(notes)
    assert section.heading == "Steps"
    assert section.sentences == (
        "First bullet.",
        "Second bullet!",
        "Third bullet.",
        "Numbered one.",
        "Numbered two.",
        "Done task.",
        "Open task continued on the next line.",
        "Pasted bullet.",
    )


def test_links_images_urls_and_emails() -> None:
    notes = (
        'Read the [release notes](https://example.com/notes_(v2) "title") today. '
        "![architecture diagram](img/arch.png) The diagram shows three services. "
        "Mirror at http://mirror.example.org/path?x=1, or www.example.net. "
        "Write to team@example.com about the launch plan. "
        "See https://example.com/docs. "
        "Contact me at bob@example.com! "
        "A [reference link][ref] works too.\n\n"
        "[ref]: https://example.com/ref\n"
    )
    sentences = all_sentences(parse_notes(notes))
    # Images go entirely (alt text included); a sentence left meaningless by a removal
    # ("See <url>.", "Contact me at <e-mail>!", "Mirror at <url>, or <url>.") is dropped.
    assert sentences == [
        "Read the release notes today.",
        "The diagram shows three services.",
        "Write about the launch plan.",
        "A reference link works too.",
    ]
    assert_clean(parse_notes(notes))


def test_inline_code_becomes_a_name_or_the_sentence_goes() -> None:
    sections = parse_notes(
        "Install `pytest` first, then run `pytest -q tests/` and `x = f(y)` often. "
        "The result is an `ActivityHandle` which supports `run_until_complete()`. "
        "Call `asyncio.run()` to start. Pass `--max-workers` to scale. "
        "It returns a `dict[str, int]` mapping."
    )
    assert all_sentences(sections) == [
        "The result is an Activity Handle which supports run until complete.",
        "Call asyncio run to start.",
        "Pass max workers to scale.",
    ]


def test_a_colon_before_dropped_code_drops_its_sentence() -> None:
    notes = (
        "Install the package. And run it with:\n\n```\npython -m app\n```\n\n"
        "The options are:\n\n- fast mode\n- safe mode\n\nExample::\n\n   app.run(1)\n\nDone."
    )
    assert all_sentences(parse_notes(notes)) == [
        "Install the package.",
        "The options are.",
        "Fast mode.",
        "Safe mode.",
        "Done.",
    ]


def test_fenced_indented_and_html_code_blocks_are_dropped() -> None:
    notes = (
        "Before the code.\n\n"
        "```python\nprint('http://inside.example')\n```\n\n"
        "~~~~\nsecret tilde code\n~~~~\n\n"
        "    indented_code = True\n    more_code()\n\n"
        "<pre>preformatted code</pre>\n\n"
        "<script>alert('x')</script>\n\n"
        "$$\nE = mc^2\n$$\n\n"
        "After the code."
    )
    assert all_sentences(parse_notes(notes)) == ["Before the code.", "After the code."]


def test_unclosed_fence_drops_the_rest() -> None:
    notes = "Keep this sentence.\n\n```\nnever = 'spoken'\nstill code."
    assert all_sentences(parse_notes(notes)) == ["Keep this sentence."]


def test_tables_become_one_sentence_per_row() -> None:
    notes = (
        "## Team\n\n"
        "| Name | Role | Notes |\n"
        "|:-----|:----:|------:|\n"
        "| Alice | **Engineer** | |\n"
        "| Bob | [PM](https://example.com) | Joined in May. |\n"
    )
    (section,) = parse_notes(notes)
    assert section.sentences == (
        "For Alice, Role is Engineer.",
        "For Bob, Role is PM and Notes is Joined in May.",
    )


def test_html_is_stripped_and_entities_decoded() -> None:
    notes = (
        "<h2>From the web</h2><p>Cats &amp; dogs are <b>great</b>.</p>"
        "<ul><li>First point</li><li>Second point</li></ul><!-- hidden comment -->"
        "<style>p { color: red; }</style>"
    )
    (section,) = parse_notes(notes)
    assert section.heading == "From the web"
    assert section.sentences == ("Cats & dogs are great.", "First point.", "Second point.")


def test_emphasis_footnotes_quotes_and_stray_markup_never_appear() -> None:
    notes = (
        "---\ntitle: Front matter\ntags: [a, b]\n---\n"
        "# Heading with `code()` and **bold**\n\n"
        "Some *emphasis*, __strong__, ~~struck~~ and ==marked== text.[^1] "
        "A snake_case name, C# code and issue #42 :tada: \U0001f389 with <br> breaks.\n\n"
        "> A quoted *remark* here.\n> > Nested quote.\n\n"
        "> [!NOTE]\n> An alert box.\n\n"
        "Pipes | separate | words here. Escaped \\*stars\\* too.\n\n"
        "[^1]: The footnote definition is dropped.\n\n"
        "***\n"
    )
    sections = parse_notes(notes)
    assert_clean(sections)
    sentences = all_sentences(sections)
    assert sentences == [
        "Some emphasis, strong, struck and marked text.",
        "A snake case name, C sharp code with breaks.",
        "A quoted remark here.",
        "Nested quote.",
        "An alert box.",
        "Pipes, separate, words here.",
        "Escaped stars too.",
    ]
    assert sections[0].heading == "Heading with code and bold"
    assert "title" not in " ".join(sentences).lower()


def test_sentence_split_respects_abbreviations_and_decimals() -> None:
    notes = (
        "Dr. Smith met Mr. Jones at 9 a.m. today. Prices rose 3.5 percent, e.g. for rent, "
        "i.e. housing. Apples vs. oranges, etc. are compared. It ends here etc. The next one "
        "starts. J. R. R. Tolkien wrote it. Wait... really? Yes!"
    )
    assert all_sentences(parse_notes(notes)) == [
        "Dr. Smith met Mr. Jones at 9 a.m. today.",
        "Prices rose 3.5 percent, e.g. for rent, i.e. housing.",
        "Apples vs. oranges, etc. are compared.",
        "It ends here etc.",
        "The next one starts.",
        "J. R. R. Tolkien wrote it.",
        "Wait...",
        "Really?",
        "Yes!",
    ]


def test_whitespace_is_normalised() -> None:
    notes = "  Tabs\tand   many\u00a0spaces   here.  \r\n\r\n\r\nWindows\r\nline endings too.  "
    assert all_sentences(parse_notes(notes)) == [
        "Tabs and many spaces here.",
        "Windows line endings too.",
    ]


def test_giant_line_without_punctuation_is_chunked() -> None:
    words = [f"word{i}" for i in range(1000)]
    sentences = all_sentences(parse_notes(" ".join(words)))
    assert all(len(s.split()) <= MAX_SENTENCE_WORDS for s in sentences)
    assert all(s.endswith(".") for s in sentences)
    assert " ".join(sentences).replace(".", "").lower().split() == words


def test_long_sentence_splits_at_clauses_first() -> None:
    clause = "the team measured the latency of every request in the staging cluster"
    sentence = ", ".join([clause] * 6) + "."
    sentences = all_sentences(parse_notes(sentence))
    assert len(sentences) > 1
    assert all(len(s.split()) <= MAX_SENTENCE_WORDS for s in sentences)
    assert all(s.startswith("The team measured") for s in sentences)


def test_unspeakable_notes_give_no_sections() -> None:
    assert parse_notes("```\ncode only\n```") == []
    assert parse_notes("https://example.com/a\nhttps://example.com/b\n![x](y.png)") == []
    assert parse_notes("*** --- ### !!! ???") == []


def test_headings_only_notes_are_spoken_as_headings() -> None:
    sections = parse_notes("# Launch plan\n## Budget review\n## Hiring goals")
    assert sections == [Section(None, ("Launch plan.", "Budget review.", "Hiring goals."))]


def test_a_sentence_promising_a_list_that_was_dropped_is_a_hole() -> None:
    from podnex.script.notes import has_hole

    assert has_hole("Litestar ships with middlewares to handle things like.")
    assert has_hole("Install it as follows:")
    assert has_hole("The options are the following.")
    assert not has_hole("It handles things like CORS.")
    assert not has_hole("Do what you like.")
