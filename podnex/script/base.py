"""What every script writer offers: the request it takes, its errors and the protocol.

Writers are declared in `podnex.providers.SCRIPT_WRITERS` and chosen by SCRIPT_WRITER:
the offline writer (no network, the embedded default) or an LLM behind an
OpenAI-compatible chat completions API.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Protocol

from podnex.script.types import Duration, Script
from podnex.spec import PodcastSpec


@dataclass(frozen=True)
class WriteRequest:
    """Everything a writer gets: the notes and how the episode should be made.

    ``language`` is the language the script is written (and so spoken) in, as a name or a
    BCP 47 tag ("Spanish", "es"); ``instructions`` is free-form style or focus guidance.
    Writers that cannot honour them (the offline writer) ignore them.
    """

    notes: str
    duration: Duration
    title: str | None = None
    language: str | None = None
    instructions: str | None = None
    audience: str | None = None
    words_per_minute: float | None = None
    """The speech engine's speaking rate, for writers that aim at minutes of audio."""

    @classmethod
    def from_spec(cls, spec: PodcastSpec, *, words_per_minute: float | None) -> WriteRequest:
        """What a writer gets of a podcast's spec: the notes, and every field of the same
        name (so an option the writer should see is a field here and in the spec)."""
        shared = {field.name for field in fields(cls)} & PodcastSpec.model_fields.keys()
        return cls(
            notes=spec.note_content,
            words_per_minute=words_per_minute,
            **{name: getattr(spec, name) for name in shared},
        )


class ScriptError(Exception):
    """Writing the script failed.

    ``retryable`` tells whether the same request may succeed later (a rate limit, a
    server error) or is pointless (notes with nothing to say, a refused request, output
    still malformed after the writer's own attempts). ``retry_after`` is the provider's
    requested wait in seconds, when it gave one. ``kind`` names the failure for callers
    ("InvalidNotes", "ProviderError", "MalformedScript").
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        retry_after: float | None = None,
        kind: str = "ScriptError",
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
        self.kind = kind


class ScriptWriter(Protocol):
    """Turns notes into a host/guest script."""

    name: str

    async def write(self, request: WriteRequest) -> Script:
        """Write the script; raises :class:`ScriptError` when it cannot."""
        ...
