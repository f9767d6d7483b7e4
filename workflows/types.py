"""Data exchanged by PodcastWorkflow, its activities and its callers (pydantic models).

Small values only: audio moves through storage, referenced here by storage key.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from podnex.script.types import Duration, Script, ScriptLine, Speaker

__all__ = [
    "Admission",
    "CleanupRequest",
    "CombineRequest",
    "CombineResult",
    "LimitRequest",
    "LineTiming",
    "PodcastInput",
    "PodcastResult",
    "Progress",
    "PublishRequest",
    "PublishResult",
    "Script",
    "ScriptLine",
    "ScriptRequest",
    "SegmentRef",
    "SpeechRequest",
    "SpeechResult",
    "StatusUpdate",
    "TranscriptLine",
    "UsageRequest",
    "WorkflowStatus",
]

WorkflowStatus = Literal["QUEUED", "PROCESSING", "COMPLETED", "FAILED", "CANCELLED"]


class PodcastInput(BaseModel):
    podcast_id: str
    user_id: str
    note_content: str
    title: str | None = None
    duration: Duration = "SHORT"
    host_voice: str
    guest_voice: str
    tts_provider: str
    speech_concurrency: int = Field(default=8, ge=1, le=64)
    language: str | None = None
    instructions: str | None = None


class Admission(BaseModel):
    """The limit check's answer, returned to the API through the `admit` update."""

    admitted: bool
    reason: str | None = None
    current_podcasts: int
    current_minutes: float
    limit_podcasts: int | None
    limit_minutes: int | None


class Progress(BaseModel):
    """What the `progress` query answers."""

    status: WorkflowStatus
    progress: int = Field(ge=0, le=100)
    current_step: str
    lines_done: int = 0
    lines_total: int = 0
    error: str | None = None


class PodcastResult(BaseModel):
    podcast_id: str
    status: WorkflowStatus
    audio_key: str | None = None
    audio_duration: float | None = None
    error: str | None = None


class LimitRequest(BaseModel):
    podcast_id: str


class StatusUpdate(BaseModel):
    """A mirror of the run's state into the podcast's row."""

    podcast_id: str
    status: WorkflowStatus
    progress: int = Field(ge=0, le=100)
    current_step: str
    error: str | None = None
    title: str | None = None
    audio_key: str | None = None
    audio_duration: float | None = None
    audio_size_bytes: int | None = None
    transcript: list[TranscriptLine] | None = None


class ScriptRequest(BaseModel):
    podcast_id: str
    note_content: str
    duration: Duration
    title: str | None = None
    language: str | None = None
    instructions: str | None = None


class SpeechRequest(BaseModel):
    podcast_id: str
    index: int
    speaker: Speaker
    text: str
    voice: str
    provider: str


class SpeechResult(BaseModel):
    key: str
    duration_seconds: float
    cached: bool


class SegmentRef(BaseModel):
    key: str
    speaker: Speaker


class CombineRequest(BaseModel):
    podcast_id: str
    segments: list[SegmentRef]


class LineTiming(BaseModel):
    index: int
    speaker: Speaker
    start_seconds: float
    end_seconds: float


class CombineResult(BaseModel):
    key: str
    duration_seconds: float
    size_bytes: int
    timings: list[LineTiming]


class PublishRequest(BaseModel):
    podcast_id: str
    staging_key: str
    duration_seconds: float


class PublishResult(BaseModel):
    audio_key: str
    size_bytes: int


class UsageRequest(BaseModel):
    podcast_id: str
    seconds: float = Field(ge=0)


class CleanupRequest(BaseModel):
    podcast_id: str


class TranscriptLine(BaseModel):
    speaker: Speaker
    text: str
    start_seconds: float
    end_seconds: float


StatusUpdate.model_rebuild()
