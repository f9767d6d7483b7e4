"""Speech engines, chosen per request by `ttsProvider`."""

from __future__ import annotations

from podnex.settings import Settings
from podnex.speech.base import SpeechEngine


def create_engines(settings: Settings) -> dict[str, SpeechEngine]:
    """Every engine this deployment offers, by provider name."""
    from podnex.speech.espeak import EspeakEngine

    engines: list[SpeechEngine] = [EspeakEngine()]
    return {engine.name: engine for engine in engines}
