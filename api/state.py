"""What the API process opens once: settings, database, storage, Temporal, engines."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Request

from api.temporal_client import PodcastRuns
from podnex.db import Database
from podnex.settings import Settings
from podnex.speech.base import SpeechEngine
from podnex.storage import Storage


@dataclass
class AppState:
    settings: Settings
    db: Database
    storage: Storage
    runs: PodcastRuns
    engines: dict[str, SpeechEngine]
    secret_key: bytes
    payments: Any = None
    """The payment provider's SDK client (`api.billing_service.payments_client`), or None
    when payments are off."""


def state_of(request: Request[Any, Any, Any]) -> AppState:
    """The state the app opened at start (`api.app`'s lifespan)."""
    return request.app.state.podnex  # type: ignore[no-any-return]
