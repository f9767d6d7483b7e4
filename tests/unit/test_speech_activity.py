"""The speech activity caches each line by content: the same line twice is one engine call."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.context import ActivityDeps
from activities.speech import SpeechActivities
from podnex.db import Database
from podnex.script.offline import OfflineScriptWriter
from podnex.settings import Settings
from podnex.speech.base import SpeechAudio
from podnex.speech.espeak import EspeakEngine
from podnex.storage import LocalStorage
from workflows.types import SpeechRequest


class CountingEngine:
    """The real espeak engine, counting how often it is asked to speak."""

    name = "espeak"

    def __init__(self) -> None:
        self.inner = EspeakEngine()
        self.calls = 0

    def voices(self) -> Mapping[str, str]:
        return self.inner.voices()

    async def synthesize(self, text: str, voice: str) -> SpeechAudio:
        self.calls += 1
        return await self.inner.synthesize(text, voice)


def make_activities(tmp_path: Path, engine: CountingEngine) -> SpeechActivities:
    unused_db = Database(Settings(database_url="postgresql+psycopg://nobody@127.0.0.1:1/none"))
    deps = ActivityDeps(
        db=unused_db,
        storage=LocalStorage(tmp_path),
        writer=OfflineScriptWriter(),
        engines={engine.name: engine},
    )
    return SpeechActivities(deps)


def request(index: int, text: str, voice: str = "host") -> SpeechRequest:
    return SpeechRequest(
        podcast_id="7f1c1d2e-0000-4000-8000-000000000001",
        index=index,
        speaker="host",
        text=text,
        voice=voice,
        provider="espeak",
    )


async def test_same_line_twice_is_one_engine_call(tmp_path: Path) -> None:
    engine = CountingEngine()
    activities = make_activities(tmp_path, engine)
    env = ActivityEnvironment()

    first = await env.run(activities.synthesize_line, request(0, "Octopuses have three hearts."))
    second = await env.run(activities.synthesize_line, request(7, "Octopuses have three hearts."))

    assert engine.calls == 1
    assert (first.cached, second.cached) == (False, True)
    assert first.key == second.key
    assert (tmp_path / first.key).read_bytes()[:4] == b"RIFF"


async def test_other_voice_or_text_is_a_new_call(tmp_path: Path) -> None:
    engine = CountingEngine()
    activities = make_activities(tmp_path, engine)
    env = ActivityEnvironment()

    a = await env.run(activities.synthesize_line, request(0, "Hello there."))
    b = await env.run(activities.synthesize_line, request(1, "Hello there.", voice="guest"))
    c = await env.run(activities.synthesize_line, request(2, "Hello again."))

    assert engine.calls == 3
    assert len({a.key, b.key, c.key}) == 3


async def test_unknown_voice_is_not_retryable(tmp_path: Path) -> None:
    activities = make_activities(tmp_path, CountingEngine())
    with pytest.raises(ApplicationError) as caught:
        await ActivityEnvironment().run(activities.synthesize_line, request(0, "Hi.", voice="bob"))
    assert caught.value.non_retryable
