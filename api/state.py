"""What the API process opens once: settings, database, storage, Temporal, engines."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from litestar import Request

from api.paths import FILES_PATH
from api.temporal_client import PodcastRuns
from podnex.db import Database
from podnex.settings import Settings
from podnex.speech.base import SpeechEngine
from podnex.storage import DownloadLink, Storage, download_link


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

    def public_base(self, base_url: str) -> str:
        """Where clients reach the API: `PUBLIC_BASE_URL`, else the request's base URL."""
        return (self.settings.public_base_url or base_url).rstrip("/")

    def audio_link(self, key: str, base_url: str) -> DownloadLink:
        """An expiring link to a stored object (presigned, or the signed files route)."""
        return download_link(
            self.storage,
            key,
            ttl_seconds=self.settings.download_url_ttl_seconds,
            now=time.time(),
            secret_key=self.secret_key,
            files_url=f"{self.public_base(base_url)}{FILES_PATH}",
        )


def state_of(request: Request[Any, Any, Any]) -> AppState:
    """The state the app opened at start (`api.app`'s lifespan)."""
    return request.app.state.podnex  # type: ignore[no-any-return]
