"""The LLM script writer: an OpenAI-compatible chat completions API writes the dialogue.

How a script is made:

1. Notes with nothing speakable in them are refused (non-retryable), as offline.
2. Notes longer than ``chunk_chars`` are condensed first: cut into consecutive chunks at
   paragraph, line or sentence boundaries (the chunks joined give the notes back exactly,
   so nothing is dropped), each chunk condensed by the model to a word budget in
   proportion to its size, and the condensed parts joined in order. This repeats (at most
   `MAX_CONDENSE_PASSES` times) until the source fits, so any notes up to 50,000
   characters stay within a small model's context.
3. The dialogue is requested with structured output (a JSON schema: a title and lines of
   ``{speaker: host|guest, text}``), a word target for the duration (SHORT 750 words,
   LONG 2,250, at 150 words a minute) and the request's language and instructions. How
   the JSON is asked for is negotiated with the server (`podnex.script.structured_output`):
   ``json_schema`` first, then llama.cpp's ``json_object`` with the schema, then JSON asked
   for in the prompt; the mode the server accepts is remembered for the worker's life.
4. The reply is validated: JSON matching the schema, at least two lines, both speakers,
   no empty line (after removing markup, URLs and code a voice must not read), and a
   length within ±20% of the target. A reply that fails is sent back with what was
   wrong (for length: the count and the range) and the model tries again, at most
   ``max_attempts`` times in all; then the writer fails with a non-retryable
   :class:`ScriptError` that says what was wrong.

The SDK's own retries are off (see `podnex.openai_api`): rate limits, server
errors and timeouts become retryable :class:`ScriptError` with the provider's
Retry-After, for Temporal to retry; refusals and other 4xx are not retryable, and neither
is a refusal of the request's form once no weaker mode is left to fall back to.

Every failure reads ``Script writer (openai at <host>) failed: <one-line reason>``: which
provider, which step, why. The provider's raw error body is logged, never in the message.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import openai
import structlog

from podnex.openai_api import MAX_LOGGED_BODY_CHARS, describe_failure, one_line, raw_body
from podnex.script.base import ScriptError, WriteRequest
from podnex.script.notes import clean_text, parse_document
from podnex.script.offline import TARGET_WORDS, WORDS_PER_MINUTE
from podnex.script.structured_output import (
    OutputMode,
    OutputModeSetting,
    OutputNegotiation,
    is_format_refusal,
    json_text,
    response_format,
    schema_instructions,
)
from podnex.script.types import Duration, Script, ScriptLine, Speaker

log = structlog.get_logger("podnex.script")

LENGTH_TOLERANCE = 0.2
"""How far (a fraction of the target) a script's word count may land from its target."""

MAX_CONDENSE_PASSES = 3
"""Most rounds of condensing long notes before writing from what they came to."""

WORDS_PER_LINE = 38
"""Average words a line the prompt suggests, which sets the suggested number of lines."""

_CONDENSE_CONCURRENCY = 4
_MIN_PART_WORDS = 80
_BUDGET_CHARS_PER_WORD = 8
"""Characters a condensed word is reckoned at (6 to 7 on average, with its space) so the
condensed notes fit ``chunk_chars`` with room for their part headings."""
_MAX_ECHOED_REPLY_CHARS = 60_000

SCRIPT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "title": {"type": "string"},
        "lines": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "speaker": {"type": "string", "enum": ["host", "guest"]},
                    "text": {"type": "string"},
                },
                "required": ["speaker", "text"],
                "additionalProperties": False,
            },
        },
    },
    "required": ["title", "lines"],
    "additionalProperties": False,
}
"""The JSON schema the dialogue must match (OpenAI structured output, strict mode)."""

SCHEMA_NAME = "podcast_script"

_WRITE_SYSTEM = """\
You write the script of a two-person podcast episode: a host and a guest talk through \
the notes the user gives, for listeners who have not read them.

Rules:
- The host opens the episode, asks questions, reacts and closes it; the guest explains. \
Both speak throughout, mostly taking turns.
- Ground every fact in the notes. Do not invent facts, figures, names or quotes.
- Cover the notes from beginning to end, in their order, giving each part time in \
proportion to its weight. Leave no part out.
- Write only words to be spoken: no Markdown, no stage directions, no speaker names \
inside a line, no URLs, e-mail addresses or code. Say symbols and numbers as words \
a listener understands.
- Each line is one turn of one to five sentences (at most about 90 words).
- Length: between {low} and {high} words in total, aiming at {target} words (about \
{minutes} minutes at {wpm} words a minute), in about {lines} lines.
- Language: {language}.
- Reply with JSON only, matching the schema: a short episode title and the lines in \
speaking order, each with its speaker ("host" or "guest") and text."""

_CONDENSE_SYSTEM = """\
You condense one part of a person's notes for the writer of a podcast episode. Keep \
every distinct fact, name, number, example and conclusion, in the notes' order; drop \
only repetition, formatting and boilerplate. Write plain sentences{language}, at most \
{words} words. Reply with the condensed text only."""


class MalformedScript(ValueError):
    """The model's reply is not a usable script; the message says why."""


class _FormatRefused(Exception):
    """The server refused the request's ``response_format`` (see `is_format_refusal`)."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


class LlmScriptWriter:
    """Writes scripts with an OpenAI-compatible chat model (see the module docstring)."""

    name = "openai"

    def __init__(
        self,
        client: openai.AsyncOpenAI,
        *,
        model: str,
        chunk_chars: int = 16_000,
        max_attempts: int = 3,
        output_mode: OutputModeSetting = "auto",
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.client = client
        self.model = model
        self.chunk_chars = chunk_chars
        self.max_attempts = max_attempts
        self.output = OutputNegotiation(output_mode)
        self.provider = f"{self.name} at {_server(client)}"
        """Who writes, for messages: ``openai at <host[:port]>``."""

    async def write(self, request: WriteRequest) -> Script:
        """Write a script for ``request`` within ±20% of its duration's word target.

        Raises :class:`ScriptError` whose message names the provider and the reason.
        """
        try:
            return await self._write(request)
        except ScriptError as exc:
            raise ScriptError(
                f"Script writer ({self.provider}) failed: {exc}",
                retryable=exc.retryable,
                retry_after=exc.retry_after,
                kind=exc.kind,
            ) from None

    async def _write(self, request: WriteRequest) -> Script:
        if not parse_document(request.notes).sections:
            raise ScriptError(
                "notes contain no speakable text", retryable=False, kind="InvalidNotes"
            )
        source, passes = await self._fit_notes(request)
        low, high = word_budget(request.duration)
        target = TARGET_WORDS[request.duration]
        messages = [
            {"role": "system", "content": _write_prompt(request.duration, request.language)},
            {"role": "user", "content": _write_request(request, source, condensed=passes > 0)},
        ]
        problem = ""
        for attempt in range(1, self.max_attempts + 1):
            content, mode = await self._script_reply(messages)
            try:
                script = parse_script(content, request.title)
            except MalformedScript as exc:
                problem = f"malformed output ({exc})"
                feedback = (
                    f"Your reply was not a valid script: {exc}. Reply again with the whole "
                    "script as JSON that matches the schema exactly."
                )
                echoed = content[:_MAX_ECHOED_REPLY_CHARS]
            else:
                words = script.word_count
                log.info(
                    "script measured",
                    model=self.model,
                    output_mode=mode,
                    attempt=attempt,
                    words=words,
                    target=target,
                    deviation_pct=round(100 * (words - target) / target, 1),
                    lines=len(script.lines),
                    condense_passes=passes,
                    source_chars=len(source),
                )
                if low <= words <= high:
                    return script
                problem = f"{words} words, outside {low}..{high}"
                direction = (
                    "Expand it: go deeper into each part of the notes with more exchanges, "
                    "explanations and examples from the notes"
                    if words < low
                    else "Shorten it: tighten the lines and drop repetition, keeping every part"
                )
                feedback = (
                    f"That script has {words} words; it must have between {low} and {high} "
                    f"words (aim at {target}). {direction}. Reply with the whole revised "
                    "script as JSON."
                )
                echoed = content
            messages = [
                *messages[:2],
                {"role": "assistant", "content": echoed},
                {"role": "user", "content": feedback},
            ]
            log.warning("script rejected", attempt=attempt, problem=problem)
        raise ScriptError(
            f"the model did not write a valid script in {self.max_attempts} attempts: {problem}",
            retryable=False,
            kind="MalformedScript",
        )

    # -- long notes -------------------------------------------------------------------------

    async def _fit_notes(self, request: WriteRequest) -> tuple[str, int]:
        """The notes, condensed in passes until they fit ``chunk_chars``; and the passes."""
        source = request.notes
        passes = 0
        while len(source) > self.chunk_chars and passes < MAX_CONDENSE_PASSES:
            parts = await self._condense_pass(source, request.language)
            condensed = "\n\n".join(
                f"## Part {index + 1} of {len(parts)}\n\n{part.strip()}"
                for index, part in enumerate(parts)
            )
            log.info(
                "notes condensed",
                condense_pass=passes + 1,
                chunks=len(parts),
                chars_in=len(source),
                chars_out=len(condensed),
            )
            if len(condensed) >= len(source):
                break
            source = condensed
            passes += 1
        return source, passes

    async def _condense_pass(self, source: str, language: str | None) -> list[str]:
        """Condense every chunk of ``source`` (a few at a time); the parts in order.

        The word budget (about what fits ``chunk_chars``) is shared out in proportion to
        each chunk's size, at least `_MIN_PART_WORDS` a chunk.
        """
        chunks = split_chunks(source, self.chunk_chars)
        budget = max(_MIN_PART_WORDS * len(chunks), self.chunk_chars // _BUDGET_CHARS_PER_WORD)
        limit = asyncio.Semaphore(_CONDENSE_CONCURRENCY)

        async def condense(index: int, chunk: str) -> str:
            words = max(_MIN_PART_WORDS, budget * len(chunk) // len(source))
            async with limit:
                return await self._condense(chunk, index, len(chunks), words, language)

        tasks = [asyncio.create_task(condense(i, chunk)) for i, chunk in enumerate(chunks)]
        try:
            return list(await asyncio.gather(*tasks))
        finally:
            for task in tasks:
                task.cancel()

    async def _condense(
        self, chunk: str, index: int, count: int, words: int, language: str | None
    ) -> str:
        """Ask the model to condense one chunk of the notes to at most ``words`` words."""
        in_language = f" in {language}" if language else ""
        content = await self._complete(
            [
                {
                    "role": "system",
                    "content": _CONDENSE_SYSTEM.format(words=words, language=in_language),
                },
                {
                    "role": "user",
                    "content": f"Part {index + 1} of {count} of the notes.\n\n"
                    f"<notes>\n{chunk}\n</notes>",
                },
            ],
            response_format=None,
            action="condensing the notes",
        )
        if not content.strip():
            raise ScriptError(
                f"condensing part {index + 1} of the notes gave an empty reply",
                retryable=True,
                kind="ProviderError",
            )
        return content

    # -- calls ------------------------------------------------------------------------------

    async def _script_reply(self, messages: list[dict[str, str]]) -> tuple[str, OutputMode]:
        """One structured-output completion for the dialogue: its text and the mode used.

        The request is made in the negotiated mode; when the server refuses that form, the
        next weaker mode is tried at once (and remembered), without counting as an attempt
        or a server error. A pinned mode that is refused fails for good.
        """
        system, *rest = messages
        while True:
            mode = self.output.mode
            prompt = {
                **system,
                "content": system["content"] + schema_instructions(mode, SCRIPT_SCHEMA),
            }
            try:
                content = await self._complete(
                    [prompt, *rest],
                    response_format=response_format(mode, SCRIPT_SCHEMA, SCHEMA_NAME),
                    action="writing the script",
                )
            except _FormatRefused as refused:
                fallback = self.output.refused(mode)
                log.warning(
                    "structured output refused",
                    provider=self.provider,
                    model=self.model,
                    refused_mode=mode,
                    status=refused.status,
                    next_mode=fallback,
                    body=refused.body[:MAX_LOGGED_BODY_CHARS],
                )
                if fallback is None:
                    raise ScriptError(
                        f"writing the script: the server refused structured output in {mode} "
                        f"mode (HTTP {refused.status}); set OPENAI_SCRIPT_OUTPUT_MODE=auto to "
                        "let podnex find a form it accepts",
                        retryable=False,
                        kind="ProviderError",
                    ) from None
                continue
            return content, mode

    async def _complete(
        self,
        messages: list[dict[str, str]],
        *,
        response_format: dict[str, Any] | None,
        action: str,
    ) -> str:
        """Run one chat completion; provider failures become :class:`ScriptError`."""
        extra: dict[str, Any] = {}
        if response_format is not None:
            extra["response_format"] = response_format
        try:
            completion = await self.client.chat.completions.create(
                model=self.model,
                messages=messages,  # type: ignore[arg-type]
                **extra,
            )
        except openai.OpenAIError as exc:
            if (
                response_format is not None
                and isinstance(exc, openai.APIStatusError)
                and is_format_refusal(exc)
            ):
                raise _FormatRefused(exc.status_code, raw_body(exc)) from None
            # One line with the status and the provider's words (the raw body is logged);
            # without the SDK's exception as its cause it is what the failed podcast reports.
            failure = describe_failure(exc, action)
            raise ScriptError(
                f"{action}: {failure.reason}",
                retryable=failure.retryable,
                retry_after=failure.retry_after,
                kind="ProviderError",
            ) from None
        if not completion.choices:
            return ""
        message = completion.choices[0].message
        if message.refusal:
            raise ScriptError(
                f"{action}: the model refused: {one_line(message.refusal)}",
                retryable=False,
                kind="ProviderError",
            )
        return message.content or ""


# ------------------------------------------------------------------------------ helpers


def _server(client: openai.AsyncOpenAI) -> str:
    """``host[:port]`` of the client's server."""
    url = client.base_url
    return f"{url.host}:{url.port}" if url.port else str(url.host)


def word_budget(duration: Duration) -> tuple[int, int]:
    """The least and most words a script of ``duration`` may have (target ±20%)."""
    target = TARGET_WORDS[duration]
    return round(target * (1 - LENGTH_TOLERANCE)), round(target * (1 + LENGTH_TOLERANCE))


def _write_prompt(duration: Duration, language: str | None) -> str:
    """The system prompt for writing a script of ``duration``."""
    low, high = word_budget(duration)
    target = TARGET_WORDS[duration]
    return _WRITE_SYSTEM.format(
        low=low,
        high=high,
        target=target,
        minutes=round(target / WORDS_PER_MINUTE),
        wpm=WORDS_PER_MINUTE,
        lines=max(8, round(target / WORDS_PER_LINE)),
        language=language or "the language of the notes",
    )


def _write_request(request: WriteRequest, source: str, *, condensed: bool) -> str:
    """The user message: title, the listener's instructions, and the notes."""
    parts = []
    if request.title:
        parts.append(f"Episode title: {request.title}")
    if request.instructions:
        parts.append(f"The listener's instructions (style and focus): {request.instructions}")
    if request.audience:
        parts.append(f"The audience: {request.audience}. Pitch every explanation to them.")
    if condensed:
        parts.append(
            "The notes were long, so they come condensed, in parts, in their original "
            "order. Cover every part."
        )
    parts.append(f"<notes>\n{source}\n</notes>")
    return "\n\n".join(parts)


def parse_script(content: str, title: str | None) -> Script:
    """Validate a model's reply into a :class:`Script`, or raise :class:`MalformedScript`.

    Lines are cleaned of markup, URLs and code (what a voice must not read); a line left
    empty, a speaker other than host or guest, fewer than two lines or a speaker who never
    speaks make the reply malformed. ``title`` (the request's) wins over the model's.
    """
    try:
        data = json.loads(json_text(content))
    except json.JSONDecodeError as exc:
        raise MalformedScript(f"not JSON: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("lines"), list):
        raise MalformedScript('no "lines" list')
    lines: list[ScriptLine] = []
    for number, item in enumerate(data["lines"], start=1):
        if not isinstance(item, dict):
            raise MalformedScript(f"line {number} is not an object")
        speaker = str(item.get("speaker", "")).strip().lower()
        if speaker not in ("host", "guest"):
            raise MalformedScript(f"line {number} has speaker {item.get('speaker')!r}")
        raw = item.get("text")
        text = clean_text(raw) if isinstance(raw, str) else ""
        if not text:
            raise MalformedScript(f"line {number} is empty")
        role: Speaker = "host" if speaker == "host" else "guest"
        lines.append(ScriptLine(speaker=role, text=text))
    if len(lines) < 2:
        raise MalformedScript(f"{len(lines)} line(s); a dialogue needs at least two")
    missing = {"host", "guest"} - {line.speaker for line in lines}
    if missing:
        raise MalformedScript(f"the {missing.pop()} never speaks")
    model_title = data.get("title")
    chosen = title or (model_title.strip() if isinstance(model_title, str) else "")
    return Script(title=chosen or "Podcast", lines=lines)


_CUT_PATTERNS = (
    re.compile(r"\n[ \t]*\n"),
    re.compile(r"\n"),
    re.compile(r"[.!?][\"')\]]*\s"),
    re.compile(r"\s"),
)


def split_chunks(text: str, size: int) -> list[str]:
    """Cut ``text`` into consecutive chunks of at most ``size`` characters.

    Each cut falls at the last paragraph break in the window, else the last line break,
    sentence end or space (in the window's second half), else at ``size``. The chunks
    joined are exactly ``text``.
    """
    if size < 2:
        raise ValueError("size must be at least 2")
    chunks: list[str] = []
    start = 0
    while len(text) - start > size:
        window = text[start : start + size]
        cut = size
        for pattern in _CUT_PATTERNS:
            ends = [match.end() for match in pattern.finditer(window) if match.end() > size // 2]
            if ends:
                cut = ends[-1]
                break
        chunks.append(text[start : start + cut])
        start += cut
    chunks.append(text[start:])
    return chunks
