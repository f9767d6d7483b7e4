"""Plumbing shared by podnex's clients of OpenAI-compatible APIs (chat and speech).

One client configuration (OPENAI_API_KEY, OPENAI_BASE_URL, OPENAI_TIMEOUT_SECONDS) with
the SDK's own retries off: Temporal's retry policy is the only retry loop, so a failure
is described here (retryable or not, and how long the provider asked to wait) and the
activity turns that into its retry decision.
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass

import openai

from podnex.settings import OpenAISettings

RETRYABLE_STATUS = frozenset({408, 409, 429})
"""HTTP statuses below 500 that a later attempt may get past (timeouts, conflicts, limits)."""

_MAX_PROVIDER_MESSAGE = 500


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

    ``message`` keeps the provider's own words (why a voice or a text was refused);
    ``retry_after`` is the wait in seconds the provider asked for, if any.
    """

    message: str
    retryable: bool
    retry_after: float | None = None


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
    voice, content policy, bad key, unknown model) is not.
    """
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        retryable = status in RETRYABLE_STATUS or status >= 500
        detail = _provider_message(exc)
        return ProviderFailure(
            message=f"{action} failed: provider answered HTTP {status}: {detail}",
            retryable=retryable,
            retry_after=retry_after_seconds(exc.response.headers) if retryable else None,
        )
    if isinstance(exc, openai.APITimeoutError):
        return ProviderFailure(f"{action} failed: the provider timed out", retryable=True)
    if isinstance(exc, openai.APIConnectionError):
        return ProviderFailure(
            f"{action} failed: cannot reach the provider ({exc.__cause__ or exc})",
            retryable=True,
        )
    if isinstance(exc, openai.APIResponseValidationError):
        return ProviderFailure(
            f"{action} failed: the provider's response was malformed", retryable=True
        )
    return ProviderFailure(f"{action} failed: {exc}", retryable=False)


def _provider_message(exc: openai.APIStatusError) -> str:
    """The provider's own error message (``error.message`` in OpenAI's format)."""
    body = exc.body
    if isinstance(body, Mapping):
        message = body.get("message")
        if isinstance(message, str) and message:
            return message[:_MAX_PROVIDER_MESSAGE]
    if isinstance(body, str) and body.strip():
        return body.strip()[:_MAX_PROVIDER_MESSAGE]
    return exc.message[:_MAX_PROVIDER_MESSAGE]
