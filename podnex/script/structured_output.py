"""Structured output that OpenAI-compatible servers accept: negotiated once, then remembered.

Servers differ in the ``response_format`` of a chat completion they take:

- ``json_schema``: OpenAI's structured output (``{"type": "json_schema", "json_schema":
  {"name", "strict", "schema"}}``), served by OpenAI, vLLM, Ollama and LM Studio.
- ``json_object``: JSON mode with the schema beside it (``{"type": "json_object",
  "schema": ...}``), llama.cpp's style: llama-cpp-python's server refuses ``json_schema``
  (HTTP 500 with a validation error) but turns this schema into a grammar.
- ``prompt``: no ``response_format`` at all; the prompt asks for JSON matching the schema,
  for servers that support neither.

In ``auto`` (OPENAI_SCRIPT_OUTPUT_MODE) the writer asks for ``json_schema`` first. When the
server refuses the request's form (`is_format_refusal`: an error naming ``response_format``
or an unsupported-parameter error) it falls back to the next mode at once, within the same
call (a refusal is not a server error to retry), and `OutputNegotiation` remembers the mode
for the rest of the worker's life. A pinned mode is used as is, and a refusal of it fails
the podcast with a message that says so. Every reply is validated the same way whatever
the mode, so a weaker mode costs at most a revision, never an unchecked script.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping
from typing import Any, Literal, get_args

import openai

from podnex.openai_api import raw_body

OutputMode = Literal["json_schema", "json_object", "prompt"]
"""How the reply's JSON is asked for, strongest first."""

OutputModeSetting = Literal["auto", "json_schema", "json_object", "prompt"]
"""OPENAI_SCRIPT_OUTPUT_MODE: negotiate (``auto``) or pin one mode."""

MODES: tuple[OutputMode, ...] = get_args(OutputMode)

_NOT_FORMAT_STATUSES = frozenset({401, 403, 408, 429})
"""Authentication and throttling: never a refusal of the request's form."""

_UNSUPPORTED_CODES = frozenset({"unsupported_parameter", "unsupported_value"})
_FORMAT_WORDS = re.compile(r"response_format|json_schema", re.IGNORECASE)
_FENCE = re.compile(r"^```[a-zA-Z]*\s*\n?(.*?)\n?```\s*$", re.DOTALL)


def response_format(mode: OutputMode, schema: dict[str, Any], name: str) -> dict[str, Any] | None:
    """The ``response_format`` a request in ``mode`` carries (None: send none)."""
    if mode == "json_schema":
        return {
            "type": "json_schema",
            "json_schema": {"name": name, "strict": True, "schema": schema},
        }
    if mode == "json_object":
        return {"type": "json_object", "schema": schema}
    return None


def schema_instructions(mode: OutputMode, schema: dict[str, Any]) -> str:
    """What the system prompt adds in ``mode``: the schema itself, unless the server has it.

    In ``json_object`` mode the schema goes in the prompt as well: servers that take JSON
    mode but ignore its ``schema`` field (OpenAI, vLLM) still see what to write.
    """
    if mode == "json_schema":
        return ""
    return (
        "\n\nReply with one JSON object and nothing else (no Markdown fence, no comment), "
        f"matching this JSON schema:\n{json.dumps(schema, separators=(',', ':'))}"
    )


def json_text(content: str) -> str:
    """The JSON in a reply: the reply itself, or the object inside a fence or some prose.

    Replies asked for in the prompt sometimes come wrapped in a Markdown fence or a
    sentence; the outermost ``{...}`` is what gets validated.
    """
    text = content.strip()
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1).strip()
    if text.startswith("{"):
        return text
    start, end = text.find("{"), text.rfind("}")
    return text[start : end + 1] if 0 <= start < end else text


def is_format_refusal(exc: openai.APIStatusError) -> bool:
    """Whether the server refused the request's form rather than failed at it.

    A refusal is an error status (not authentication or throttling) whose body names
    ``response_format``/``json_schema``, or an OpenAI-style unsupported-parameter error.
    """
    if exc.status_code < 400 or exc.status_code in _NOT_FORMAT_STATUSES:
        return False
    error = exc.body if isinstance(exc.body, Mapping) else {}
    if error.get("code") in _UNSUPPORTED_CODES or error.get("param") == "response_format":
        return True
    return bool(_FORMAT_WORDS.search(f"{exc.message}\n{exc.body}\n{raw_body(exc)}"))


class OutputNegotiation:
    """The mode a writer asks in: pinned, or negotiated and remembered for the process.

    ``refused(mode)`` records that the server refused ``mode`` and answers the mode to try
    next, or None when there is none (a pinned mode, or nothing weaker left). Concurrent
    scripts that see the same refusal move the mode once; the mode only ever weakens.
    """

    def __init__(self, setting: OutputModeSetting = "auto") -> None:
        self.setting = setting
        self._mode: OutputMode = "json_schema" if setting == "auto" else setting
        self._lock = threading.Lock()

    @property
    def mode(self) -> OutputMode:
        """The mode the next request is made in."""
        return self._mode

    @property
    def pinned(self) -> bool:
        return self.setting != "auto"

    def refused(self, mode: OutputMode) -> OutputMode | None:
        """Record a refusal of ``mode``; the mode to try next, or None."""
        if self.pinned:
            return None
        index = MODES.index(mode)
        if index + 1 >= len(MODES):
            return None
        with self._lock:
            if MODES.index(self._mode) <= index:
                self._mode = MODES[index + 1]
            return self._mode
