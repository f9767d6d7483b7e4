"""Request and response bodies: the seed's field names (camelCase) and envelope."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from podnex.models import Podcast, WebhookDelivery, WebhookEndpoint
from podnex.podcasts import spec_of
from podnex.speech.base import Voice
from podnex.storage import DownloadLink
from podnex.vocabulary import (
    Plan,
    PodcastDuration,
    PodcastStatus,
    Role,
    Speaker,
    SubscriptionStatus,
)
from workflows.types import Progress

T = TypeVar("T")

NOTE_MIN, NOTE_MAX = 100, 50_000
DOWNLOAD_ROUTE = "/api/v1/podcasts/{podcast_id}/download"


def stripped_not_blank(value: str) -> str:
    """Surrounding whitespace removed; text of only whitespace refused."""
    if not value.strip():
        raise ValueError("must not be blank")
    return value.strip()


def enough_note_text(value: str) -> str:
    """At least `NOTE_MIN` characters that will be read: spaces, and accents and other
    combining marks (which ride on a letter), do not count."""
    counted = sum(
        1 for ch in value if not ch.isspace() and not unicodedata.category(ch).startswith("M")
    )
    if counted < NOTE_MIN:
        raise ValueError(f"Content must be at least {NOTE_MIN} characters of text")
    return value


NoteContent = Annotated[
    str,
    Field(
        min_length=NOTE_MIN,
        max_length=NOTE_MAX,
        description="The notes to turn into a podcast (Markdown or plain text).",
    ),
    AfterValidator(enough_note_text),
]
Title = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(stripped_not_blank)]
ProfileName = Annotated[
    str, Field(min_length=1, max_length=200), AfterValidator(stripped_not_blank)
]
KeyName = Annotated[
    str,
    Field(min_length=1, max_length=100, description="A label to recognise the key."),
    AfterValidator(stripped_not_blank),
]


class Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class CamelRequest(Camel):
    """A request body: fields it does not know are refused (400 naming them), so a typo
    such as `durration` is not silently ignored."""

    model_config = ConfigDict(extra="forbid")


def milliseconds(seconds: float | None) -> float | None:
    """Seconds rounded to the millisecond, as every time in a response is."""
    return None if seconds is None else round(seconds, 3)


Seconds = Annotated[float, AfterValidator(lambda value: round(value, 3))]
"""Seconds in a response, rounded to the millisecond."""


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


class CreatePodcastRequest(CamelRequest):
    note_content: NoteContent
    duration: PodcastDuration = Field(
        default=PodcastDuration.SHORT, description="SHORT is about 5 minutes, LONG about 15."
    )
    title: Title | None = None
    note_id: str | None = Field(default=None, max_length=200)
    host_voice: str = Field(default="host", min_length=1, max_length=100)
    guest_voice: str = Field(default="guest", min_length=1, max_length=100)
    tts_provider: str | None = Field(
        default=None,
        min_length=1,
        max_length=50,
        description="Speech engine (see TTS_PROVIDERS); default: DEFAULT_TTS_PROVIDER.",
    )
    language: str | None = Field(
        default=None,
        max_length=35,
        pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$",
        description="Language of the script and speech as a BCP 47 tag, e.g. en, de, pt-BR.",
    )
    instructions: str | None = Field(
        default=None,
        min_length=1,
        max_length=2000,
        description="Style or focus guidance for the script writer.",
    )
    audience: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="Who the episode is for, e.g. `engineers new to Temporal`: the LLM writer "
        "pitches the script to them (the offline writer ignores it).",
    )


class PodcastOut(Camel):
    id: str
    user_id: str
    note_content: str
    title: str | None
    note_id: str | None
    duration: PodcastDuration
    host_voice: str
    guest_voice: str
    tts_provider: str
    language: str | None
    instructions: str | None
    audience: str | None
    status: PodcastStatus
    progress: int
    current_step: str | None
    error: str | None
    audio_url: str | None = Field(description="The download endpoint, once the audio exists.")
    audio_duration: float | None = Field(description="Seconds of audio.")
    version: int = Field(
        description="How many times the audio has been published: 1 once the first run "
        "completes, one more for each re-render."
    )
    retry_count: int
    workflow_id: str | None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    completed_at: datetime | None

    @classmethod
    def of(cls, podcast: Podcast) -> PodcastOut:
        return cls(
            id=str(podcast.id),
            user_id=str(podcast.user_id),
            **spec_of(podcast).model_dump(),
            note_id=podcast.note_id,
            status=podcast.status,
            progress=podcast.progress,
            current_step=podcast.current_step,
            error=podcast.error,
            audio_url=audio_url(podcast),
            audio_duration=milliseconds(podcast.audio_duration),
            version=podcast.version,
            retry_count=podcast.retry_count,
            workflow_id=podcast.workflow_id,
            created_at=podcast.created_at,
            updated_at=podcast.updated_at,
            started_at=podcast.started_at,
            completed_at=podcast.completed_at,
        )


def audio_url(podcast: Podcast) -> str | None:
    """The podcast's download route, once it has audio."""
    return DOWNLOAD_ROUTE.format(podcast_id=podcast.id) if podcast.audio_key else None


class PodcastStatusOut(Camel):
    id: str
    status: PodcastStatus
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

    @classmethod
    def of(cls, podcast: Podcast, live: Progress | None) -> PodcastStatusOut:
        """The live run's figures when it answered, else the stored record's."""
        stored = len(podcast.transcript or [])  # a finished episode: its transcript's lines
        done, total = (stored, stored) if stored else (podcast.lines_done, podcast.lines_total)
        return cls(
            id=str(podcast.id),
            status=live.status if live else podcast.status,
            progress=live.progress if live else podcast.progress,
            current_step=live.current_step if live else podcast.current_step,
            error=live.error if live else podcast.error,
            lines_done=live.lines_done if live else done,
            lines_total=live.lines_total if live else total,
            audio_url=audio_url(podcast),
            created_at=podcast.created_at,
            completed_at=podcast.completed_at,
            source="workflow" if live else "database",
        )


class StreamLinkOut(Camel):
    """A signed link to the podcast's HLS playlist, for players that send no API key."""

    url: str
    expires_at: datetime
    status: PodcastStatus


class DownloadOut(Camel):
    url: str
    expires_at: datetime
    audio_duration: float | None
    size_bytes: int | None

    @classmethod
    def of(cls, podcast: Podcast, link: DownloadLink) -> DownloadOut:
        return cls(
            url=link.url,
            expires_at=link.expires_at,
            audio_duration=milliseconds(podcast.audio_duration),
            size_bytes=podcast.audio_size_bytes,
        )


class LimitDetails(Camel):
    podcasts: int | None
    minutes: float | None


# -- accounts: profile, subscription, usage, API keys ------------------------------------


def is_http_url(value: str) -> bool:
    """An absolute http(s) URL with a host and no spaces or control characters."""
    from urllib.parse import urlsplit

    if any(ch.isspace() or ord(ch) < 32 for ch in value):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


class MessageEnvelope(Camel):
    success: bool = True
    message: str


class ProfileOut(Camel):
    id: str
    name: str | None
    email: str
    image: str | None
    created_at: datetime


class UpdatedProfileOut(Camel):
    id: str
    name: str | None
    email: str
    image: str | None


class UpdateProfileRequest(CamelRequest):
    """Fields left out stay as they are; null clears a field."""

    name: ProfileName | None = None
    image: str | None = Field(
        default=None, max_length=2048, description="An http(s) URL of the profile picture."
    )

    @field_validator("image")
    @classmethod
    def image_is_http_url(cls, value: str | None) -> str | None:
        if value is not None and not is_http_url(value):
            raise ValueError("Image must be an http(s) URL")
        return value


class SubscriptionOut(Camel):
    id: str
    user_id: str
    plan: Plan
    status: SubscriptionStatus
    current_podcast_count: int
    current_minutes_used: float = Field(description="Minutes used this period, 2 decimals.")
    monthly_podcast_limit: int | None = Field(description="null: unlimited.")
    monthly_minutes_limit: int | None = Field(description="null: unlimited.")
    current_period_start: datetime
    current_period_end: datetime
    usage_reset_date: datetime = Field(description="When the counters start again at zero.")
    renews: bool = Field(
        default=False,
        description="Whether a paid subscription renews at the period's end (false on FREE).",
    )
    scheduled_plan: Plan | None = Field(
        default=None,
        description="The plan from the period's end (a downgrade or a cancellation), if any.",
    )
    created_at: datetime
    updated_at: datetime


class CurrentPeriodUsage(Camel):
    podcasts_used: int
    podcasts_limit: int | None = Field(description="null: unlimited.")
    minutes_used: float = Field(description="2 decimals.")
    minutes_limit: int | None = Field(description="null: unlimited.")
    reset_date: datetime


class UsageSubscription(Camel):
    plan: Plan
    status: SubscriptionStatus
    current_period_start: datetime
    current_period_end: datetime


class UsageOut(Camel):
    current_period: CurrentPeriodUsage
    subscription: UsageSubscription


class CreateApiKeyRequest(CamelRequest):
    name: KeyName


class ApiKeyOut(Camel):
    id: str
    name: str
    prefix: str = Field(description="The key's first characters, to recognise it.")
    created_at: datetime
    last_used_at: datetime | None


class CreatedApiKeyOut(Camel):
    id: str
    name: str
    prefix: str
    key: str = Field(description="The key itself: shown only in this response, never again.")
    created_at: datetime


class FeedOut(Camel):
    """The caller's private feed. Its token is stored only as a hash, so its address is
    shown in full only when it is issued (`POST /api/v1/feed`)."""

    prefix: str = Field(description="The token's first characters, to recognise it.")
    url_hint: str = Field(
        description="The feed's address with the token cut after its prefix (`…`)."
    )
    created_at: datetime
    last_used_at: datetime | None = Field(
        description="When a podcast app last used the token (to the minute)."
    )


class CreatedFeedOut(Camel):
    url: str = Field(
        description="The feed's address, to paste into a podcast app: shown only in this "
        "response, never again. Anyone with it can listen: keep it private."
    )
    prefix: str
    created_at: datetime


class UpdatePodcastRequest(CamelRequest):
    title: Title | None = None
    note_content: NoteContent | None = Field(
        default=None, description="Only while the podcast is not being made (409 otherwise)."
    )


class VoiceOut(Camel):
    name: str = Field(description="What `hostVoice`/`guestVoice` take.")
    aliases: list[str] = Field(description="Other names of the same voice.")
    description: str
    gender: str | None
    accent: str | None

    @classmethod
    def of(cls, voice: Voice) -> VoiceOut:
        return cls(
            name=voice.name,
            aliases=list(voice.aliases),
            description=voice.description,
            gender=voice.gender,
            accent=voice.accent,
        )


class EngineVoicesOut(Camel):
    tts_provider: str = Field(description="The engine, as `ttsProvider` names it.")
    default: bool = Field(description="Whether requests without `ttsProvider` use it.")
    voices: list[VoiceOut]


class TranscriptLineOut(Camel):
    index: int = Field(description="The line's place in the script, from 0.")
    speaker: Speaker
    text: str
    start_seconds: Seconds
    end_seconds: Seconds


class TranscriptOut(Camel):
    podcast_id: str
    lines: list[TranscriptLineOut]


class ScriptLineOut(Camel):
    index: int = Field(description="The line's place in the script, from 0.")
    speaker: Speaker
    text: str


class ScriptOut(Camel):
    podcast_id: str
    version: int = Field(description="How many times the episode's audio has been published.")
    lines: list[ScriptLineOut]


LINE_MAX = 2000
"""Characters of one line of a script (every engine takes a line of this length)."""
SCRIPT_MAX_LINES = 1000
SCRIPT_MAX_CHARS = 100_000
"""Characters of a whole edited script (it travels in the re-render run's input)."""

LineText = Annotated[
    str,
    Field(min_length=1, max_length=LINE_MAX, description="What the speaker says."),
    AfterValidator(stripped_not_blank),
]


class ScriptLineIn(CamelRequest):
    speaker: Speaker = Field(description="`host` or `guest`.")
    text: LineText


def script_within_limits(lines: list[ScriptLineIn]) -> list[ScriptLineIn]:
    total = sum(len(line.text) for line in lines)
    if total > SCRIPT_MAX_CHARS:
        raise ValueError(
            f"the script has {total} characters; at most {SCRIPT_MAX_CHARS} are allowed"
        )
    return lines


class ReplaceScriptRequest(CamelRequest):
    """A whole edited script (PUT .../script): it replaces the script and is re-rendered."""

    lines: Annotated[
        list[ScriptLineIn],
        Field(min_length=1, max_length=SCRIPT_MAX_LINES),
        AfterValidator(script_within_limits),
    ]


class EditLineRequest(CamelRequest):
    """One line changed (PATCH .../script/lines/{index}): its text, its speaker or both."""

    speaker: Speaker | None = Field(default=None, description="`host` or `guest`.")
    text: LineText | None = None

    @field_validator("text", "speaker", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("must not be null; leave it out to keep it")
        return value


class InsertLineRequest(CamelRequest):
    """A new line (POST .../script/lines) placed before the line now at ``position``
    (the number of lines: at the end)."""

    position: int = Field(ge=0, description="Where the new line goes, from 0.")
    speaker: Speaker = Field(description="`host` or `guest`.")
    text: LineText


class RerenderOut(Camel):
    success: bool = True
    job_id: str | None = Field(description="The re-render's run id of the podcast's workflow.")
    version: int = Field(description="The version the re-render publishes when it completes.")
    podcast: PodcastOut


class RetryOut(Camel):
    success: bool = True
    job_id: str | None = Field(description="The new run id of the podcast's workflow.")
    podcast: PodcastOut


# -- errors and readiness -----------------------------------------------------------------


class ErrorBody(BaseModel):
    """Every error response: the seed's envelope with a machine-readable code."""

    success: Literal[False]
    error: str = Field(description="A readable message.")
    code: str = Field(description="A stable machine-readable code, e.g. VALIDATION_ERROR.")
    details: object = Field(
        default=None,
        description="More about the error when there is more to say: for validation errors "
        "a list of {field, message}; for limits the current usage and the plan's limits.",
    )


class ReadyOut(BaseModel):
    """Readiness: every dependency the API needs answered."""

    success: Literal[True] = True
    checks: dict[str, Literal["ok"]] = Field(description="Each dependency and its state.")


# -- webhooks -------------------------------------------------------------------------------

WebhookEvent = Literal["podcast.completed", "podcast.failed", "podcast.cancelled"]
WEBHOOK_EVENTS: list[WebhookEvent] = ["podcast.completed", "podcast.failed", "podcast.cancelled"]


class CreateWebhookRequest(CamelRequest):
    url: str = Field(min_length=1, max_length=2048, description="Where events are POSTed.")
    events: list[WebhookEvent] = Field(
        default_factory=lambda: list(WEBHOOK_EVENTS),
        min_length=1,
        description="Events to send (default: all).",
    )
    description: str | None = Field(default=None, max_length=200)


class UpdateWebhookRequest(CamelRequest):
    url: str | None = Field(default=None, min_length=1, max_length=2048)
    events: list[WebhookEvent] | None = Field(default=None, min_length=1)
    description: str | None = Field(default=None, max_length=200)
    enabled: bool | None = Field(
        default=None, description="false disables the endpoint; true enables it again."
    )


class WebhookOut(Camel):
    id: str
    url: str
    description: str | None
    events: list[str]
    enabled: bool
    disabled_reason: str | None
    failed_deliveries: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, endpoint: WebhookEndpoint) -> WebhookOut:
        return cls(
            id=str(endpoint.id),
            url=endpoint.url,
            description=endpoint.description,
            events=list(endpoint.events),
            enabled=endpoint.enabled,
            disabled_reason=endpoint.disabled_reason,
            failed_deliveries=endpoint.failed_deliveries,
            created_at=endpoint.created_at,
            updated_at=endpoint.updated_at,
        )


class CreatedWebhookOut(WebhookOut):
    secret: str = Field(description="The `whsec_` signing secret: shown this once only.")


class WebhookAttemptOut(Camel):
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


class WebhookDeliveryOut(Camel):
    id: str
    webhook_id: str = Field(description="The `webhook-id` header: the same on every attempt.")
    event_type: str
    podcast_id: str | None
    status: Literal["PENDING", "SUCCEEDED", "FAILED"]
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime
    attempt_log: list[WebhookAttemptOut]

    @classmethod
    def of(cls, delivery: WebhookDelivery) -> WebhookDeliveryOut:
        return cls(
            id=str(delivery.id),
            webhook_id=delivery.message_id,
            event_type=delivery.event_type,
            podcast_id=str(delivery.podcast_id) if delivery.podcast_id else None,
            status=delivery.status,  # type: ignore[arg-type]
            attempts=delivery.attempts,
            last_status_code=delivery.last_status_code,
            last_error=delivery.last_error,
            next_attempt_at=delivery.next_attempt_at,
            delivered_at=delivery.delivered_at,
            created_at=delivery.created_at,
            attempt_log=[WebhookAttemptOut.model_validate(a) for a in delivery.attempt_log],
        )


# -- billing ----------------------------------------------------------------------------------

PaidPlan = Literal["STARTER", "PRO", "BUSINESS"]


class CheckoutRequest(CamelRequest):
    plan: PaidPlan = Field(description="The paid plan to buy.")


class CheckoutOut(Camel):
    checkout_url: str = Field(description="Send the customer here to pay.")
    session_id: str


class PortalOut(Camel):
    url: str = Field(description="The customer portal: invoices, payment method, cancel.")


class BillingWebhookOut(Camel):
    outcome: str = Field(description="applied, duplicate, stale, ignored or unmatched")


# -- administration ---------------------------------------------------------------------------


class FailureReasonOut(Camel):
    reason: str
    count: int


class AudioMinutesOut(Camel):
    plan: Plan
    engine: str
    minutes: float


class QueueOut(Camel):
    name: str
    kind: str = Field(description="workflow or activity tasks")
    backlog: int = Field(description="Tasks waiting for a worker (approximate).")
    pollers: int = Field(description="Workers polling the queue recently.")


class AdminStatsOut(Camel):
    podcasts_today: dict[str, int] = Field(description="Created today (UTC), by status.")
    podcasts_this_period: dict[str, int] = Field(
        description="Created this calendar month (UTC), by status."
    )
    period_start: datetime
    top_failures: list[FailureReasonOut]
    audio_minutes: list[AudioMinutesOut] = Field(
        description="Completed this month, by the owner's plan and the speech engine."
    )
    runs: dict[str, int] | None = Field(
        description="Podcast runs in Temporal's visibility by ExecutionStatus "
        "(null when Temporal did not answer)."
    )
    queues: list[QueueOut] | None = Field(
        description="Backlog and pollers of each task queue (null when Temporal did not answer)."
    )
    reconciler_repairs: dict[str, int] = Field(
        description="The reconciler's repairs this calendar month (UTC), by kind."
    )
    temporal_error: str | None = None


class AdminUserOut(Camel):
    id: str
    email: str
    name: str | None
    role: Role
    disabled: bool
    disabled_at: datetime | None
    plan: Plan
    status: SubscriptionStatus
    podcasts_used: int
    minutes_used: float
    period_end: datetime
    created_at: datetime


class AdminUpdateUserRequest(CamelRequest):
    plan: Plan | None = None
    disabled: bool | None = Field(
        default=None, description="true: the user's keys answer 401 and their runs are cancelled."
    )
    role: Role | None = None


class NotCancelledOut(Camel):
    podcast_id: str
    reason: str


class AdminUserUpdatedOut(Camel):
    user: AdminUserOut
    cancelled_podcasts: list[str] = Field(default_factory=list)
    not_cancelled: list[NotCancelledOut] = Field(default_factory=list)


class AdminPodcastOut(Camel):
    id: str
    user_id: str
    user_email: str
    title: str | None
    status: PodcastStatus
    progress: int
    tts_provider: str
    duration: str
    error: str | None
    created_at: datetime
    completed_at: datetime | None
    workflow_id: str | None
    temporal_url: str | None = Field(
        description="The run in the Temporal Web UI (TEMPORAL_UI_URL)."
    )


class AuditEventOut(Camel):
    id: str
    actor: str
    actor_user_id: str | None
    action: str
    target_user_id: str | None
    details: dict[str, Any]
    event_id: str | None
    created_at: datetime
