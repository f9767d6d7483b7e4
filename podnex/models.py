"""ORM models: the system of record."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from podnex.vocabulary import Plan, PodcastDuration, PodcastStatus, Role, SubscriptionStatus

__all__ = [
    "ApiKey",
    "AuditEvent",
    "Base",
    "BillingEvent",
    "FeedToken",
    "Podcast",
    "PodcastDuration",
    "PodcastStatus",
    "Subscription",
    "SubscriptionStatus",
    "UsageRecord",
    "User",
    "WebhookDelivery",
    "WebhookEndpoint",
]


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    return Enum(cls, name=name, native_enum=False, length=20, validate_strings=True)


JsonColumn = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    pass


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now(), nullable=False
    )


class User(TimestampMixin, Base):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    email: Mapped[str] = mapped_column(String(320), unique=True, nullable=False)
    name: Mapped[str | None] = mapped_column(String(200))
    image: Mapped[str | None] = mapped_column(String(2048))
    role: Mapped[Role] = mapped_column(
        _enum(Role, "user_role"), nullable=False, default=Role.USER, server_default=Role.USER
    )
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    """Set by an administrator: the user's keys answer 401 from then on."""

    subscription: Mapped[Subscription] = relationship(back_populates="user", uselist=False)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True, nullable=False
    )
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    prefix: Mapped[str] = mapped_column(String(32), nullable=False)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class FeedToken(Base):
    """A user's private feed token (`podnex.feeds`): at most one a user, stored as a hash.
    Rotating replaces the hash (the old token dies); revoking deletes the row."""

    __tablename__ = "feed_tokens"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    prefix: Mapped[str] = mapped_column(String(32), nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Subscription(TimestampMixin, Base):
    __tablename__ = "subscriptions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), unique=True, nullable=False
    )
    plan: Mapped[Plan] = mapped_column(_enum(Plan, "plan"), nullable=False, default=Plan.FREE)
    status: Mapped[SubscriptionStatus] = mapped_column(
        _enum(SubscriptionStatus, "subscription_status"),
        nullable=False,
        default=SubscriptionStatus.ACTIVE,
    )
    current_podcast_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    current_seconds_used: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    current_seconds_reserved: Mapped[float] = mapped_column(
        Float, nullable=False, default=0.0, server_default=text("0")
    )
    """Expected seconds of this period's podcasts still being made (settled when charged)."""
    current_period_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    current_period_end: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)

    # Payments (`podnex.billing`): the provider's customer and subscription, once there are.
    provider_customer_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    provider_subscription_id: Mapped[str | None] = mapped_column(String(100), index=True)
    pending_plan: Mapped[Plan | None] = mapped_column(_enum(Plan, "plan"))
    """The plan from the end of this period (a downgrade or a cancellation), else None."""
    cancel_at_period_end: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default=text("false")
    )
    billing_event_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    """The own timestamp of the newest provider event applied: older ones change nothing."""

    user: Mapped[User] = relationship(back_populates="subscription")


class Podcast(TimestampMixin, Base):
    __tablename__ = "podcasts"
    __table_args__ = (
        Index(
            "uq_podcasts_user_idempotency_key",
            "user_id",
            "idempotency_key",
            unique=True,
            postgresql_where=text("idempotency_key IS NOT NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True, nullable=False
    )
    note_content: Mapped[str] = mapped_column(Text, nullable=False)
    title: Mapped[str | None] = mapped_column(String(200))
    note_id: Mapped[str | None] = mapped_column(String(200))
    duration: Mapped[PodcastDuration] = mapped_column(
        _enum(PodcastDuration, "podcast_duration"), nullable=False
    )
    host_voice: Mapped[str] = mapped_column(String(100), nullable=False)
    guest_voice: Mapped[str] = mapped_column(String(100), nullable=False)
    tts_provider: Mapped[str] = mapped_column(String(50), nullable=False)
    language: Mapped[str | None] = mapped_column(String(35))
    instructions: Mapped[str | None] = mapped_column(Text)
    options: Mapped[dict[str, Any]] = mapped_column(
        JsonColumn, nullable=False, default=dict, server_default=text("'{}'")
    )
    """The spec's request options that have no column of their own (`podnex.podcasts`)."""

    status: Mapped[PodcastStatus] = mapped_column(
        _enum(PodcastStatus, "podcast_status"), nullable=False, default=PodcastStatus.QUEUED
    )
    progress: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    lines_done: Mapped[int] = mapped_column(
        Integer, nullable=False, default=0, server_default=text("0")
    )
    lines_total: Mapped[int] = mapped_column(
        Integer, nullable=False, default=0, server_default=text("0")
    )
    current_step: Mapped[str | None] = mapped_column(String(200))
    error: Mapped[str | None] = mapped_column(Text)

    audio_key: Mapped[str | None] = mapped_column(String(500))
    audio_duration: Mapped[float | None] = mapped_column(Float)
    audio_size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    transcript: Mapped[list[dict[str, Any]] | None] = mapped_column(JsonColumn)
    script: Mapped[list[dict[str, Any]] | None] = mapped_column(JsonColumn)
    """The written script's lines (speaker, text), kept from the moment it is written."""
    version: Mapped[int] = mapped_column(
        Integer, nullable=False, default=0, server_default=text("0")
    )
    """How many times its audio has been published: 1 after the first run completes."""
    segments_swept_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    """When the reconciler last removed its stored segments (retention expired); a run
    finished after that stored new ones."""

    quota_reserved: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    quota_period_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    quota_reserved_seconds: Mapped[float | None] = mapped_column(Float)
    """The expected seconds this podcast holds of its period's minutes, until charged."""
    retry_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    workflow_id: Mapped[str | None] = mapped_column(String(200))
    workflow_run_id: Mapped[str | None] = mapped_column(String(200))

    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)

    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    request_fingerprint: Mapped[str | None] = mapped_column(String(64))


class UsageRecord(Base):
    __tablename__ = "usage_records"
    __table_args__ = (UniqueConstraint("podcast_id", "kind", name="uq_usage_records_podcast_kind"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    subscription_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="CASCADE"), index=True, nullable=False
    )
    podcast_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("podcasts.id", ondelete="CASCADE"), nullable=False
    )
    kind: Mapped[str] = mapped_column(String(50), nullable=False)
    amount: Mapped[float] = mapped_column(Float, nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


class WebhookEndpoint(TimestampMixin, Base):
    """A URL a user asked podnex to call when their podcasts finish (Standard Webhooks)."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True, nullable=False
    )
    url: Mapped[str] = mapped_column(String(2048), nullable=False)
    description: Mapped[str | None] = mapped_column(String(200))
    events: Mapped[list[str]] = mapped_column(JsonColumn, nullable=False)
    secret: Mapped[str] = mapped_column(String(100), nullable=False)
    """The `whsec_` signing secret (it must sign, so it is kept, never shown again)."""
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    failed_deliveries: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    """Deliveries in a row that were given up on; a success resets it."""


class WebhookDelivery(TimestampMixin, Base):
    """One event for one endpoint, and every attempt to deliver it."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_endpoint_created", "endpoint_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    """Deterministic (endpoint, event, run): a retried activity records it once."""
    endpoint_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), nullable=False
    )
    message_id: Mapped[str] = mapped_column(String(64), nullable=False)
    """The `webhook-id` header: the same on every attempt and redelivery."""
    event_type: Mapped[str] = mapped_column(String(40), nullable=False)
    podcast_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JsonColumn, nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="PENDING")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    window_started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    """When the current series of attempts began (creation, or the last redelivery)."""
    redeliveries: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    attempt_log: Mapped[list[dict[str, Any]]] = mapped_column(JsonColumn, nullable=False)
    """The latest attempts: when, HTTP status code (or error) and the duration."""


class BillingEvent(Base):
    """Every payment provider webhook received, once by its `webhook-id`, and what it did."""

    __tablename__ = "billing_events"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    """The `webhook-id` header: a redelivery carries the same one."""
    event_type: Mapped[str] = mapped_column(String(60), nullable=False)
    event_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    provider_subscription_id: Mapped[str | None] = mapped_column(String(100))
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    outcome: Mapped[str] = mapped_column(String(20), nullable=False)
    payload: Mapped[dict[str, Any]] = mapped_column(JsonColumn, nullable=False)
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


class AuditEvent(Base):
    """One change to an account: who (`actor`), what (`action`, `details`), which event."""

    __tablename__ = "audit_events"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    actor: Mapped[str] = mapped_column(String(200), nullable=False)
    """`dodo` (a payment webhook), `cli`, `admin:<e-mail>` or `reconciler`."""
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    action: Mapped[str] = mapped_column(String(60), nullable=False)
    target_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    details: Mapped[dict[str, Any]] = mapped_column(JsonColumn, nullable=False)
    event_id: Mapped[str | None] = mapped_column(String(100))
    """The provider's `webhook-id` that caused the change, if one did."""
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False, index=True
    )
