"""Request and response bodies: the seed's field names (camelCase) and envelope."""

from __future__ import annotations

from datetime import datetime
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

T = TypeVar("T")

PodcastStatusName = Literal["QUEUED", "PROCESSING", "COMPLETED", "FAILED", "CANCELLED"]
NOTE_MIN, NOTE_MAX = 100, 50_000


class Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class Envelope(Camel, Generic[T]):
    success: bool = True
    data: T


class Pagination(Camel):
    page: int
    limit: int
    total: int
    total_pages: int


class PageEnvelope(Camel, Generic[T]):
    success: bool = True
    data: list[T]
    pagination: Pagination


class CreatePodcastRequest(Camel):
    note_content: str = Field(
        min_length=NOTE_MIN,
        max_length=NOTE_MAX,
        description="The notes to turn into a podcast (Markdown or plain text).",
    )
    duration: Literal["SHORT", "LONG"] = Field(
        default="SHORT", description="SHORT is about 5 minutes, LONG about 15."
    )
    title: str | None = Field(default=None, min_length=1, max_length=200)
    note_id: str | None = Field(default=None, max_length=200)
    host_voice: str = Field(default="host", min_length=1, max_length=100)
    guest_voice: str = Field(default="guest", min_length=1, max_length=100)
    tts_provider: str | None = Field(
        default=None, min_length=1, max_length=50, description="Speech engine; default: espeak."
    )

    @field_validator("note_content")
    @classmethod
    def enough_text(cls, value: str) -> str:
        if len(value.strip()) < NOTE_MIN:
            raise ValueError(f"Content must be at least {NOTE_MIN} characters of text")
        return value

    @field_validator("title")
    @classmethod
    def title_not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("Title must not be blank")
        return value.strip() if value is not None else None


class PodcastOut(Camel):
    id: str
    user_id: str
    note_content: str
    title: str | None
    note_id: str | None
    duration: Literal["SHORT", "LONG"]
    host_voice: str
    guest_voice: str
    tts_provider: str
    status: PodcastStatusName
    progress: int
    current_step: str | None
    error: str | None
    audio_url: str | None = Field(description="The download endpoint, once the audio exists.")
    audio_duration: float | None = Field(description="Seconds of audio.")
    retry_count: int
    workflow_id: str | None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    completed_at: datetime | None


class PodcastStatusOut(Camel):
    id: str
    status: PodcastStatusName
    progress: int
    current_step: str | None
    error: str | None
    lines_done: int
    lines_total: int
    audio_url: str | None
    created_at: datetime
    completed_at: datetime | None
    source: Literal["workflow", "database"] = Field(
        description="Where the figures come from: the live run, or the stored record."
    )


class DownloadOut(Camel):
    url: str
    expires_at: datetime
    audio_duration: float | None
    size_bytes: int | None


class LimitDetails(Camel):
    podcasts: int | None
    minutes: float | None
