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
    """Clean one line of inline Markdown/HTML into plain speakable text (no sentence split)."""
    return _resolve_removals(_clean_inline(text))


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
_INLINE_KEPT_CHARACTERS = _KEPT_CHARACTERS | {_REMOVED}


def _prepare(notes: str) -> list[str]:
    """Normalise line endings and symbols, drop code blocks and HTML structure, dedent."""
    text = notes.replace("\r\n", "\n").replace("\r", "\n")
    text = _strip_symbols(text)
    lines = _drop_front_matter(text.split("\n"))
    text = "\n".join(_drop_fenced_blocks(lines))
    text = _HTML_COMMENT.sub(" ", text)
    text = _HTML_CODE_BLOCK.sub("\n```\n", text)
    text = _HTML_INLINE_CODE.sub("`", text)
    text = _HTML_HEADING_OPEN.sub(lambda m: "\n\n" + "#" * int(m.group(1)) + " ", text)
    text = _HTML_HEADING_CLOSE.sub("\n\n", text)
    text = _HTML_LIST_ITEM.sub("\n- ", text)
    text = _HTML_CELL_END.sub(", ", text)
    text = _HTML_LINE_BREAK.sub("\n", text)
    text = _HTML_BLOCK.sub("\n\n", text)
    lines = _drop_fenced_blocks(text.split("\n"))
    return textwrap.dedent("\n".join(line.expandtabs(4) for line in lines)).split("\n")


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
            kept.append("")
        elif _MATH_FENCE.match(line):
            if line.count("$$") < 2:
                closer = _MATH_CLOSER
            kept.append("")
        else:
            kept.append(line)
    return kept


# --------------------------------------------------------------------------- blocks

_QUOTE_PREFIX = re.compile(r"^[ \t]{0,3}(?:>[ \t]?)+")
_ATX_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT_UNDERLINE = re.compile(r"^ {0,3}(?:=+|-+)[ \t]*$")
_THEMATIC_BREAK = re.compile(r"^ {0,3}(?:(?:-[ \t]*){3,}|(?:\*[ \t]*){3,}|(?:_[ \t]*){3,}|={3,})$")
_LIST_ITEM = re.compile(
    r"^[ \t]*(?:[-*+\u2022\u00b7\u25aa\u25e6\u2023\u2013]|\d{1,3}[.)])[ \t]+(.*)$"
)
_TASK_BOX = re.compile(r"^\[[ xX]\][ \t]*")
_TABLE_SEPARATOR = re.compile(r"^[ \t]*\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$")
_DEFINITION = re.compile(r"^ {0,3}\[\^?[^\]]+\]:")
_CELL_SPLIT = re.compile(r"(?<!\\)\|")
_HEADING_NUMBER = re.compile(r"^\d+(?:\.\d+)*[.)]?\s+")


class _SectionBuilder:
    """Collects headings and text blocks into sections of finished sentences."""

    def __init__(self) -> None:
        self._sections: list[Section] = []
        self._heading: str | None = None
        self._sentences: list[str] = []
        self._headings: list[str] = []

    def start(self, raw_heading: str) -> None:
        """Start a new section; a heading that cleans to nothing continues the current one."""
        heading = _clean_heading(raw_heading)
        if not heading:
            return
        self._headings.append(heading)
        self._close()
        self._heading = heading

    def add_text(self, raw: str) -> None:
        """Add a paragraph or list item: clean it, split it into sentences, cap their length."""
        for sentence in _split_sentences(_clean_inline(raw)):
            resolved = _resolve_removals(sentence, drop_if_short=True)
            if resolved:
                self._sentences.extend(_cap_length(resolved))

    def add_row(self, headers: list[str], cells: list[str]) -> None:
        """Add one table row as a single "Header: value, ..." sentence."""
        parts: list[str] = []
        for position, raw_cell in enumerate(cells):
            cell = _trim_clause(clean_text(raw_cell))
            if not cell:
                continue
            header = _trim_clause(clean_text(headers[position])) if position < len(headers) else ""
            parts.append(f"{header}: {cell}" if header and header != cell else cell)
        if parts:
            self._sentences.extend(_cap_length(_finish(", ".join(parts))))

    def result(self) -> ParsedNotes:
        """Finish the last section and return the whole parse.

        Notes made only of headings are spoken as their headings: one untitled section.
        """
        self._close()
        if not self._sections and self._headings:
            sentences = (piece for text in self._headings for piece in _cap_length(_finish(text)))
            self._sections.append(Section(None, tuple(sentences)))
        first_heading = self._headings[0] if self._headings else None
        return ParsedNotes(first_heading=first_heading, sections=tuple(self._sections))

    def _close(self) -> None:
        if self._sentences:
            self._sections.append(Section(self._heading, tuple(self._sentences)))
        self._sentences = []


class _BlockParser:
    """A line-by-line block parser feeding a `_SectionBuilder`."""

    def __init__(self, lines: list[str], builder: _SectionBuilder) -> None:
        self._lines = [_QUOTE_PREFIX.sub("", line) for line in lines]
        self._builder = builder
        self._buffer: list[str] = []
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
        indent = len(line) - len(line.lstrip(" "))
        if indent >= 4 and self._previous_blank and not self._in_list:
            return self._skip_indented_code(index)
        next_index = self._block(index, line, stripped, indent)
        self._previous_blank = False
        return next_index

    def _block(self, index: int, line: str, stripped: str, indent: int) -> int:
        heading = _ATX_HEADING.match(line)
        if heading:
            self._flush()
            self._in_list = False
            self._builder.start(heading.group(2) or "")
        elif _SETEXT_UNDERLINE.match(line) and len(self._buffer) == 1 and not self._in_list:
            text = self._buffer.pop()
            self._builder.start(text)
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
            self._in_list = True
        elif self._buffer and not self._previous_blank:
            self._buffer.append(stripped)
        else:
            self._flush()
            self._buffer = [stripped]
            self._in_list = self._in_list and indent >= 2

    def _is_table_separator(self, index: int) -> bool:
        if index >= len(self._lines):
            return False
        candidate = self._lines[index]
        return "|" in candidate and bool(_TABLE_SEPARATOR.match(candidate))

    def _table(self, index: int) -> int:
        headers = _split_cells(self._lines[index])
        index += 2
        while index < len(self._lines) and "|" in self._lines[index] and self._lines[index].strip():
            row = self._lines[index]
            if not _TABLE_SEPARATOR.match(row):
                self._builder.add_row(headers, _split_cells(row))
            index += 1
        return index

    def _skip_indented_code(self, index: int) -> int:
        self._flush()
        while index < len(self._lines):
            line = self._lines[index]
            if line.strip() and len(line) - len(line.lstrip(" ")) < 4:
                break
            index += 1
        self._previous_blank = True
        return index

    def _flush(self) -> None:
        if self._buffer:
            self._builder.add_text(" ".join(self._buffer))
        self._buffer = []


def _split_cells(line: str) -> list[str]:
    """Split a table row into its cells, ignoring the outer pipes."""
    row = line.strip()
    if row.startswith("|"):
        row = row[1:]
    if row.endswith("|") and not row.endswith("\\|"):
        row = row[:-1]
    return [cell.strip() for cell in _CELL_SPLIT.split(row)]


def _clean_heading(raw: str) -> str:
    """Clean a heading's text: inline cleanup, no numbering, no trailing punctuation but '?'."""
    heading = _HEADING_NUMBER.sub("", clean_text(raw))
    return heading.rstrip(" .,:;!-\u2013\u2014").strip()


# --------------------------------------------------------------------------- inline

_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|>~<])")
_INLINE_CODE = re.compile(r"(`+)(.+?)\1")
_CODE_WORD = re.compile(r"^[A-Za-z][A-Za-z0-9'-]*$")
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
    """Keep an inline code span's text only when it is a short plain word."""
    code = match.group(2).strip()
    if len(code) <= _MAX_CODE_WORD_CHARS and _CODE_WORD.match(code):
        return code
    return f" {_REMOVED} "


def _clean_inline(text: str) -> str:
    """Turn one block of inline Markdown/HTML into plain, single-spaced speakable text."""
    text = _ESCAPE.sub(r"\1", text)
    text = _INLINE_CODE.sub(_inline_code, text)
    text = _IMAGE.sub(f" {_REMOVED} ", text)
    text = _FOOTNOTE_REF.sub("", text)
    text = _LINK.sub(r"\1", text)
    text = _AUTOLINK.sub(f" {_REMOVED} ", text)
    text = _HTML_TAG.sub("", text)
    text = html.unescape(text)
    text = _strip_symbols(text, _INLINE_KEPT_CHARACTERS)
    text = _URL.sub(f" {_REMOVED} ", text)
    text = _EMAIL.sub(f" {_REMOVED} ", text)
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
