"""A network speech engine's failures as `SpeechError`s a person can read.

The same rules as `podnex.openai_api.describe_failure`, for engines that speak HTTP through
another client (the ElevenLabs SDK, httpx): 408, 409, 429 and 5xx are retryable with the
provider's `Retry-After`; every other status is a refusal, reported at once with the
provider's own words (one line, no traceback, no path); the raw body goes to the log only.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from podnex.openai_api import (
    MAX_LOGGED_BODY_CHARS,
    RETRYABLE_STATUS,
    log,
    one_line,
    retry_after_seconds,
)
from podnex.speech.base import SpeechError

ACTION = "speech synthesis"


def status_failure(
    provider: str,
    status: int,
    headers: Mapping[str, str],
    *,
    code: str = "",
    message: str = "",
    raw: str = "",
    url: str = "",
    retryable_codes: frozenset[str] = frozenset(),
    default_retry_after: float | None = None,
) -> SpeechError:
    """An error response: ``code`` and ``message`` are the provider's (``quota_exceeded``,
    "You have insufficient quota..."). A status that is not retryable becomes retryable
    when the provider's ``code`` is one of ``retryable_codes``."""
    retryable = status in RETRYABLE_STATUS or status >= 500 or code in retryable_codes
    log.warning(
        "provider error response",
        action=ACTION,
        provider=provider,
        status=status,
        url=url,
        body=raw[:MAX_LOGGED_BODY_CHARS],
    )
    words = ": ".join(part for part in (one_line(code), one_line(message)) if part)
    reason = f"{provider} answered HTTP {status}" + (f": {words}" if words else "")
    retry_after = None
    if retryable:
        retry_after = retry_after_seconds(headers)
        if retry_after is None and status == 429:
            retry_after = default_retry_after
    return SpeechError(f"{ACTION} failed: {reason}", retryable=retryable, retry_after=retry_after)


def transport_failure(provider: str, exc: httpx.HTTPError) -> SpeechError:
    """A request that got no complete answer: a timeout, a refused or broken connection."""
    if isinstance(exc, httpx.TimeoutException):
        reason = f"{provider} timed out"
    else:
        reason = f"cannot reach {provider} ({one_line(str(exc)) or type(exc).__name__})"
    return SpeechError(f"{ACTION} failed: {reason}", retryable=True)


def plain_message(text: str) -> str:
    """A non-JSON error body, when it is short plain text (not an HTML page)."""
    return "" if text.lstrip().startswith("<") else one_line(text)
