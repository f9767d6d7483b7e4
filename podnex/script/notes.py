"""Parse a person's notes (Markdown, pasted web text or plain text) into speakable text.

The parser keeps the meaning of the notes and drops everything a voice should never read
aloud: markup, URLs, e-mail addresses, code and images. The result is a list of sections
(one per heading, in order), each a tuple of clean sentences.

Block rules, in the spirit of CommonMark but forgiving of pasted text:

- ATX headings (``#`` .. ``######``) start sections; a setext underline (``===`` or
  ``---``) turns the single line above it into a heading (under a longer paragraph it is a
  plain separator, so pasted prose is never swallowed into a heading).
- Fenced code (backticks or tildes), indented code after a blank line, ``$$`` math blocks,
  HTML ``<pre>``, ``<script>`` and ``<style>`` are dropped; HTML comments are dropped.
- List items, block-quote lines and paragraphs become sentences; tables become one
  sentence per row built from the header cells ("Name: Alice, Role: Engineer.").
- YAML front matter, link reference definitions and footnote definitions are dropped.

Inline rules: links keep their text, images are removed entirely (alt text included),
bare URLs and e-mail addresses are removed, inline code keeps its text only when it is a
short plain word, HTML tags are stripped and entities decoded, and emphasis, footnote
markers, emoji and stray markup characters are removed.
"""

from __future__ import annotations

import html
import re
import textwrap
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

#: Sentences longer than this are split at clauses, then into even chunks.
MAX_SENTENCE_WORDS = 40
#: Size of the even chunks a long run of words without punctuation is cut into.
CHUNK_WORDS = 30
#: Longest inline code span that is still read aloud (when it is a plain word).
_MAX_CODE_WORD_CHARS = 20
#: Longest YAML front matter block recognised at the top of the notes.
_MAX_FRONT_MATTER_LINES = 100


@dataclass(frozen=True)
class Section:
    """A run of the notes under one heading (or before the first one), as clean sentences."""

    heading: str | None
    sentences: tuple[str, ...]


@dataclass(frozen=True)
class ParsedNotes:
    """The whole parse: the notes' first heading (even if its section is empty) and sections."""

    first_heading: str | None
    sections: tuple[Section, ...]


def parse_notes(notes: str) -> list[Section]:
    """Parse notes into their non-empty sections, in order, with clean spoken sentences."""
    return list(parse_document(notes).sections)


def parse_document(notes: str) -> ParsedNotes:
    """Parse notes into sections and also report the first heading found."""
    builder = _SectionBuilder()
    _BlockParser(_prepare(notes), builder).run()
    return builder.result()


def clean_text(text: str) -> str:
    """Clean one line of inline Markdown/HTML into plain speakable text (no sentence split).

    Inline code without a speakable name is left out (``clean_text`` has no sentence to
    drop).
    """
    return _resolve_removals(_clean_inline(text).replace(_HOLE, " "))


def has_hole(sentence: str) -> bool:
    """Tell whether a sentence reads as if a word were missing.

    "The result is an and supports it.", "And run it with.", "Use the ." are holes:
    an article or preposition stranded before a conjunction, punctuation or the end.
    """
    return bool(_HOLE_PATTERN.search(sentence) or _DANGLING_WORD.search(sentence))


# --------------------------------------------------------------------------- preparation

_FENCE_OPEN = re.compile(r"^[ \t]*(?:>[ \t]?)*[ \t]*(`{3,}|~{3,})")
_MATH_FENCE = re.compile(r"^[ \t]*(?:>[ \t]?)*[ \t]*\$\$")
_MATH_CLOSER = re.compile(r"^.*\$\$\s*$")
_CLOSER_PREFIX = r"^[ \t]*(?:>[ \t]?)*[ \t]*"
_FRONT_MATTER_LINE = re.compile(r"^\s*(?:[\w.-]+\s*:.*|-\s.*|#.*|)$")
_HTML_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL)
_HTML_CODE_BLOCK = re.compile(r"</?(?:pre|script|style|svg|math|textarea)\b[^<>]*>", re.IGNORECASE)
_HTML_INLINE_CODE = re.compile(r"</?(?:code|kbd|samp|tt)\b[^<>]*>", re.IGNORECASE)
_HTML_HEADING_OPEN = re.compile(r"<h([1-6])\b[^<>]*>", re.IGNORECASE)
_HTML_HEADING_CLOSE = re.compile(r"</h[1-6]\s*>", re.IGNORECASE)
_HTML_SUMMARY = re.compile(r"<summary\b[^<>]*>(.*?)</summary\s*>", re.IGNORECASE | re.DOTALL)
_HTML_LIST_ITEM = re.compile(r"<li\b[^<>]*>", re.IGNORECASE)
_HTML_CELL_END = re.compile(r"</t[dh]\s*>", re.IGNORECASE)
_HTML_LINE_BREAK = re.compile(r"<br\s*/?>|</li\s*>", re.IGNORECASE)
_HTML_BLOCK = re.compile(
    r"</?(?:p|div|section|article|header|footer|nav|main|aside|ul|ol|dl|dt|dd|table|thead"
    r"|tbody|tfoot|tr|blockquote|figure|figcaption|hr|details|summary|body|html|head"
    r"|title)\b[^<>]*>",
    re.IGNORECASE,
)
_ASCII_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_DROPPED_CATEGORIES = frozenset({"So", "Sk", "Cc", "Cf", "Co", "Cs", "Cn"})
_KEPT_CHARACTERS = frozenset("\n\t`^")
#: Stands in for removed unspeakable content (URL, e-mail, image, code) until sentences are
#: split, so that sentences left meaningless by a removal ("See <url>.") can be dropped.
_REMOVED = "\x00"
#: Stands in for inline code that has no speakable name: a sentence holding it is dropped
#: whole, never spoken with a hole where the code was.
_HOLE = "\x01"
_INLINE_KEPT_CHARACTERS = _KEPT_CHARACTERS | {_REMOVED, _HOLE}
#: The line a dropped block (code, math, an HTML ``<pre>``) leaves behind, so that the
#: block parser knows something unspoken stood there.
_DROPPED_BLOCK = "\x02"


def _prepare(notes: str) -> list[str]:
    """Normalise line endings and symbols, drop code blocks and HTML structure, dedent."""
    text = notes.replace("\r\n", "\n").replace("\r", "\n")
    text = _strip_symbols(text)
    lines = _drop_front_matter(text.split("\n"))
    text = "\n".join(_drop_fenced_blocks(lines))
    text = _HTML_COMMENT.sub(" ", text)
    text = _HTML_CODE_BLOCK.sub("\n```\n", text)
    text = _HTML_INLINE_CODE.sub("`", text)
    text = _HTML_SUMMARY.sub(_summary, text)
    text = _HTML_HEADING_OPEN.sub(lambda m: "\n\n" + "#" * int(m.group(1)) + " ", text)
    text = _HTML_HEADING_CLOSE.sub("\n\n", text)
    text = _HTML_LIST_ITEM.sub("\n- ", text)
    text = _HTML_CELL_END.sub(", ", text)
    text = _HTML_LINE_BREAK.sub("\n", text)
    text = _HTML_BLOCK.sub("\n\n", text)
    lines = _drop_fenced_blocks(text.split("\n"))
    return textwrap.dedent("\n".join(line.expandtabs(4) for line in lines)).split("\n")


def _summary(match: re.Match[str]) -> str:
    """A ``<details>`` summary: a navigation heading (to skip what follows) or nothing.

    Summaries caption collapsed content ("Example for DI", "Table of Contents"): read out,
    they announce something the episode then never says.
    """
    caption = clean_text(match.group(1)).strip(" .:")
    if _NAVIGATION_HEADING.match(caption):
        return f"\n\n###### {caption}\n\n"
    return "\n\n"


def _strip_symbols(text: str, keep: frozenset[str] = _KEPT_CHARACTERS) -> str:
    """Remove emoji, other symbols and control/format characters, except those in ``keep``."""
    if text.isascii():
        if not _ASCII_CONTROL.search(text):
            return text
        return _ASCII_CONTROL.sub(lambda m: m.group() if m.group() in keep else "", text)
    return "".join(
        ch for ch in text if ch in keep or unicodedata.category(ch) not in _DROPPED_CATEGORIES
    )


def _drop_front_matter(lines: list[str]) -> list[str]:
    """Remove a YAML front matter block (``---`` ... ``---``) at the very top."""
    if not lines or lines[0].strip() != "---":
        return lines
    for end in range(1, min(len(lines), _MAX_FRONT_MATTER_LINES + 1)):
        stripped = lines[end].strip()
        if stripped in ("---", "..."):
            return lines[end + 1 :] if end > 1 else lines
        if not _FRONT_MATTER_LINE.match(lines[end]):
            return lines
    return lines


def _drop_fenced_blocks(lines: list[str]) -> list[str]:
    """Blank out fenced code blocks and ``$$`` math blocks (an unclosed one runs to the end)."""
    kept: list[str] = []
    closer: re.Pattern[str] | None = None
    for line in lines:
        if closer is not None:
            if closer.match(line):
                closer = None
            kept.append("")
            continue
        fence = _FENCE_OPEN.match(line)
        if fence:
            mark = fence.group(1)
            closer = re.compile(_CLOSER_PREFIX + re.escape(mark[0]) + f"{{{len(mark)},}}\\s*$")
            kept.append(_indent_of(line) + _DROPPED_BLOCK)
        elif _MATH_FENCE.match(line):
            if line.count("$$") < 2:
                closer = _MATH_CLOSER
            kept.append(_indent_of(line) + _DROPPED_BLOCK)
        else:
            kept.append(line)
    return kept


def _indent_of(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


# --------------------------------------------------------------------------- blocks

_QUOTE_PREFIX = re.compile(r"^[ \t]{0,3}(?:>[ \t]?)+")
_ATX_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
#: A setext (Markdown) or reStructuredText section underline.
_SETEXT_UNDERLINE = re.compile(
    r"^ {0,3}(?:=+|-+|~{3,}|\^{3,}|\*{3,}|\"{3,}|'{3,}|\+{3,}|_{3,}|:{3,}|\.{3,}|`{3,})[ \t]*$"
)
_THEMATIC_BREAK = re.compile(r"^ {0,3}(?:(?:-[ \t]*){3,}|(?:\*[ \t]*){3,}|(?:_[ \t]*){3,}|={3,})$")
_LIST_ITEM = re.compile(
    r"^[ \t]*(?:[-*+\u2022\u00b7\u25aa\u25e6\u2023\u2013]|\d{1,3}[.)]|\(?[a-z][.)])[ \t]+(.*)$"
)
_TASK_BOX = re.compile(r"^\[[ xX]\][ \t]*")
_TABLE_SEPARATOR = re.compile(r"^[ \t]*\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$")
_DEFINITION = re.compile(r"^ {0,3}\[\^?[^\]]+\]:")
_CELL_SPLIT = re.compile(r"(?<!\\)\|")
_HEADING_NUMBER = re.compile(r"^\d+(?:\.\d+)*[.)]?\s+")
#: reStructuredText: a directive, comment, target or substitution definition (``.. x::``).
_RST_EXPLICIT = re.compile(r"^ {0,3}\.\.(?:\s|$)")
#: reStructuredText grid tables (``+----+----+``) and simple tables (``==== ====``).
_GRID_BORDER = re.compile(r"^[ \t]*\+(?:[-=]+\+)+[ \t]*$")
_SIMPLE_TABLE_BORDER = re.compile(r"^[ \t]*=+(?:[ \t]+=+)+[ \t]*$")
#: Headings of navigation sections: their content is never spoken.
_NAVIGATION_HEADING = re.compile(
    r"^(?:table of contents|contents|toc|index|on this page|in this (?:article|document|readme"
    r"|guide|page)|navigation|jump to|quick links|links|badges|sponsors|backers|contributors"
    r"|authors|maintainers|credits|acknowledge?ments|licen[cs]e|copyright)$",
    re.IGNORECASE,
)
#: Debian changelog entry header: ``package (1.2-3) unstable; urgency=medium``.
_DEBIAN_ENTRY = re.compile(r"^(\S+) \(([^()\s]+)\) [\w./ -]+; *urgency=\w+", re.IGNORECASE)
#: A changelog sign-off (`` -- Name <mail>  date``), trailer or metadata line.
_SIGN_OFF = re.compile(
    r"^\s*(?:--\s+\S.*(?:<[^<>]*@[^<>]*>|\d{4}.*\d\d:\d\d).*|\[\s[^\[\]]+\s\]|(?:signed-off-by|reviewed-by|"
    r"acked-by|co-authored-by|tested-by|reported-by|cc|change-id|git-svn-id)\s*:.*)$",
    re.IGNORECASE,
)
#: A line that only dates something (a timestamp, "Released: 2024-01-05", "(2024-01-05)").
_DATE_LINE = re.compile(
    r"^\s*(?:(?:released?|date|updated|last updated|published|version|tag)\s*[:=-]?\s*)?[(\[]?"
    r"(?:\w{3},?\s+)?(?:\d{4}-\d{2}-\d{2}|\d{1,2}\s+\w{3,9}\s+\d{4}|\w{3,9}\s+\d{1,2},?\s+\d{4})"
    r"(?:[ T]\d\d:\d\d(?::\d\d)?(?:\s*[+-]\d{4}|\s*Z|\s*UTC)?)?[)\]]?\s*$",
    re.IGNORECASE,
)
#: A line of a plain-text or reStructuredText document that is code rather than prose.
_CODE_LINE = re.compile(
    r"^\s*(?:>>>|\.\.\.\s|\$ |% |# |//|/\*|\*/|[\w.]+\(.*\)\s*$|[\w.\[\]'\"]+\s*[-+*/|&]?="
    r"|(?:def|class|import|from|return|if|elif|else|for|while|try|except|with|async|await"
    r"|raise|yield|lambda|print|pip|python|npm|cd|git|curl|export|sudo|make)\b.*(?:[:(=)\]]|"
    r"\s-{1,2}\w)|[{}\[\]();]\s*$|.*::=|.*\s->\s|<[\w/]+>)"
)
#: A list item or paragraph that is only links (a link list, a badge row, a TOC entry).
_LINK_ONLY = re.compile(
    r"^(?:\s*(?:\[(?:[^\[\]]|\[[^\[\]]*\])*\]\([^()\s]*(?:\([^()]*\))?[^()]*\)|\[[^\[\]]*\]\[[^\]]*\]"
    r"|<https?://[^>]+>|https?://\S+|`[^`]+ <[^>]+>`__?)\s*[-|,;:\u2022\u00b7/]*\s*)+$"
)


class _SectionBuilder:
    """Collects headings and text blocks into sections of finished sentences.

    A paragraph ending with a colon introduces what follows: its last sentence is kept
    only when text or a list follows, never when code, a table or a new heading does
    ("Run it with:" before a dropped code block would be a sentence with a hole).
    """

    def __init__(self) -> None:
        self._sections: list[Section] = []
        self._heading: str | None = None
        self._sentences: list[str] = []
        self._headings: list[str] = []
        self._list_sentences: set[str] = set()
        self._pending: list[str] = []
        self.skipping = False
        #: What the notes are about when their form says so (a Debian changelog's package).
        self.subject: str | None = None

    def start(self, raw_heading: str) -> None:
        """Start a new section; a heading that cleans to nothing continues the current one."""
        self.drop_pending()
        heading = _clean_heading(raw_heading)
        if not heading:
            return
        self._headings.append(heading)
        self._close()
        self._heading = heading
        self.skipping = bool(_NAVIGATION_HEADING.match(heading))

    def add_text(self, raw: str, *, list_item: bool = False) -> None:
        """Add a paragraph or list item: clean it, split it into sentences, cap their length."""
        if self.skipping or _LINK_ONLY.match(raw) or _is_metadata(raw):
            return
        pieces = _split_sentences(_clean_inline(raw))
        introduction = pieces.pop() if raw.rstrip().endswith(":") and pieces else None
        sentences = [sentence for piece in pieces for sentence in _speakable_pieces(piece)]
        if sentences:
            self._commit_pending()
        if list_item:
            self._list_sentences.update(sentences)
        self._sentences.extend(sentences)
        if introduction is not None:
            self._pending = _speakable_pieces(introduction)

    def add_table(self, headers: list[str], rows: list[list[str]]) -> None:
        """Add a table as speech: small tables row by row, large ones as one sentence.

        A row that lost a cell to removal (a badge, an image, a bare link) means nothing
        spoken and is skipped; a table that is mostly such rows is skipped whole.
        """
        self.drop_pending()
        if self.skipping:
            return
        clean_headers = [_trim_clause(clean_text(header)) for header in headers]
        spoken: list[str] = []
        for cells in rows:
            sentence = _row_sentence(clean_headers, cells)
            if sentence:
                spoken.append(sentence)
        if not spoken or len(spoken) * 2 < len(rows):
            return
        if len(spoken) <= _MAX_SPOKEN_ROWS:
            for sentence in spoken:
                self._sentences.extend(_cap_length(_finish(sentence)))
            return
        names = [_trim_clause(clean_text(cells[0])) for cells in rows if cells]
        names = [name for name in names if name and _HOLE not in name][:3]
        columns = [header for header in clean_headers if header and _HOLE not in header]
        if not names or not columns:
            return
        summary = (
            f"A table lists {_join_words(columns)} for {len(rows)} entries, "
            f"such as {_join_words(names)}"
        )
        self._sentences.extend(_cap_length(_finish(summary)))

    def dropped_block(self) -> None:
        """Something unspoken (code, a table, a directive) stood here."""
        self.drop_pending()

    def drop_pending(self) -> None:
        self._pending = []

    def result(self) -> ParsedNotes:
        """Finish the last section and return the whole parse.

        Notes made only of headings are spoken as their headings: one untitled section.
        List items that only repeat a heading of the notes (a table of contents) go.
        """
        self.drop_pending()
        self._close()
        headings = {heading.casefold().rstrip("?") for heading in self._headings}
        sections: list[Section] = []
        for section in self._sections:
            kept = tuple(
                sentence
                for sentence in section.sentences
                if not (
                    sentence in self._list_sentences
                    and sentence.rstrip(".!?").casefold() in headings
                )
            )
            if kept:
                sections.append(Section(section.heading, kept))
        if not sections and self._headings and not self._sections:
            sentences = (piece for text in self._headings for piece in _cap_length(_finish(text)))
            sections.append(Section(None, tuple(sentences)))
        first_heading = self.subject or (self._headings[0] if self._headings else None)
        return ParsedNotes(first_heading=first_heading, sections=tuple(sections))

    def _commit_pending(self) -> None:
        self._sentences.extend(self._pending)
        self._pending = []

    def _close(self) -> None:
        if self._sentences:
            self._sections.append(Section(self._heading, tuple(self._sentences)))
        self._sentences = []


_LABEL = re.compile(
    r"^(?:note|notes|warning|tip|important|caution|hint|example|examples|see also|danger"
    r"|attention|todo|usage|output|changes|fixed|added|removed|deprecated|security)[.:!]?$",
    re.IGNORECASE,
)


def _speakable_pieces(sentence: str) -> list[str]:
    """A split sentence as spoken sentences: none when it has a hole, capped in length."""
    if _HOLE in sentence or _LABEL.match(sentence):
        return []
    resolved = _resolve_removals(sentence, drop_if_short=True)
    if not resolved or has_hole(resolved):
        return []
    return list(_cap_length(resolved))


#: Tables with at most this many speakable rows are read row by row.
_MAX_SPOKEN_ROWS = 6


def _row_sentence(headers: list[str], cells: list[str]) -> str:
    """One table row as a sentence ("For Alice, role is engineer"), or "" when it lost a cell."""
    parts: list[tuple[str, str]] = []
    for position, raw_cell in enumerate(cells):
        if not raw_cell.strip():
            continue
        cell = _trim_clause(_resolve_removals(_clean_inline(raw_cell)))
        if not cell or _HOLE in cell or (_REMOVED in _clean_inline(raw_cell) and len(cell) < 3):
            return ""
        header = headers[position] if position < len(headers) else ""
        parts.append((header if header and header != cell and _HOLE not in header else "", cell))
    if len(parts) < 2:
        return ""
    first, rest = parts[0][1], parts[1:]
    details = [f"{header} is {cell}" if header else cell for header, cell in rest]
    return f"For {first}, {_join_words(details)}"


def _join_words(items: list[str]) -> str:
    """ "a", "a and b", "a, b and c"."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _is_metadata(raw: str) -> bool:
    """A sign-off, trailer or timestamp line: nothing anyone says aloud."""
    return bool(_SIGN_OFF.match(raw) or _DATE_LINE.match(raw))


#: A paragraph that is one short bold phrase ("**Contents**") is a heading in disguise.
_BOLD_LINE = re.compile(r"^(\*\*|__)([^*_]+)\1:?$")
_MAX_BOLD_HEADING = 8


class _BlockParser:
    """A line-by-line block parser feeding a `_SectionBuilder`."""

    def __init__(self, lines: list[str], builder: _SectionBuilder) -> None:
        self._lines = [_QUOTE_PREFIX.sub("", line) for line in lines]
        self._builder = builder
        self._buffer: list[str] = []
        self._buffer_is_item = False
        self._in_list = False
        self._previous_blank = True

    def run(self) -> None:
        """Parse every line, then flush the last open block."""
        index = 0
        while index < len(self._lines):
            index = self._step(index)
        self._flush()

    def _step(self, index: int) -> int:
        """Handle the block starting at ``index``; return the index of the next line."""
        line = self._lines[index]
        stripped = line.strip()
        if not stripped:
            self._flush()
            self._previous_blank = True
            return index + 1
        if stripped == _DROPPED_BLOCK:
            self._flush()
            self._builder.dropped_block()
            self._previous_blank = True
            return index + 1
        indent = len(line) - len(line.lstrip(" "))
        if _RST_EXPLICIT.match(line):
            return self._skip_explicit_markup(index, indent)
        if indent >= 2 and self._previous_blank and self._is_code_block(index, indent):
            return self._skip_indented(index, indent)
        next_index = self._block(index, line, stripped, indent)
        self._previous_blank = False
        return next_index

    def _block(self, index: int, line: str, stripped: str, indent: int) -> int:
        heading = _ATX_HEADING.match(line)
        debian = _DEBIAN_ENTRY.match(stripped) if indent == 0 else None
        if heading:
            self._flush()
            self._in_list = False
            self._builder.start(heading.group(2) or "")
        elif debian:
            self._flush()
            self._in_list = False
            self._builder.subject = self._builder.subject or debian.group(1)
            self._builder.start(f"Version {debian.group(2)}")
        elif (
            _SETEXT_UNDERLINE.match(line)
            and len(self._buffer) == 1
            and not self._buffer_is_item
            and len(stripped) >= min(3, len(self._buffer[0]))
        ):
            text = self._buffer.pop()
            self._builder.start(text)
        elif _GRID_BORDER.match(line) or _SIMPLE_TABLE_BORDER.match(line):
            self._flush()
            return self._skip_rst_table(index)
        elif _THEMATIC_BREAK.match(line) or _SETEXT_UNDERLINE.match(line):
            self._flush()
            self._in_list = False
        elif "|" in stripped and self._is_table_separator(index + 1):
            self._flush()
            self._in_list = False
            return self._table(index)
        elif _DEFINITION.match(line):
            self._flush()
        else:
            self._text_line(line, stripped, indent)
        return index + 1

    def _text_line(self, line: str, stripped: str, indent: int) -> None:
        item = _LIST_ITEM.match(line)
        if item:
            self._flush()
            self._buffer = [_TASK_BOX.sub("", item.group(1))]
            self._buffer_is_item = True
            self._in_list = True
        elif self._buffer and not self._previous_blank:
            self._buffer.append(stripped)
        else:
            self._flush()
            self._buffer = [stripped]
            self._buffer_is_item = self._in_list and indent >= 2
            self._in_list = self._in_list and indent >= 2

    def _is_table_separator(self, index: int) -> bool:
        if index >= len(self._lines):
            return False
        candidate = self._lines[index]
        return "|" in candidate and bool(_TABLE_SEPARATOR.match(candidate))

    def _table(self, index: int) -> int:
        headers = _split_cells(self._lines[index])
        rows: list[list[str]] = []
        index += 2
        while index < len(self._lines) and "|" in self._lines[index] and self._lines[index].strip():
            row = self._lines[index]
            if not _TABLE_SEPARATOR.match(row):
                rows.append(_split_cells(row))
            index += 1
        self._builder.add_table(headers, rows)
        self._previous_blank = True
        return index

    def _is_code_block(self, index: int, indent: int) -> bool:
        """Tell whether the indented block at ``index`` is code (or a literal block).

        Indented by four or more outside a list, introduced by ``::`` or a colon, or
        made mostly of lines that look like code: it is code. Indented prose (a quote, a
        definition, a list continuation) is not.
        """
        block = self._block_lines(index, indent)
        code_lines = sum(1 for line in block if _CODE_LINE.match(line))
        looks_like_code = code_lines * 2 >= len(block)
        if self._in_list and indent < 6:
            return looks_like_code and code_lines > 0 and self._introduced_by_colon(index)
        if indent >= 4 and not self._in_list:
            return True
        return looks_like_code or self._introduced_by_colon(index)

    def _introduced_by_colon(self, index: int) -> bool:
        previous = index - 1
        while previous >= 0 and not self._lines[previous].strip():
            previous -= 1
        return previous >= 0 and self._lines[previous].rstrip().endswith(":")

    def _block_lines(self, index: int, indent: int) -> list[str]:
        block: list[str] = []
        while index < len(self._lines):
            line = self._lines[index]
            if line.strip():
                if len(line) - len(line.lstrip(" ")) < indent:
                    break
                block.append(line)
            index += 1
        return block

    def _skip_indented(self, index: int, indent: int) -> int:
        self._flush()
        self._builder.dropped_block()
        while index < len(self._lines):
            line = self._lines[index]
            if line.strip() and len(line) - len(line.lstrip(" ")) < indent:
                break
            index += 1
        self._previous_blank = True
        return index

    def _skip_explicit_markup(self, index: int, indent: int) -> int:
        """Skip a reStructuredText directive, comment or target and its indented body."""
        self._flush()
        self._builder.dropped_block()
        index += 1
        while index < len(self._lines):
            line = self._lines[index]
            if line.strip() and len(line) - len(line.lstrip(" ")) <= indent:
                break
            index += 1
        self._previous_blank = True
        return index

    def _skip_rst_table(self, index: int) -> int:
        """Skip a reStructuredText grid or simple table (up to the blank line after it)."""
        self._builder.dropped_block()
        while index < len(self._lines) and self._lines[index].strip():
            index += 1
        self._previous_blank = True
        return index

    def _flush(self) -> None:
        bold = _BOLD_LINE.match(self._buffer[0]) if len(self._buffer) == 1 else None
        if bold and not self._buffer_is_item and len(bold.group(2).split()) <= _MAX_BOLD_HEADING:
            self._builder.start(bold.group(2))
        elif self._buffer:
            text = " ".join(self._buffer)
            if text.endswith("::"):
                text = text[:-2].rstrip() + (":" if not text[:-2].endswith(" ") else "")
                text = text.rstrip()
                if not text.endswith(":"):
                    text += ":"
            self._builder.add_text(text, list_item=self._buffer_is_item)
        self._buffer = []
        self._buffer_is_item = False


def _split_cells(line: str) -> list[str]:
    """Split a table row into its cells, ignoring the outer pipes."""
    row = line.strip()
    if row.startswith("|"):
        row = row[1:]
    if row.endswith("|") and not row.endswith("\\|"):
        row = row[:-1]
    return [cell.strip() for cell in _CELL_SPLIT.split(row)]


_HEADING_DATE = re.compile(
    r"\s*(?:[(\[]\s*(?:released?\s*:?\s*)?[^()\[\]]*\d{4}[^()\[\]]*[)\]]"
    r"|[-\u2013\u2014,:]\s*(?:released?\s*:?\s*)?(?:\d{4}-\d{2}-\d{2}|\w+ \d{1,2},? \d{4}"
    r"|\d{1,2} \w+ \d{4}))\s*$",
    re.IGNORECASE,
)
_HEADING_LETTER = re.compile(r"^[A-Z][.)]\s+(?=\S)")
_BARE_VERSION = re.compile(r"^(?:v(?:ersion)?\s*)?(\d+(?:\.\w+)+(?:[-+.]?\w+)*)$", re.IGNORECASE)


def _clean_heading(raw: str) -> str:
    """Clean a heading's text: inline cleanup, no numbering, no trailing punctuation but '?'.

    A changelog heading loses its date ("1.2.0 (2024-01-05)" becomes "Version 1.2.0").
    """
    heading = clean_text(_HEADING_DATE.sub("", raw.strip()))
    if _HOLE in heading:
        heading = clean_text(re.sub(r"(`+).+?\1", " ", raw))
    version = _BARE_VERSION.match(heading.strip())
    if version:
        return f"Version {version.group(1)}"
    heading = _HEADING_NUMBER.sub("", _HEADING_LETTER.sub("", heading))
    if heading.isupper() and len(heading.split()) > 1:
        heading = heading.capitalize()
    return heading.rstrip(" .,:;!-\u2013\u2014").strip()


# --------------------------------------------------------------------------- inline

_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|>~<])")
_INLINE_CODE = re.compile(r"(`+)(.+?)\1")
_CODE_WORD = re.compile(r"^[A-Za-z][A-Za-z0-9'-]*$")
#: An identifier, dotted path or command name, optionally called: ``run_until_complete``,
#: ``asyncio.run()``, ``ActivityHandle``, ``--max-workers``.
_CODE_NAME = re.compile(r"^(?:-{1,2})?[A-Za-z_][\w]*(?:[.:-][A-Za-z_]\w*)*(?:\(\))?$")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
#: Most words a code name may become when spoken.
_MAX_CODE_NAME_WORDS = 5
#: reStructuredText roles (``:func:`name```) and hyperlinks (```text <url>`_``).
_RST_ROLE = re.compile(r":[\w:+-]+:`([^`]+)`")
_RST_LINK = re.compile(r"`([^`<>]+?)\s*<[^<>`]+>`__?")
_RST_REFERENCE = re.compile(r"`([^`<>]+)`__?|\b(\w+)__?(?=[\s.,;:!?)]|$)")
_RST_SUBSTITUTION = re.compile(r"\|[^|\s][^|]*\|_{0,2}")
#: A double-quoted identifier in plain-text docs (pydoc): ``"__enter__()"``, ``"os.path"``.
_QUOTED_CODE = re.compile(r"\"([A-Za-z_]\w*(?:[._]\w+|\(\))+|_\w+)\"")
#: Issue, bug and pull-request references, with the words that only point at them.
_ISSUE_REFERENCE = re.compile(
    r"(?:\(\s*)?(?:\b(?:closes?|fix(?:es|ed)?|resolves?|see|refs?|issues?|bugs?|pr|pull request"
    r"|lp|gh|bpo|cve)\s*:?\s*)?(?:#\d+|\b(?:gh|bpo|bug|issue|pr|cve)-\d+(?:-\d+)?)"
    r"(?:\s*(?:,|and)\s*#\d+)*(?:\s*\))?",
    re.IGNORECASE,
)
#: Commit hashes and other long hexadecimal or UUID identifiers.
_HASH = re.compile(
    r"\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{7,64}\b|\b[0-9a-f]{8}(?:-[0-9a-f]{4}){3}"
    r"-[0-9a-f]{12}\b",
    re.IGNORECASE,
)
#: Code written in prose without backticks: a dotted name called, ``a.timeout(N)``.
_BARE_CALL = re.compile(
    r"(?<![\w.])@?[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+\([^()\s]*\)|(?<!\S)--?[a-z][\w-]*=\S+"
)
#: @mentions and "by @name" credits.
_MENTION = re.compile(
    r"(?:\b(?:by|thanks to|thanks)\s+)?(?<![\w.])@[\w-]+(?:\s*(?:,|and)\s*@[\w-]+)*"
)
#: An RFC 2822 or ISO timestamp inside text.
_TIMESTAMP = re.compile(
    r"\b(?:\w{3},\s+)?\d{1,2}\s+\w{3}\s+\d{4}\s+\d\d:\d\d:\d\d(?:\s*[+-]\d{4})?"
    r"|\b\d{4}-\d{2}-\d{2}[T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:?\d\d)?"
)
_FUNCTION_WORDS = r"the|a|an|of|with|by|from|via|using|into|than|your|our|its|their|such"
_HOLE_PATTERN = re.compile(
    r"\b(?:the|a|an)\s+(?:and|or|but|of|is|are|was)\b"
    r"|\b(?:the|a|an|of|with|by|from|via|using|into)\s*[,;:)]"
    r"|\(\s*\)|\s[,;]\s*[,;.]",
    re.IGNORECASE,
)
_DANGLING_WORD = re.compile(
    r"\b(?:" + _FUNCTION_WORDS + r"|and|or|(?:things|stuff) like|such as|including|the following"
    r"|as follows)\s*[.!?:]?\s*$",
    re.IGNORECASE,
)
_IMAGE = re.compile(r"!\[[^\[\]]*\](?:\((?:[^()\n]|\([^()\n]*\))*\)|\[[^\[\]]*\])")
_FOOTNOTE_REF = re.compile(r"\[\^[^\[\]]*\]|\[(?:\d{1,3}|citation needed|!\w+)\]", re.IGNORECASE)
_LINK = re.compile(r"\[([^\[\]]*)\](?:\((?:[^()\n]|\([^()\n]*\))*\)|\[[^\[\]]*\])")
_AUTOLINK = re.compile(r"<(?:[a-z][a-z0-9+.-]*:[^<>\s]*|[^<>\s@]+@[^<>\s]+)>", re.IGNORECASE)
_HTML_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>")
_URL_END = r"(?=[.,;:!?'\")\]]*(?:\s|$))"
_URL = re.compile(
    r"(?:(?:https?|ftp|file)://|\bwww\.|\bmailto:)\S*?"
    + _URL_END
    + r"|\b(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,}/\S*?"
    + _URL_END,
    re.IGNORECASE,
)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_EMOJI_CODE = re.compile(r":[a-z][a-z0-9_+-]*:")
_ARROW = re.compile(r"\s*(?:-+>|=+>|\u2192|\u21d2)\s*")
_COMPARISON = re.compile(r"(?<=\s)(<=|>=|<|>)(?=\s)")
_APPROXIMATELY = re.compile(r"~(?=\d)")
_SHARP = re.compile(r"\b([CF])#")
_NUMBER_SIGN = re.compile(r"#(?=\d)")
_INTRAWORD_UNDERSCORE = re.compile(r"(?<=[^\W_])_+(?=[^\W_])")
_PIPE = re.compile(r"\s*\|\s*")
_INLINE_BULLET = re.compile(r"\s*[\u2022\u25aa\u25e6\u2023]\s*")
_STRAY = re.compile(r"[*_`~^\\{}\[\]<>#@|]|={2,}")
_EMPTY_BRACKETS = re.compile(r"\([\s,.;:\x00]*\)|\"[\s\x00]*\"")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([.,;:!?)])")
_SPACE_AFTER_OPEN = re.compile(r"\(\s+")
_REPEATED_COMMA = re.compile(r"([,;:])(?:\s*[,;:])+")
_COMMA_BEFORE_STOP = re.compile(r"[,;:]+\s*([.!?])")
_LEADING_JUNK = re.compile(r"^[\s,;:.!?)\-\u2013\u2014/]+")
_REMOVED_RUN = re.compile(r"\s*\x00(?:[\s,;:]*\x00)*\s*")
_DANGLING_END = re.compile(
    r"(?:\s+|^)(?:at|to|via|from|see|on|in|here|under|visit|the|a|an|and|or|by|with|of|is|are"
    r"|like|this|following|link|website|site|page|url|e\.g|i\.e)\s*([.!?]*)$",
    re.IGNORECASE,
)
_POINTER_BEFORE_REMOVED = re.compile(
    r"\b(?:at|to|via|from|see|visit|under|on|in|and|or|with|using|like)\s+(?=\x00)",
    re.IGNORECASE,
)
#: A sentence that lost content to a removal is dropped when fewer words than this remain.
_MIN_WORDS_AFTER_REMOVAL = 3
_WHITESPACE = re.compile(r"\s+")
_COMPARISON_WORDS = {"<": "less than", ">": "greater than", "<=": "at most", ">=": "at least"}


def _inline_code(match: re.Match[str]) -> str:
    """An inline code span as a speakable name, or a hole that drops its sentence.

    ``pytest`` stays "pytest"; ``run_until_complete`` becomes "run until complete",
    ``asyncio.run()`` "asyncio run", ``ActivityHandle`` "Activity Handle". Anything else
    (an expression, a command line, a path) has no name a voice could say.
    """
    return code_name(match.group(2)) or f" {_HOLE} "


def code_name(code: str) -> str:
    """The speakable name of an identifier-like piece of code, or "" when it has none."""
    code = code.strip()
    if not _CODE_NAME.match(code):
        return ""
    words = [
        word
        for part in re.split(r"[._:\-()]+", code.removesuffix("()"))
        for word in _CAMEL.split(part)
        if word
    ]
    if not words or len(words) > _MAX_CODE_NAME_WORDS:
        return ""
    if any(not re.search(r"[A-Za-z]", word) for word in words):
        return ""
    return " ".join(words)


def _clean_inline(text: str) -> str:
    """Turn one block of inline Markdown/HTML into plain, single-spaced speakable text."""
    text = _ESCAPE.sub(r"\1", text)
    text = _RST_ROLE.sub(lambda m: f"``{m.group(1).split('<')[0].strip().lstrip('~!.')}``", text)
    text = _RST_LINK.sub(r"\1", text)
    text = _RST_SUBSTITUTION.sub(f" {_REMOVED} ", text)
    text = _INLINE_CODE.sub(_inline_code, text)
    text = _RST_REFERENCE.sub(lambda m: m.group(1) or m.group(2), text)
    text = _QUOTED_CODE.sub(lambda m: code_name(m.group(1)) or m.group(), text)
    text = _IMAGE.sub(f" {_REMOVED} ", text)
    text = _FOOTNOTE_REF.sub("", text)
    text = _LINK.sub(r"\1", text)
    text = _AUTOLINK.sub(f" {_REMOVED} ", text)
    text = _HTML_TAG.sub("", text)
    text = html.unescape(text)
    text = _strip_symbols(text, _INLINE_KEPT_CHARACTERS)
    text = _URL.sub(f" {_REMOVED} ", text)
    text = _EMAIL.sub(f" {_REMOVED} ", text)
    text = _TIMESTAMP.sub(f" {_REMOVED} ", text)
    text = _ISSUE_REFERENCE.sub(f" {_REMOVED} ", text)
    text = _BARE_CALL.sub(f" {_HOLE} ", text)
    text = _MENTION.sub(f" {_REMOVED} ", text)
    text = _HASH.sub(f" {_REMOVED} ", text)
    text = _EMOJI_CODE.sub(" ", text)
    text = _ARROW.sub(" to ", text)
    text = _COMPARISON.sub(lambda m: _COMPARISON_WORDS[m.group(1)], text)
    text = _APPROXIMATELY.sub("about ", text)
    text = _SHARP.sub(r"\1 sharp", text)
    text = _NUMBER_SIGN.sub("number ", text)
    text = _INTRAWORD_UNDERSCORE.sub(" ", text)
    text = _PIPE.sub(", ", text)
    text = _INLINE_BULLET.sub(", ", text)
    text = _STRAY.sub("", text)
    text = _WHITESPACE.sub(" ", text)
    text = _EMPTY_BRACKETS.sub("", text)
    text = _SPACE_BEFORE_PUNCT.sub(r"\1", text)
    text = _SPACE_AFTER_OPEN.sub("(", text)
    text = _REPEATED_COMMA.sub(r"\1", text)
    text = _COMMA_BEFORE_STOP.sub(r"\1", text)
    text = _LEADING_JUNK.sub("", text)
    return _WHITESPACE.sub(" ", text).strip()


# --------------------------------------------------------------------------- sentences

_BOUNDARY = re.compile(r"[.!?]+[\"'\u201d\u2019)\]]*(?=\s)")
_ALWAYS_ABBREVIATIONS = frozenset(
    {
        "e.g", "i.e", "eg", "ie", "vs", "dr", "mr", "mrs", "ms", "prof", "st", "jr", "sr",
        "cf", "fig", "figs", "al", "mt", "approx", "dept", "vol", "viz", "ca",
    }
)  # fmt: skip
_CONTEXT_ABBREVIATIONS = frozenset(
    {"etc", "a.m", "p.m", "inc", "ltd", "co", "corp", "u.s", "u.k", "ph.d", "e.t.c"}
)
_DOTTED_ACRONYM = re.compile(r"^(?:[a-z]\.)+[a-z]$")
_FINAL_PUNCT = re.compile(r"[.!?][\"'\u201d\u2019)\]]*$")
_TRAILING_CLAUSE_PUNCT = " ,;:-\u2013\u2014/"
_CLAUSE_BREAK = re.compile(r"(?<=[,;:])\s+|\s+(?=[\u2013\u2014-]\s)")
_ALPHANUMERIC = re.compile(r"[^\W_]")


def _resolve_removals(text: str, *, drop_if_short: bool = False) -> str:
    """Take out removal markers and the words that only pointed at what was removed.

    "Write to <e-mail> about X" becomes "Write about X"; words left dangling before a
    removed tail go too ("Details are on <url>." becomes "Details are.").

    With ``drop_if_short``, a sentence that lost content and keeps fewer than
    `_MIN_WORDS_AFTER_REMOVAL` words is dropped (returns ""), e.g. "Contact me at <e-mail>."
    """
    if _REMOVED not in text:
        return text
    ends_removed = bool(re.search(r"\x00[\s,;:]*[.!?]*[\"'\u201d\u2019)\]]*\s*$", text))
    previous = None
    while previous != text:
        previous = text
        text = _REMOVED_RUN.sub(f" {_REMOVED} ", _POINTER_BEFORE_REMOVED.sub("", text))
    text = text.replace(_REMOVED, " ")
    text = _SPACE_BEFORE_PUNCT.sub(r"\1", _WHITESPACE.sub(" ", text)).strip()
    if ends_removed:
        previous = None
        while previous != text:
            previous = text
            text = _DANGLING_END.sub(r"\1", text).strip()
    text = _LEADING_JUNK.sub("", _COMMA_BEFORE_STOP.sub(r"\1", text))
    if not _ALPHANUMERIC.search(text):
        return ""
    if drop_if_short and len(text.split()) < _MIN_WORDS_AFTER_REMOVAL:
        return ""
    return _finish(text) if drop_if_short else text


def _split_sentences(text: str) -> list[str]:
    """Split clean text on . ! ? followed by whitespace, except after abbreviations."""
    pieces: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        if _is_abbreviation(text, match.start(), match.end()):
            continue
        pieces.append(text[start : match.end()])
        start = match.end()
    pieces.append(text[start:])
    return [_finish(piece) for piece in pieces if _ALPHANUMERIC.search(piece)]


def _is_abbreviation(text: str, punct_start: int, end: int) -> bool:
    """Tell whether the full stop at ``punct_start`` ends an abbreviation, not a sentence."""
    if text[punct_start] != "." or text[punct_start : punct_start + 2] == "..":
        return False
    word_start = text.rfind(" ", 0, punct_start) + 1
    word = text[word_start:punct_start].lstrip("([\"'\u201c\u2018")
    following = text[end:].lstrip()[:1]
    lowered = word.lower()
    if lowered in _ALWAYS_ABBREVIATIONS:
        return True
    if lowered in _CONTEXT_ABBREVIATIONS or _DOTTED_ACRONYM.match(lowered):
        return not following.isupper()
    if lowered == "no":
        return following.isdigit()
    return len(word) == 1 and word.isupper() and word != "I"


def _trim_clause(text: str) -> str:
    """Strip trailing clause punctuation (and a trailing full stop) from a fragment."""
    return text.rstrip(_TRAILING_CLAUSE_PUNCT + ".").strip()


def _finish(sentence: str) -> str:
    """Make a fragment a spoken sentence: trimmed, capitalised, ending in . ! or ?."""
    sentence = _LEADING_JUNK.sub("", sentence).rstrip(_TRAILING_CLAUSE_PUNCT).strip()
    if sentence.count("(") != sentence.count(")"):
        sentence = _WHITESPACE.sub(" ", sentence.replace("(", "").replace(")", "")).strip()
    if not _FINAL_PUNCT.search(sentence):
        sentence += "."
    if sentence[:1].islower() and not sentence[1:2].isupper():
        sentence = sentence[0].upper() + sentence[1:]
    return sentence


def _cap_length(sentence: str) -> Iterator[str]:
    """Yield the sentence, or, when too long, pieces split at clauses then in even chunks."""
    if len(sentence.split()) <= MAX_SENTENCE_WORDS:
        yield sentence
        return
    piece: list[str] = []
    for clause in _CLAUSE_BREAK.split(sentence):
        words = clause.split()
        if piece and len(piece) + len(words) > MAX_SENTENCE_WORDS:
            yield _finish(" ".join(piece))
            piece = []
        if len(words) > MAX_SENTENCE_WORDS:
            yield from (_finish(" ".join(chunk)) for chunk in _even_chunks(words))
        else:
            piece.extend(words)
    if piece:
        yield _finish(" ".join(piece))


def _even_chunks(words: list[str]) -> Iterator[list[str]]:
    """Cut a run of words into near-equal chunks of about `CHUNK_WORDS` words."""
    count = -(-len(words) // CHUNK_WORDS)
    for index in range(count):
        yield words[index * len(words) // count : (index + 1) * len(words) // count]
