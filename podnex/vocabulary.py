"""The words podnex speaks in: statuses, durations, speakers, plans.

Defined once here and imported by the ORM models, the workflow contract and the API
schemas, so a name means the same thing (and is spelt the same way) in the database, in
workflow history and on the wire.
"""

from __future__ import annotations

import enum
from typing import Literal


class PodcastStatus(enum.StrEnum):
    QUEUED = "QUEUED"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def finished(self) -> bool:
        return self in FINISHED


FINISHED = frozenset({PodcastStatus.COMPLETED, PodcastStatus.FAILED, PodcastStatus.CANCELLED})
"""Statuses a podcast does not leave by itself (only a retry starts it again)."""

RETRYABLE = frozenset({PodcastStatus.FAILED, PodcastStatus.CANCELLED})
"""Statuses a retry may start from."""


class PodcastDuration(enum.StrEnum):
    """SHORT is about 5 minutes, LONG about 15."""

    SHORT = "SHORT"
    LONG = "LONG"


Speaker = Literal["host", "guest"]
"""Who speaks a line of the script."""

SPEAKERS: tuple[Speaker, ...] = ("host", "guest")


class Plan(enum.StrEnum):
    FREE = "FREE"
    STARTER = "STARTER"
    PRO = "PRO"
    BUSINESS = "BUSINESS"


class SubscriptionStatus(enum.StrEnum):
    ACTIVE = "ACTIVE"
    CANCELLED = "CANCELLED"
    PAST_DUE = "PAST_DUE"


class Role(enum.StrEnum):
    """What a user may do: USER (their own podcasts), ADMIN (also the /api/v1/admin routes)."""

    USER = "USER"
    ADMIN = "ADMIN"
