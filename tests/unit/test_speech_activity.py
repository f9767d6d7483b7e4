"""The speech activity caches each line by content: the same line twice is one engine call."""

from __future__ import annotations

import asyncio
import dataclasses
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
from podnex.speech.base import SpeechAudio, SpeechError
from podnex.speech.espeak import EspeakEngine
from podnex.storage import LocalStorage
from workflows.types import SpeechBatch, SpeechLine, SpeechRequest


class CountingEngine:
    """The real espeak engine, counting how often it is asked to speak."""

    name = "espeak"
    lines_at_once = 1

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


def batch(*texts: str) -> SpeechBatch:
    return SpeechBatch(
        podcast_id="7f1c1d2e-0000-4000-8000-000000000001",
        provider="espeak",
        lines=[
            SpeechLine(index=index * 3, speaker="host", text=text, voice="host")
            for index, text in enumerate(texts)
        ],
    )


class FlakyEngine(CountingEngine):
    """Fails once, retryably, on the texts it is given."""

    def __init__(self, flaky: set[str]) -> None:
        super().__init__()
        self.flaky = set(flaky)

    async def synthesize(self, text: str, voice: str) -> SpeechAudio:
        if text in self.flaky:
            self.flaky.discard(text)
            self.calls += 1
            raise SpeechError("busy", retryable=True, retry_after=2.0)
        return await super().synthesize(text, voice)


async def test_a_batch_speaks_its_lines_in_order_and_checkpoints_them(tmp_path: Path) -> None:
    engine = CountingEngine()
    activities = make_activities(tmp_path, engine)
    env = ActivityEnvironment()
    beats: list[tuple[object, ...]] = []
    env.on_heartbeat = lambda *details: beats.append(details)

    spoken = await env.run(activities.synthesize_lines, batch("One.", "Two.", "One."))

    assert engine.calls == 2  # the repeated line comes from the cache
    assert [r.cached for r in spoken.results] == [False, False, True]
    assert spoken.results[0].key == spoken.results[2].key != spoken.results[1].key
    assert ([0, 3, 6],) in beats, "the checkpoint lists every stored line by index"


async def test_a_retried_batch_skips_the_lines_of_its_checkpoint(tmp_path: Path) -> None:
    engine = CountingEngine()
    activities = make_activities(tmp_path, engine)
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, attempt=2, heartbeat_details=[[0, 3]])

    spoken = await env.run(activities.synthesize_lines, batch("Alpha.", "Beta.", "Gamma."))

    assert engine.calls == 1, "only the line not in the checkpoint is spoken"
    # The checkpoint's lines were spoken by this batch's earlier attempt: not cache hits.
    assert [r.cached for r in spoken.results] == [False, False, False]


async def test_a_failed_line_does_not_stop_the_others(tmp_path: Path) -> None:
    engine = FlakyEngine({"Beta."})
    activities = make_activities(tmp_path, engine)

    with pytest.raises(ApplicationError) as caught:
        await ActivityEnvironment().run(
            activities.synthesize_lines, batch("Alpha.", "Beta.", "Gamma.")
        )
    assert not caught.value.non_retryable
    assert caught.value.next_retry_delay is not None
    assert caught.value.next_retry_delay.total_seconds() == 2.0
    assert engine.calls == 3, "the lines after the failed one were spoken"

    again = await ActivityEnvironment().run(
        activities.synthesize_lines, batch("Alpha.", "Beta.", "Gamma.")
    )
    assert engine.calls == 4 and [r.cached for r in again.results] == [True, False, True]


async def test_a_refused_line_fails_the_batch_at_once(tmp_path: Path) -> None:
    engine = CountingEngine()
    activities = make_activities(tmp_path, engine)
    refused = batch("Alpha.", "Beta.")
    refused.lines[0].voice = "bob"
    with pytest.raises(ApplicationError) as caught:
        await ActivityEnvironment().run(activities.synthesize_lines, refused)
    assert caught.value.non_retryable
    assert engine.calls == 1, "the line after the refused one was not tried"


class ConcurrentEngine(CountingEngine):
    """Speaks ``lines_at_once`` lines at a time, each taking a moment; records the most
    lines it was given at once, and the texts whose saying was stopped."""

    def __init__(self, lines_at_once: int, refuse: str | None = None) -> None:
        super().__init__()
        self.lines_at_once = lines_at_once
        self.refuse = refuse
        self.speaking = 0
        self.most_at_once = 0
        self.stopped: list[str] = []

    async def synthesize(self, text: str, voice: str) -> SpeechAudio:
        self.calls += 1
        self.speaking += 1
        self.most_at_once = max(self.most_at_once, self.speaking)
        try:
            if text == self.refuse:
                raise SpeechError("voice model rejected the text", retryable=False)
            await asyncio.sleep(0.2)
            return await self.inner.synthesize(text, voice)
        except asyncio.CancelledError:
            self.stopped.append(text)
            raise
        finally:
            self.speaking -= 1


async def test_an_engine_speaks_as_many_lines_of_a_batch_at_once_as_it_can(
    tmp_path: Path,
) -> None:
    """espeak-ng speaks a batch's lines on every core: at most its lines_at_once at a
    time, each stored and checkpointed, the results in the batch's order."""
    engine = ConcurrentEngine(lines_at_once=3)
    activities = make_activities(tmp_path, engine)
    env = ActivityEnvironment()
    beats: list[tuple[object, ...]] = []
    env.on_heartbeat = lambda *details: beats.append(details)
    texts = ["One.", "Two.", "Three.", "Four.", "Five.", "Six.", "Seven."]

    spoken = await env.run(activities.synthesize_lines, batch(*texts))

    assert engine.calls == 7 and engine.most_at_once == 3
    assert len({result.key for result in spoken.results}) == 7
    assert [result.cached for result in spoken.results] == [False] * 7
    assert ([0, 3, 6, 9, 12, 15, 18],) in beats
    for line, result in zip(batch(*texts).lines, spoken.results, strict=True):
        again = await env.run(activities.synthesize_line, request(line.index, line.text))
        assert again.cached and again.key == result.key, "each result is its own line's"


async def test_a_line_said_twice_at_once_is_spoken_once(tmp_path: Path) -> None:
    engine = ConcurrentEngine(lines_at_once=4)
    activities = make_activities(tmp_path, engine)

    spoken = await ActivityEnvironment().run(
        activities.synthesize_lines, batch("Again.", "Other.", "Again.")
    )

    assert engine.calls == 2
    assert [result.cached for result in spoken.results] == [False, False, True]


async def test_a_refused_line_stops_the_lines_spoken_with_it(tmp_path: Path) -> None:
    """A failure not worth retrying fails the batch at once: the lines being spoken beside
    it are stopped (and waited for), the ones not begun are never tried."""
    engine = ConcurrentEngine(lines_at_once=2, refuse="Beta.")
    activities = make_activities(tmp_path, engine)
    with pytest.raises(ApplicationError) as caught:
        await ActivityEnvironment().run(
            activities.synthesize_lines, batch("Alpha.", "Beta.", "Gamma.", "Delta.")
        )
    assert caught.value.non_retryable
    assert engine.calls == 2 and engine.stopped == ["Alpha."]
    assert engine.speaking == 0, "no line is left speaking"
