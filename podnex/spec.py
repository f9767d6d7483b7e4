"""What a podcast asks for, and the shapes its results take.

`PodcastSpec` is the one description of a request (notes, length, title, language, style,
voices, engine): the API builds it from the request, the row stores it column by column,
the workflow input and the script request carry it, and `podcasts.spec_of` reads it back
from a row without copying field by field. `LineTiming` is where a line sits in the
finished audio, from the mixer to the transcript response; `RunState` is what a run
mirrors into the podcast's row.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from podnex.script.types import ScriptLine
from podnex.vocabulary import PodcastDuration, PodcastStatus, Speaker


class PodcastSpec(BaseModel):
    """Everything a podcast asks for. Field names match the podcast row's columns."""

    model_config = ConfigDict(from_attributes=True)

    note_content: str
    duration: PodcastDuration = PodcastDuration.SHORT
    title: str | None = None
    language: str | None = None
    instructions: str | None = None
    audience: str | None = None
    """Who the episode is for ("engineers new to Temporal"): the script is pitched to them."""
    host_voice: str
    guest_voice: str
    tts_provider: str

    def voice_of(self, speaker: Speaker) -> str:
        return self.host_voice if speaker == "host" else self.guest_voice


SPEC_FIELDS = frozenset(PodcastSpec.model_fields)


def nest_spec(data: Any) -> Any:
    """Accept a payload written before the spec was nested: its spec fields at the top.

    For `model_validator(mode="before")` of models that carry a `spec`, so histories and
    activity inputs recorded by older workers still decode.
    """
    if isinstance(data, dict) and "spec" not in data and SPEC_FIELDS & data.keys():
        rest = {key: value for key, value in data.items() if key not in SPEC_FIELDS}
        rest["spec"] = {key: value for key, value in data.items() if key in SPEC_FIELDS}
        return rest
    return data


class LineTiming(BaseModel):
    """Where line ``index`` (in script order) sits in the combined audio, in seconds."""

    index: int = Field(ge=0)
    speaker: Speaker
    start_seconds: float
    end_seconds: float


class TranscriptLine(LineTiming):
    """A line of the finished episode: who says what, and when."""

    text: str


class RunState(BaseModel):
    """What a run mirrors into its podcast's row (`podcasts.mirror_run_state`).

    ``admitted`` marks the state written right after the limit check admitted the run:
    the run's start time is taken then. The results (audio, transcript) come with
    COMPLETED; any other finished status clears them. A re-render that did not publish
    closes with COMPLETED and ``keep_results``: the previous results stay as they were.
    """

    status: PodcastStatus
    progress: int = Field(ge=0, le=100)
    current_step: str
    error: str | None = None
    lines_done: int | None = Field(default=None, ge=0)
    lines_total: int | None = Field(default=None, ge=0)
    """Lines spoken of the script's lines, when the run knows them (kept as they were)."""
    admitted: bool = False
    title: str | None = None
    audio_key: str | None = None
    audio_duration: float | None = None
    audio_size_bytes: int | None = None
    transcript: list[TranscriptLine] | None = None
    version: int | None = Field(default=None, ge=1)
    """The version a re-render publishes with COMPLETED (None: a first run's, version 1)."""
    script: list[ScriptLine] | None = None
    """The edited script a re-render published with COMPLETED: it becomes the stored one."""
    keep_results: bool = False
