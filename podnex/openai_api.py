"""Plumbing shared by podnex's clients of OpenAI-compatible APIs (chat and speech).

One client configuration (OPENAI_API_KEY, OPENAI_BASE_URL, OPENAI_TIMEOUT_SECONDS) with
the SDK's own retries off: Temporal's retry policy is the only retry loop, so a failure
is described here (retryable or not, and how long the provider asked to wait) and the
activity turns that into its retry decision.

What a failure says is meant for the person whose podcast failed: one line, the status and
the provider's own message at most `MAX_REASON_CHARS` long, without tracebacks or file
paths. The provider's raw response body goes to the log (truncated), never into a message.
"""

from __future__ import annotations

import email.utils
import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass

import openai
import structlog

from podnex.settings import OpenAISettings

log = structlog.get_logger("podnex.providers")

RETRYABLE_STATUS = frozenset({408, 409, 429})
"""HTTP statuses below 500 that a later attempt may get past (timeouts, conflicts, limits)."""

MAX_REASON_CHARS = 200
"""The most characters of a provider's own message a failure's reason keeps."""

MAX_LOGGED_BODY_CHARS = 2_000
"""The most characters of a provider's raw error body written to the log."""

_TRACEBACK = re.compile(r"Traceback \(most recent call last\)|\bFile \"[^\"]*\", line \d+")
_PATH = re.compile(r"(?<![:/\w])(?:[A-Za-z]:)?(?:[\\/][\w.@+-]+){2,}(?::\d+)*")
"""A file path (two or more segments, with any :line), but not the path inside a URL."""


def openai_client(settings: OpenAISettings) -> openai.AsyncOpenAI:
    """An async client for the configured OpenAI-compatible server, with retries off."""
    if settings.api_key is None:
        raise ValueError("OPENAI_API_KEY must be set to use an OpenAI-compatible provider")
    return openai.AsyncOpenAI(
        api_key=settings.api_key.get_secret_value(),
        base_url=settings.base_url,
        timeout=settings.timeout_seconds,
        max_retries=0,
    )


@dataclass(frozen=True)
class ProviderFailure:
    """A provider call's failure as podnex sees it.

    ``message`` is ``"<action> failed: <reason>"``; ``reason`` is one readable line that
    keeps the provider's own words (why a voice or a text was refused) without its raw
    body; ``retry_after`` is the wait in seconds the provider asked for, if any.
    """

    message: str
    retryable: bool
    retry_after: float | None = None
    reason: str = ""


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """The wait a response asks for: ``retry-after-ms``, else ``retry-after``.

    ``retry-after`` may be seconds or an HTTP date. Returns None when neither header is
    present, parseable, finite and positive.
    """
    lowered = {key.lower(): value for key, value in headers.items()}
    for header, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = lowered.get(header)
        if value is None:
            continue
        try:
            seconds = float(value) / divisor
        except ValueError:
            parsed = email.utils.parsedate_tz(value) if header == "retry-after" else None
            if parsed is None:
                continue
            seconds = email.utils.mktime_tz(parsed) - time.time()
        if math.isfinite(seconds) and seconds > 0:
            return seconds
    return None


def describe_failure(exc: openai.OpenAIError, action: str) -> ProviderFailure:
    """Classify an SDK error raised while doing ``action`` (e.g. "speech synthesis").

    Rate limits (429), timeouts and conflicts (408, 409), server errors (5xx), connection
    failures and responses the SDK could not parse are retryable; every other status (bad
    voice, content policy, bad key, unknown model) is not. An error response's raw body is
    logged, truncated; the failure's reason keeps one sanitised line of it.
    """
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        retryable = status in RETRYABLE_STATUS or status >= 500
        log.warning(
            "provider error response",
            action=action,
            status=status,
            url=str(exc.request.url),
            body=raw_body(exc)[:MAX_LOGGED_BODY_CHARS],
        )
        detail = provider_message(exc)
        reason = f"provider answered HTTP {status}" + (f": {detail}" if detail else "")
        return _failure(
            action,
            reason,
            retryable=retryable,
            retry_after=retry_after_seconds(exc.response.headers) if retryable else None,
        )
    if isinstance(exc, openai.APITimeoutError):
        return _failure(action, "the provider timed out", retryable=True)
    if isinstance(exc, openai.APIConnectionError):
        cause = one_line(str(exc.__cause__ or exc))
        return _failure(action, f"cannot reach the provider ({cause})", retryable=True)
    if isinstance(exc, openai.APIResponseValidationError):
        return _failure(action, "the provider's response was malformed", retryable=True)
    return _failure(action, one_line(str(exc)) or type(exc).__name__, retryable=False)


def _failure(
    action: str, reason: str, *, retryable: bool, retry_after: float | None = None
) -> ProviderFailure:
    return ProviderFailure(
        message=f"{action} failed: {reason}",
        retryable=retryable,
        retry_after=retry_after,
        reason=reason,
    )


def raw_body(exc: openai.APIStatusError) -> str:
    """The error response's body as the provider sent it (empty when it cannot be read)."""
    try:
        return exc.response.text
    except Exception:  # a streamed response whose body was not read
        return "" if exc.body is None else str(exc.body)


def provider_message(exc: openai.APIStatusError) -> str:
    """The provider's own message (``error.message`` in OpenAI's format) as `one_line`.

    A body that is not OpenAI's format counts only when it is short plain text: an HTML
    page or a dump of the provider's internals says nothing a user can act on.
    """
    body = exc.body
    if isinstance(body, Mapping):
        message = body.get("message")
        return one_line(message) if isinstance(message, str) else ""
    if isinstance(body, str) and not body.lstrip().startswith("<"):
        return one_line(body)
    return ""


def one_line(text: str, limit: int = MAX_REASON_CHARS) -> str:
    """``text`` made fit for a person: its first line before any traceback, without file
    paths, whitespace collapsed, at most ``limit`` characters (cut with an ellipsis)."""
    text = _TRACEBACK.split(text, maxsplit=1)[0]
    first = next((line for line in text.splitlines() if line.strip()), "")
    first = " ".join(_PATH.sub("<path>", first).split())
    if len(first) > limit:
        first = first[: limit - 1].rstrip() + "…"
    return first
