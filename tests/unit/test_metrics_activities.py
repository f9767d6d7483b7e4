"""The activities' domain counters, read back from a Temporal runtime's metric buffer.

The speech activity counts cache misses and hits, and provider failures by kind; the script
activity counts writer failures by kind. The runtime is Temporal's own (the one the worker
exports to Prometheus), buffering instead of serving.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.runtime import MetricBuffer, Runtime, TelemetryConfig
from temporalio.testing import ActivityEnvironment

from activities.context import ActivityDeps
from activities.script import ScriptActivities
from activities.speech import SpeechActivities, speech_error_kind
from podnex.db import Database
from podnex.script.offline import AsyncOfflineWriter
from podnex.settings import Settings
from podnex.speech.base import SpeechAudio, SpeechError
from podnex.speech.espeak import EspeakEngine
from podnex.storage import LocalStorage
from workflows.types import ScriptRequest, SpeechRequest


class FlakyEngine:
    """The real espeak engine that fails, as told, before speaking."""

    name = "espeak"
    lines_at_once = 1

    def __init__(self, failure: SpeechError | None = None) -> None:
        self.inner = EspeakEngine()
        self.failure = failure

    def voices(self) -> Mapping[str, str]:
        return self.inner.voices()

    async def synthesize(self, text: str, voice: str) -> SpeechAudio:
        if self.failure is not None:
            raise self.failure
        return await self.inner.synthesize(text, voice)


def deps(tmp_path: Path, engine: FlakyEngine) -> ActivityDeps:
    unused_db = Database(Settings(database_url="postgresql+psycopg://nobody@127.0.0.1:1/none"))
    return ActivityDeps(
        db=unused_db,
        storage=LocalStorage(tmp_path),
        writer=AsyncOfflineWriter(),
        engines={engine.name: engine},
    )


def metered() -> tuple[ActivityEnvironment, MetricBuffer]:
    buffer = MetricBuffer(10_000)
    runtime = Runtime(telemetry=TelemetryConfig(metrics=buffer))
    env = ActivityEnvironment()
    env.metric_meter = runtime.metric_meter
    return env, buffer


OWN_LABELS = {"result", "provider", "step", "kind", "outcome"}
"""podnex's labels (Temporal's meter adds namespace, task queue, activity type, service)."""


def counted(buffer: MetricBuffer) -> Counter[tuple[str, tuple[tuple[str, object], ...]]]:
    totals: Counter[tuple[str, tuple[tuple[str, object], ...]]] = Counter()
    for update in buffer.retrieve_updates():
        labels = tuple(sorted((k, v) for k, v in update.attributes.items() if k in OWN_LABELS))
        totals[(update.metric.name, labels)] += int(update.value)
    return totals


def line(text: str) -> SpeechRequest:
    return SpeechRequest(
        podcast_id="7f1c1d2e-0000-4000-8000-000000000002",
        index=0,
        speaker="host",
        text=text,
        voice="host",
        provider="espeak",
    )


async def test_speech_counts_a_miss_then_a_hit(tmp_path: Path) -> None:
    env, buffer = metered()
    speech = SpeechActivities(deps(tmp_path, FlakyEngine()))
    await env.run(speech.synthesize_line, line("The same line, twice."))
    await env.run(speech.synthesize_line, line("The same line, twice."))
    totals = counted(buffer)
    assert totals[("podnex_speech_cache", (("result", "miss"),))] == 1
    assert totals[("podnex_speech_cache", (("result", "hit"),))] == 1


@pytest.mark.parametrize(
    ("failure", "kind"),
    [
        (SpeechError("slow down", retryable=True, retry_after=3.0), "rate_limited"),
        (SpeechError("upstream 503", retryable=True), "transient"),
        (SpeechError("voice refused", retryable=False), "refused"),
    ],
)
async def test_speech_failures_count_by_provider_and_kind(
    tmp_path: Path, failure: SpeechError, kind: str
) -> None:
    assert speech_error_kind(failure) == kind
    env, buffer = metered()
    speech = SpeechActivities(deps(tmp_path, FlakyEngine(failure)))
    with pytest.raises(ApplicationError):
        await env.run(speech.synthesize_line, line("A line the engine will not say."))
    totals = counted(buffer)
    labels = (("kind", kind), ("provider", "espeak"), ("step", "speech"))
    assert totals[("podnex_provider_errors", labels)] == 1, totals
    assert totals[("podnex_speech_cache", (("result", "miss"),))] == 1


async def test_script_failures_count_by_writer_and_kind(tmp_path: Path) -> None:
    env, buffer = metered()
    script = ScriptActivities(deps(tmp_path, FlakyEngine()))
    with pytest.raises(ApplicationError):
        await env.run(
            script.write_script,
            ScriptRequest.model_validate(
                {
                    "podcast_id": "7f1c1d2e-0000-4000-8000-000000000003",
                    # nothing but code: nothing to say
                    "note_content": "``` " + "x" * 200 + " ```",
                    "duration": "SHORT",
                }
            ),
        )
    totals = counted(buffer)
    errors = [key for key in totals if key[0] == "podnex_provider_errors"]
    assert len(errors) == 1, totals
    labels = dict(errors[0][1])
    assert labels["provider"] == "offline" and labels["step"] == "script", labels
    assert labels["kind"], labels
