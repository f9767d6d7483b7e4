"""OpenAI speech against an OpenAI-compatible server on loopback (real openai client)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import openai
import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.context import ActivityDeps
from activities.speech import SpeechActivities
from podnex.db import Database
from podnex.providers import create_engines
from podnex.script.offline import AsyncOfflineWriter
from podnex.settings import Settings
from podnex.speech.base import SpeechError
from podnex.speech.espeak import ESPEAK_WORDS_PER_MINUTE
from podnex.speech.openai_tts import SAMPLE_RATE, OpenAISpeechEngine
from podnex.storage import LocalStorage
from tests.audio_analysis import decode_wav, mean_pitch_hz
from tests.fakes.openai_server import API_KEY, FakeOpenAI
from workflows.types import SpeechRequest

pytestmark = pytest.mark.timeout(120)

LINE = (
    "Octopuses have about five hundred million neurons, most of them in their arms. "
    "Each arm can taste what it touches through thousands of suckers."
)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


def engine_for(fake: FakeOpenAI, **options: object) -> OpenAISpeechEngine:
    fake.reset()
    client = openai.AsyncOpenAI(api_key=API_KEY, base_url=fake.base_url, max_retries=0)
    return OpenAISpeechEngine(client, model="fake-tts", **options)  # type: ignore[arg-type]


def predicted_seconds(text: str) -> float:
    """How long the fake's espeak voice takes to say ``text``."""
    return len(text.split()) / ESPEAK_WORDS_PER_MINUTE * 60


@pytest.mark.parametrize("fmt", ["wav", "mp3"])
async def test_host_and_guest_are_real_distinct_voices(fake: FakeOpenAI, fmt: str) -> None:
    engine = engine_for(fake, response_format=fmt)
    host = await engine.synthesize(LINE, "host")
    guest = await engine.synthesize(LINE, "guest")
    for audio in (host, guest):
        samples, rate = decode_wav(audio.wav)
        assert rate == SAMPLE_RATE == audio.sample_rate
        assert len(samples) / rate == pytest.approx(audio.duration_seconds, abs=0.01)
        assert (
            0.7 * predicted_seconds(LINE) <= audio.duration_seconds <= 1.3 * predicted_seconds(LINE)
        )
    sent = fake.requests("speech")
    assert [(r.body["voice"], r.body["response_format"], r.body["model"]) for r in sent] == [
        ("onyx", fmt, "fake-tts"),
        ("nova", fmt, "fake-tts"),
    ]
    host_pitch = mean_pitch_hz(*decode_wav(host.wav))
    guest_pitch = mean_pitch_hz(*decode_wav(guest.wav))
    print(f"\n{fmt}: host {host_pitch:.0f} Hz, guest {guest_pitch:.0f} Hz")
    assert guest_pitch - host_pitch > 50


async def test_a_line_over_the_input_limit_is_split_at_sentences_and_joined(
    fake: FakeOpenAI,
) -> None:
    engine = engine_for(fake)
    sentences = [f"This is sentence number {n} of a very long answer indeed." for n in range(180)]
    text = " ".join(sentences)
    assert len(text) > 2 * 4096
    audio = await engine.synthesize(text, "guest")
    pieces = [r.body["input"] for r in fake.requests("speech")]
    assert len(pieces) == 3 and all(len(piece) <= 4096 for piece in pieces)
    assert all(piece.endswith("indeed.") for piece in pieces), "cut at sentence ends"
    assert " ".join(pieces) == text, "nothing lost or repeated"
    expected = predicted_seconds(text)
    print(f"\n{len(text)} characters in {len(pieces)} requests: {audio.duration_seconds:.1f} s")
    assert 0.8 * expected <= audio.duration_seconds <= 1.2 * expected


async def test_unknown_voice_is_refused_before_any_request(fake: FakeOpenAI) -> None:
    engine = engine_for(fake)
    with pytest.raises(SpeechError) as failure:
        await engine.synthesize(LINE, "bob")
    assert not failure.value.retryable
    assert fake.requests() == []
    assert {"host", "guest", "male", "female", "onyx", "nova", "alloy"} <= set(engine.voices())


async def test_provider_refusal_is_not_retryable_and_keeps_its_message(fake: FakeOpenAI) -> None:
    engine = engine_for(fake, voices={"host": "robot"})
    with pytest.raises(SpeechError) as bad_voice:
        await engine.synthesize(LINE, "host")
    assert not bad_voice.value.retryable
    assert "Invalid voice 'robot'" in str(bad_voice.value)

    engine = engine_for(fake)
    fake.fail("speech", "400", message="This text violates our content policy.")
    with pytest.raises(SpeechError) as refused:
        await engine.synthesize(LINE, "host")
    assert not refused.value.retryable
    assert "HTTP 400: This text violates our content policy." in str(refused.value)


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("429", "HTTP 429"),
        ("500", "HTTP 500"),
        ("empty", "empty audio"),
        ("truncated", "truncated"),
        ("silent", "silent"),
    ],
)
@pytest.mark.parametrize("fmt", ["wav", "mp3"])
async def test_transient_and_bad_audio_failures_are_retryable(
    fake: FakeOpenAI, kind: str, message: str, fmt: str
) -> None:
    engine = engine_for(fake, response_format=fmt)
    fake.fail("speech", kind, retry_after=3)  # type: ignore[arg-type]
    with pytest.raises(SpeechError) as failure:
        await engine.synthesize(LINE, "host")
    assert failure.value.retryable
    assert message in str(failure.value)
    assert failure.value.retry_after == (pytest.approx(3) if kind == "429" else None)
    again = await engine.synthesize(LINE, "host")
    assert again.duration_seconds > 0.7 * predicted_seconds(LINE)


def activities_for(engine: OpenAISpeechEngine, root: Path) -> SpeechActivities:
    unused_db = Database(Settings(database_url="postgresql+psycopg://nobody@127.0.0.1:1/none"))
    return SpeechActivities(
        ActivityDeps(
            db=unused_db,
            storage=LocalStorage(root),
            writer=AsyncOfflineWriter(),
            engines={engine.name: engine},
        )
    )


def speech_request(voice: str = "host") -> SpeechRequest:
    return SpeechRequest(
        podcast_id="7f1c1d2e-0000-4000-8000-000000000002",
        index=0,
        speaker="host",
        text=LINE,
        voice=voice,
        provider="openai",
    )


async def test_activity_turns_retry_after_into_the_next_retry_delay(
    fake: FakeOpenAI, tmp_path: Path
) -> None:
    activities = activities_for(engine_for(fake), tmp_path)
    fake.fail("speech", "429", retry_after=4)
    with pytest.raises(ApplicationError) as failure:
        await ActivityEnvironment().run(activities.synthesize_line, speech_request())
    assert not failure.value.non_retryable
    assert failure.value.next_retry_delay == timedelta(seconds=4)
    assert failure.value.type == "SpeechError"

    result = await ActivityEnvironment().run(activities.synthesize_line, speech_request())
    assert not result.cached and (tmp_path / result.key).read_bytes()[:4] == b"RIFF"


async def test_activity_makes_refusals_non_retryable(fake: FakeOpenAI, tmp_path: Path) -> None:
    activities = activities_for(engine_for(fake), tmp_path)
    fake.fail("speech", "400", message="Voice not allowed for this account.")
    with pytest.raises(ApplicationError) as failure:
        await ActivityEnvironment().run(activities.synthesize_line, speech_request())
    assert failure.value.non_retryable
    assert failure.value.next_retry_delay is None
    assert "Voice not allowed for this account." in str(failure.value)


def test_settings_enable_the_engines() -> None:
    assert set(create_engines(Settings())) == {"espeak"}
    engines = create_engines(
        Settings(
            tts_providers="espeak,openai",  # type: ignore[arg-type]
            openai_api_key="k",  # type: ignore[arg-type]
            openai_tts_model="gpt-4o-mini-tts",
            openai_tts_format="mp3",
        )
    )
    assert set(engines) == {"espeak", "openai"}
    openai_engine = engines["openai"]
    assert isinstance(openai_engine, OpenAISpeechEngine)
    assert openai_engine.model == "gpt-4o-mini-tts"
    assert openai_engine.response_format == "mp3"
    assert openai_engine.client.max_retries == 0
    assert openai_engine.voices()["host"] == "onyx" and openai_engine.voices()["guest"] == "nova"
