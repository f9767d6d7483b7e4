"""Speech engines, chosen per request by `ttsProvider`.

Engines are pluggable: each lives in its own module and is registered here in
`ENGINE_FACTORIES` under its provider name; TTS_PROVIDERS (a list in `podnex.settings`)
says which ones a deployment enables. Adding an engine is one module, one entry here and
its name in `podnex.settings.TtsProvider` (plus its limits in
`Settings.speech_task_limits` when it needs its own).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from podnex.settings import Settings
from podnex.speech.base import SpeechEngine


def _espeak(settings: Settings) -> SpeechEngine:
    from podnex.speech.espeak import EspeakEngine

    return EspeakEngine()


def _openai(settings: Settings) -> SpeechEngine:
    from podnex.openai_api import openai_client
    from podnex.speech.openai_tts import OpenAISpeechEngine

    return OpenAISpeechEngine(
        openai_client(settings),
        model=settings.openai_tts_model,
        response_format=settings.openai_tts_format,
        max_input_chars=settings.openai_tts_max_input_chars,
    )


ENGINE_FACTORIES: Mapping[str, Callable[[Settings], SpeechEngine]] = MappingProxyType(
    {"espeak": _espeak, "openai": _openai}
)
"""How to build each engine podnex ships, by provider name."""


def create_engines(settings: Settings) -> dict[str, SpeechEngine]:
    """Every engine this deployment enables (TTS_PROVIDERS), by provider name."""
    return {name: ENGINE_FACTORIES[name](settings) for name in settings.tts_providers}
