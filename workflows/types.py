"""The workflow contract: PodcastWorkflow's names and the data it exchanges with its
callers and its activities (pydantic models).

Declared once here; the workflow's decorators, the worker and the API all use these names.
Small values only: audio moves through storage, referenced here by storage key.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import BaseModel, Field, model_validator

from podnex.script.types import Script, ScriptLine
from podnex.spec import LineTiming, PodcastSpec, RunState, TranscriptLine, nest_spec
from podnex.vocabulary import PodcastStatus, Speaker

__all__ = [
    "ADMIT_UPDATE",
    "CANCEL_SIGNAL",
    "PROGRESS_QUERY",
    "WORKFLOW_TYPE",
    "Admission",
    "CleanupRequest",
    "CombineRequest",
    "CombineResult",
    "LimitRequest",
    "LineTiming",
    "PodcastInput",
    "PodcastResult",
    "PodcastSpec",
    "Progress",
    "ProgressBands",
    "PublishRequest",
    "PublishResult",
    "RerenderLimitRequest",
    "Script",
    "ScriptLine",
    "ScriptRequest",
    "SegmentRef",
    "SpeechRequest",
    "SpeechResult",
    "StatusUpdate",
    "TranscriptLine",
    "UsageRequest",
    "speech_task_queue",
    "workflow_id_for",
]

# -- names (the wire names never change: running and recorded workflows use them) --------

WORKFLOW_TYPE = "PodcastWorkflow"
ADMIT_UPDATE = "admit"
"""Update answered once the limit check has run: the API waits on it to reply 201 or 403."""
PROGRESS_QUERY = "progress"
CANCEL_SIGNAL = "cancel"


def workflow_id_for(podcast_id: str) -> str:
    """The one workflow id of a podcast: every run of it (retries included) uses it."""
    return f"podcast-{podcast_id}"


def speech_task_queue(task_queue: str, provider: str) -> str:
    """The task queue serving speech for ``provider``: `<task queue>-speech-<provider>`.

    Each provider's queue is served by workers capped at that provider's concurrency (and
    rate), so a long podcast cannot trip the provider's rate limit.
    """
    return f"{task_queue}-speech-{provider}"


class ProgressBands:
    """Progress figures as clients of the original service expect them (percent)."""

    ADMITTED = 5
    SCRIPT_START, SCRIPT_DONE = 10, 25
    SPEECH_START, SPEECH_DONE = 30, 70
    COMBINE_START = 75
    UPLOAD_START = 90
    USAGE_START = 95
    DONE = 100

    @classmethod
    def speech(cls, done: int, total: int) -> int:
        """Speech progress in proportion to the lines done."""
        if total <= 0:
            return cls.SPEECH_START
        return cls.SPEECH_START + (cls.SPEECH_DONE - cls.SPEECH_START) * done // total


# -- data -----------------------------------------------------------------------------------


class PodcastInput(BaseModel):
    podcast_id: str
    user_id: str
    spec: PodcastSpec
    speech_concurrency: int = Field(default=8, ge=1, le=64)
    lines_per_activity: int = Field(default=4, ge=1, le=256)
    """How many lines one speech activity speaks (`synthesize_lines`)."""
    speech_rounds: int = Field(default=2, ge=1, le=8)
    """How many batches each of the `speech_concurrency` slots speaks in turn, about
    (`workflows.podcast.speech_batches`): more rounds, more progress reports and more
    activities. Runs started before the field speak in 2."""
    script: list[ScriptLine] | None = None
    """An edited script to re-render (a re-render run): no script is written, only lines
    whose engine, voice or text changed are synthesised (the others come from the
    podcast's segments), and the podcast stays COMPLETED with its previous audio unless
    this run publishes."""
    version: int | None = Field(default=None, ge=2)
    """The version a re-render publishes (the podcast's version + 1); set exactly at
    publish, so a retried mirror cannot count it twice."""

    _accept_flat_spec = model_validator(mode="before")(nest_spec)

    @property
    def rerender(self) -> bool:
        return self.script is not None


class Admission(BaseModel):
    """The limit check's answer, returned to the API through the `admit` update."""

    admitted: bool
    cancelled: bool = False
    """The run was cancelled before its limit check answered (not admitted, not refused)."""
    reason: str | None = None
    current_podcasts: int
    current_minutes: float
    limit_podcasts: int | None
    limit_minutes: int | None


class Progress(BaseModel):
    """What the `progress` query answers."""

    status: PodcastStatus
    progress: int = Field(ge=0, le=100)
    current_step: str
    lines_done: int = 0
    lines_total: int = 0
    error: str | None = None


class PodcastResult(BaseModel):
    podcast_id: str
    status: PodcastStatus
    audio_key: str | None = None
    audio_duration: float | None = None
    error: str | None = None
    lines_resynthesised: int | None = None
    """A re-render's lines that were synthesised (the rest came from stored segments)."""


class LimitRequest(BaseModel):
    podcast_id: str


class RerenderLimitRequest(BaseModel):
    """A re-render's plan check: the minutes its edited script is expected to last."""

    podcast_id: str
    words: int = Field(ge=0)


class StatusUpdate(RunState):
    """A mirror of the run's state into the podcast's row."""

    podcast_id: str

    def with_audio(self, published: PublishResult) -> StatusUpdate:
        """This state naming the published audio (its key and size)."""
        return self.model_copy(
            update={"audio_key": published.audio_key, "audio_size_bytes": published.size_bytes}
        )


LEGACY_SCRIPT_VOICES = {"host_voice": "host", "guest_voice": "guest", "tts_provider": "espeak"}


class ScriptRequest(BaseModel):
    podcast_id: str
    spec: PodcastSpec
    speech_state: StatusUpdate | None = None
    """The state to mirror in the transaction that saves the script (the speech about to
    start), its ``lines_total`` the written script's line count; None: mirror nothing."""

    @model_validator(mode="before")
    @classmethod
    def _accept_flat_spec(cls, data: Any) -> Any:
        """Script requests scheduled before the spec was nested carried the notes and
        options at the top and no voices, which writing a script does not need: those
        decode with the default voices and engine."""
        data = nest_spec(data)
        if isinstance(data, dict) and isinstance(data.get("spec"), dict):
            data["spec"] = {**LEGACY_SCRIPT_VOICES, **data["spec"]}
        return data


class SpeechRequest(BaseModel):
    podcast_id: str
    index: int
    speaker: Speaker
    text: str
    voice: str
    provider: str
    language: str | None = None
    """The script's language, for reading numbers and symbols aloud in it."""


class SpeechResult(BaseModel):
    key: str
    duration_seconds: float
    cached: bool


class SpeechLine(BaseModel):
    """One line of a `SpeechBatch`: its place in the script, who says it, in which voice."""

    index: int
    speaker: Speaker
    text: str
    voice: str


class SpeechBatch(BaseModel):
    """Several lines spoken by one activity, one after another (`synthesize_lines`).

    The activity's heartbeat details list the indexes of the lines already stored, so a
    retry (after a failure or a lost worker) starts at the first line not yet spoken.
    """

    podcast_id: str
    provider: str
    language: str | None = None
    lines: list[SpeechLine] = Field(min_length=1)


class SpeechBatchResult(BaseModel):
    """A `SpeechBatch`'s lines' results, in the batch's order."""

    results: list[SpeechResult]


class SegmentRef(BaseModel):
    key: str
    speaker: Speaker
    pause_before_ms: int | None = Field(default=None, ge=0)
    """The silence before the line (`podnex.pacing`); None: the mixer's default."""


class CombineRequest(BaseModel):
    podcast_id: str
    segments: list[SegmentRef]


class CombineResult(BaseModel):
    key: str
    duration_seconds: float
    size_bytes: int
    timings: list[LineTiming]


class PublishRequest(BaseModel):
    podcast_id: str
    staging_key: str
    duration_seconds: float
    version: int = Field(default=1, ge=1)
    """Which version's key the audio is published under (`podnex.storage.keys.audio_key`)."""
    upload_state: StatusUpdate | None = None
    """The state to mirror before the upload begins (the point of no return, which the
    API's cancel reads); None: mirror nothing."""


class PublishResult(BaseModel):
    audio_key: str
    size_bytes: int


class PublishPodcastRequest(BaseModel):
    """The run's last step (`publish_podcast`): publish the audio, then charge the usage
    (a re-render's: settle it) and complete the podcast in one transaction; a re-render's
    previous version's audio goes after."""

    upload: PublishRequest
    final_state: StatusUpdate
    """COMPLETED with the results; the step fills in the published audio's key and size."""
    rerender: bool = False


class UsageRequest(BaseModel):
    podcast_id: str
    seconds: float = Field(ge=0)
    final_state: StatusUpdate | None = None
    """The run's final state (COMPLETED, with the results), mirrored in the transaction
    that charges the usage, so a podcast is never completed and uncharged or the reverse;
    None: mirror nothing."""


class CleanupRequest(BaseModel):
    podcast_id: str
    version: int | None = None
    """A re-render's clean-up: only what that version wrote goes (its staging copy and its
    audio key); the published audio and the segments stay."""


# -- the reconciler (workflows/reconcile.py) --------------------------------------------------

RECONCILE_WORKFLOW_TYPE = "ReconcileWorkflow"
RECONCILE_SCHEDULE_ID = "podnex-reconciler"


class ReconcileRequest(BaseModel):
    grace_seconds: float = Field(default=600.0, ge=0)
    """Podcasts changed more recently than this are left to their runs."""
    limit: int = Field(default=200, ge=1)
    """Most podcasts looked at of each kind in one pass."""
    segment_retention_seconds: float | None = Field(default=None, ge=0)
    """Stored segments of podcasts finished longer ago than this are removed (None: kept
    while the podcast exists)."""


class ReconcileResult(BaseModel):
    repairs: list[str]
    segments_expired: int = 0
    """Podcasts whose stored segments were removed in this pass (retention)."""


# -- webhooks (workflows/webhooks.py) ---------------------------------------------------------

WEBHOOK_WORKFLOW_TYPE = "WebhookDeliveryWorkflow"
DELIVER_WEBHOOK_ACTIVITY = "deliver_webhook"
WEBHOOK_RETRY_INITIAL = timedelta(seconds=1)
WEBHOOK_RETRY_BACKOFF = 3.0
WEBHOOK_RETRY_MAX_INTERVAL = timedelta(hours=1)
"""Attempts 1 s, 3 s, 9 s ... apart, then hourly, until the delivery's window (24 hours by
default, `WEBHOOK_RETRY_HOURS`) has passed: the activity then gives up for good."""


def webhook_workflow_id(delivery_id: str, redelivery: int = 0) -> str:
    """The delivery workflow of one delivery (endpoint, event, run): started once however
    often the activity that starts it runs; each manual redelivery has its own."""
    suffix = f"-redelivery-{redelivery}" if redelivery else ""
    return f"webhook-{delivery_id}{suffix}"


def webhook_retry_delay(attempt: int) -> timedelta:
    """How long Temporal waits after failed attempt ``attempt`` (1-based) before the next."""
    seconds = WEBHOOK_RETRY_INITIAL.total_seconds() * WEBHOOK_RETRY_BACKOFF ** max(attempt - 1, 0)
    return min(timedelta(seconds=seconds), WEBHOOK_RETRY_MAX_INTERVAL)


class WebhookDeliveryInput(BaseModel):
    delivery_id: str
