"""The providers podnex ships: script writers and speech engines, each declared once.

A declaration says what the provider is called, how to build it from the settings, which
settings it cannot work without, the languages it speaks, and (for speech) its speaking
rate and the limits its task queue keeps. Everything else derives from these: the names
SCRIPT_WRITER and TTS_PROVIDERS accept, the engines a process opens, the speech workers'
limits, and the rule that refuses a language a chosen provider cannot speak.

Adding an engine is one module (the engine itself, and a section of its settings in
`podnex.settings` when it has any) and one declaration here.

Factories import their engine's module when called, so reading the declarations (as the
settings do) costs no provider SDK import.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from podnex.script.base import ScriptWriter
    from podnex.settings import Settings
    from podnex.speech.base import SpeechEngine

ENGLISH = frozenset({"en"})
_LOCAL_SERVER_HINT = " (any value for a local server that ignores it)"


@dataclass(frozen=True)
class Provider:
    """What every provider declares.

    ``languages``: primary language subtags it speaks (``en``), or None for any language.
    ``required_settings``: `section.field` paths that must be set when it is used, each
    with a hint for the error message.
    """

    name: str
    label: str
    languages: frozenset[str] | None = None
    required_settings: Mapping[str, str] = field(default_factory=dict)

    def speaks(self, language: str) -> bool:
        return self.languages is None or language.split("-")[0].lower() in self.languages


@dataclass(frozen=True)
class ScriptWriterProvider(Provider):
    build: Callable[[Settings], ScriptWriter] | None = None

    def create(self, settings: Settings) -> ScriptWriter:
        assert self.build is not None
        return self.build(settings)


@dataclass(frozen=True)
class SpeechProvider(Provider):
    """A speech engine's declaration.

    ``task_limits`` gives its speech workers' limits: concurrent calls per worker process,
    and calls a second across every worker of its task queue (enforced by the Temporal
    server) or None. ``words_per_minute`` is its speaking rate, for writers that aim at
    minutes. ``lines_per_activity``: how many lines one speech activity speaks
    (`SPEECH_LINES_PER_ACTIVITY` overrides it for every engine): many for an engine whose
    line costs less than an activity does (espeak-ng: fewer activities, less
    orchestration), one for an engine whose line takes a second (every slot then takes the
    next line as soon as it is free, so a podcast's lines end together).
    ``activities_at_once``: how many of a podcast's speech activities run at once
    (`SPEECH_CONCURRENCY` overrides it): a cloud engine's parallelism is in its activities,
    a local engine's in the worker (espeak-ng speaks a batch's lines at once on every core,
    `SpeechEngine.lines_at_once`), so one of its activities at a time keeps the cores busy.
    ``speech_rounds``: how many batches each of those runs in turn, about (each batch done
    moves the podcast's progress): two for a cloud engine, one for an engine whose lines
    all take moments (espeak-ng: one activity for a podcast's lines, one less hand-off).
    """

    build: Callable[[Settings], SpeechEngine] | None = None
    task_limits: Callable[[Settings], tuple[int, float | None]] = lambda settings: (1, None)
    words_per_minute: float = 150.0
    lines_per_activity: int = 1
    activities_at_once: int = 8
    speech_rounds: int = 2

    def create(self, settings: Settings) -> SpeechEngine:
        assert self.build is not None
        return self.build(settings)


# -- script writers ---------------------------------------------------------------------------


def _offline_writer(settings: Settings) -> ScriptWriter:
    from podnex.script.offline import AsyncOfflineWriter

    return AsyncOfflineWriter()


def _llm_writer(settings: Settings) -> ScriptWriter:
    from podnex.openai_api import openai_client
    from podnex.script.llm import LlmScriptWriter

    section = settings.openai
    return LlmScriptWriter(
        openai_client(section),
        model=section.script_model,
        chunk_chars=section.script_chunk_chars,
        max_attempts=section.script_max_attempts,
        output_mode=section.script_output_mode,
    )


SCRIPT_WRITERS: Mapping[str, ScriptWriterProvider] = MappingProxyType(
    {
        "offline": ScriptWriterProvider(
            name="offline",
            label="the offline script writer",
            languages=ENGLISH,
            build=_offline_writer,
        ),
        "openai": ScriptWriterProvider(
            name="openai",
            label="the openai script writer",
            required_settings={"openai.api_key": _LOCAL_SERVER_HINT},
            build=_llm_writer,
        ),
    }
)
"""Every script writer podnex ships, by the name SCRIPT_WRITER takes."""


# -- speech engines ---------------------------------------------------------------------------


def _espeak(settings: Settings) -> SpeechEngine:
    from podnex.speech.espeak import EspeakEngine

    return EspeakEngine(processes=settings.espeak.processes)


def _openai_speech(settings: Settings) -> SpeechEngine:
    from podnex.openai_api import openai_client
    from podnex.speech.openai_tts import OpenAISpeechEngine

    section = settings.openai
    return OpenAISpeechEngine(
        openai_client(section),
        model=section.tts_model,
        response_format=section.tts_format,
        max_input_chars=section.tts_max_input_chars,
    )


def _elevenlabs(settings: Settings) -> SpeechEngine:
    from elevenlabs.client import AsyncElevenLabs

    from podnex.speech.elevenlabs_tts import ElevenLabsSpeechEngine

    section = settings.elevenlabs
    assert section.api_key is not None
    return ElevenLabsSpeechEngine(
        AsyncElevenLabs(
            api_key=section.api_key.get_secret_value(),
            base_url=section.base_url,
            timeout=section.timeout_seconds,
        ),
        model_id=section.model_id,
        output_format=section.output_format,
        max_input_chars=section.max_input_chars,
        stitching=section.stitching,
    )


def _unrealspeech(settings: Settings) -> SpeechEngine:
    from podnex.speech.unrealspeech_tts import UnrealSpeechEngine, unrealspeech_client

    section = settings.unrealspeech
    assert section.api_key is not None
    return UnrealSpeechEngine(
        unrealspeech_client(
            section.api_key.get_secret_value(), section.base_url, section.timeout_seconds
        ),
        bitrate=section.bitrate,
        speed=section.speed,
        pitch=section.pitch,
        max_input_chars=section.max_input_chars,
        requests_per_second=section.requests_per_second,
    )


ELEVENLABS_MULTILINGUAL = frozenset(
    {"en", "ja", "zh", "de", "hi", "fr", "ko", "pt", "it", "es", "id", "nl", "tr", "fil"}
    | {"tl", "pl", "sv", "bg", "ro", "ar", "cs", "el", "fi", "hr", "ms", "sk", "da", "ta"}
    | {"uk", "ru"}
)
"""The 29 languages of ElevenLabs' multilingual v2 model (the default ELEVENLABS_MODEL_ID);
Filipino as both `fil` and `tl`."""

SPEECH_PROVIDERS: Mapping[str, SpeechProvider] = MappingProxyType(
    {
        "espeak": SpeechProvider(
            name="espeak",
            label="the espeak speech engine",
            languages=ENGLISH,
            build=_espeak,
            task_limits=lambda settings: (settings.espeak.max_concurrency, None),
            words_per_minute=160.0,  # measured: podnex.speech.espeak.ESPEAK_SPOKEN_WORDS_PER_MINUTE
            # About 10 ms a line, a batch's lines spoken at once on every core (its process
            # pool): a podcast's lines go out in one activity (a SHORT one's 55, a LONG
            # one's 149; `speech_batches`), whose heartbeats checkpoint the lines stored.
            lines_per_activity=256,
            activities_at_once=1,
            speech_rounds=1,
        ),
        "openai": SpeechProvider(
            name="openai",
            label="the openai speech engine",
            required_settings={"openai.api_key": _LOCAL_SERVER_HINT},
            build=_openai_speech,
            task_limits=lambda settings: (
                settings.openai.tts_max_concurrency,
                settings.openai.tts_requests_per_second,
            ),
            words_per_minute=150.0,
        ),
        "elevenlabs": SpeechProvider(
            name="elevenlabs",
            label="the elevenlabs speech engine",
            languages=ELEVENLABS_MULTILINGUAL,
            required_settings={"elevenlabs.api_key": ""},
            build=_elevenlabs,
            task_limits=lambda settings: (
                settings.elevenlabs.max_concurrency,
                settings.elevenlabs.requests_per_second,
            ),
            words_per_minute=150.0,
        ),
        "unrealspeech": SpeechProvider(
            name="unrealspeech",
            label="the unrealspeech speech engine",
            languages=ENGLISH,
            required_settings={"unrealspeech.api_key": ""},
            build=_unrealspeech,
            task_limits=lambda settings: (
                settings.unrealspeech.max_concurrency,
                settings.unrealspeech.requests_per_second,
            ),
            words_per_minute=150.0,
        ),
    }
)
"""Every speech engine podnex ships, by the name TTS_PROVIDERS and `ttsProvider` take."""


def create_writer(settings: Settings) -> ScriptWriter:
    """The script writer chosen by SCRIPT_WRITER."""
    return SCRIPT_WRITERS[settings.script_writer].create(settings)


def create_engines(settings: Settings) -> dict[str, SpeechEngine]:
    """Every engine this deployment enables (TTS_PROVIDERS), by provider name."""
    return {name: SPEECH_PROVIDERS[name].create(settings) for name in settings.tts_providers}


def parts_not_speaking(settings: Settings, engine: str, language: str) -> list[Provider]:
    """The chosen writer and engine that cannot speak ``language`` (empty when both can)."""
    chosen = [SCRIPT_WRITERS[settings.script_writer], SPEECH_PROVIDERS[engine]]
    return [provider for provider in chosen if not provider.speaks(language)]
