"""The script: what the writer produces and the speech and audio steps consume."""

from __future__ import annotations

from pydantic import BaseModel, Field

from podnex.vocabulary import PodcastDuration, Speaker

Duration = PodcastDuration
"""The writers' name for a podcast's length (the vocabulary's `PodcastDuration`)."""

__all__ = ["Duration", "Script", "ScriptLine", "Speaker"]


class ScriptLine(BaseModel):
    """One line of dialogue, spoken by the host or the guest."""

    speaker: Speaker
    text: str = Field(min_length=1)


class Script(BaseModel):
    """A whole episode: a title and its lines in speaking order."""

    title: str
    lines: list[ScriptLine]

    @property
    def word_count(self) -> int:
        return sum(len(line.text.split()) for line in self.lines)
