"""What the API process opens once: settings, database, storage, Temporal, engines."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from temporalio.client import Client

from podnex.db import Database
from podnex.settings import Settings
from podnex.speech.base import SpeechEngine
from podnex.storage import Storage
from podnex.temporal import connect


@dataclass
class TemporalGateway:
    """Connects on first use and again after a failure, so the API starts without Temporal."""

    settings: Settings
    _client: Client | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def client(self) -> Client:
        if self._client is None:
            async with self._lock:
                if self._client is None:
                    self._client = await connect(self.settings)
        return self._client


@dataclass
class AppState:
    settings: Settings
    db: Database
    storage: Storage
    temporal: TemporalGateway
    engines: dict[str, SpeechEngine]
    secret_key: bytes
