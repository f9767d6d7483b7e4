"""ElevenLabs (through its official SDK) and Unreal Speech (through httpx) against local
servers on loopback that speak each provider's wire format, with real (espeak) audio."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from elevenlabs.client import AsyncElevenLabs
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.context import ActivityDeps
from activities.speech import SpeechActivities
from podnex.db import Database
from podnex.providers import SPEECH_PROVIDERS, create_engines
from podnex.script.offline import AsyncOfflineWriter
from podnex.settings import Settings, describe_invalid_settings
from podnex.speech.base import SpeechEngine, SpeechError, Voice
from podnex.speech.decoding import SAMPLE_RATE
from podnex.speech.elevenlabs_tts import ElevenLabsSpeechEngine
from podnex.speech.espeak import ESPEAK_WORDS_PER_MINUTE
from podnex.speech.unrealspeech_tts import UnrealSpeechEngine, unrealspeech_client
from podnex.storage import LocalStorage
from tests.audio_analysis import decode_wav, mean_pitch_hz
from tests.fakes.speech_servers import (
    ELEVENLABS_KEY,
    UNREALSPEECH_KEY,
    FakeElevenLabs,
    FakeUnrealSpeech,
)
from workflows.types import SpeechRequest

pytestmark = pytest.mark.timeout(120)

LINE = (
    "Octopuses have about five hundred million neurons, most of them in their arms. "
    "Each arm can taste what it touches through thousands of suckers."
)
BRIAN, SARAH = "nPczCjzI2devNBz1zQrb", "EXAVITQu4vr4xnSDxMaL"


@pytest.fixture(scope="module")
def eleven() -> Iterator[FakeElevenLabs]:
    with FakeElevenLabs(concurrency=2) as server:
        yield server


@pytest.fixture(scope="module")
def unreal() -> Iterator[FakeUnrealSpeech]:
    with FakeUnrealSpeech(requests_per_second=50) as server:
        yield server


def eleven_engine(fake: FakeElevenLabs, **options: object) -> ElevenLabsSpeechEngine:
    fake.reset()
    client = AsyncElevenLabs(api_key=ELEVENLABS_KEY, base_url=fake.base_url, timeout=30)
    return ElevenLabsSpeechEngine(client, model_id="eleven_multilingual_v2", **options)  # type: ignore[arg-type]


def unreal_engine(fake: FakeUnrealSpeech, **options: object) -> UnrealSpeechEngine:
    fake.reset()
    return UnrealSpeechEngine(unrealspeech_client(UNREALSPEECH_KEY, fake.base_url, 30), **options)  # type: ignore[arg-type]


def predicted_seconds(text: str) -> float:
    return len(text.split()) / ESPEAK_WORDS_PER_MINUTE * 60


def longest_silence_seconds(samples: np.ndarray, rate: int) -> float:
    """The longest run of 10 ms frames under -50 dBFS, inside the audio (not at its ends)."""
    frame = rate // 100
    count = len(samples) // frame
    frames = samples[: count * frame].astype(np.float64).reshape(count, frame)
    loud = np.sqrt((frames**2).mean(axis=1)) > 10 ** (-50 / 20)  # samples in -1..1
    indices = np.flatnonzero(loud)
    inner = loud[indices[0] : indices[-1] + 1]
    longest = run = 0
    for is_loud in inner:
        run = 0 if is_loud else run + 1
        longest = max(longest, run)
    return longest / 100


# -- ElevenLabs -------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["mp3_44100_128", "pcm_24000", "wav_22050"])
async def test_elevenlabs_host_and_guest_are_real_distinct_voices(
    eleven: FakeElevenLabs, fmt: str
) -> None:
    engine = eleven_engine(eleven, output_format=fmt)
    host = await engine.synthesize(LINE, "host")
    guest = await engine.synthesize(LINE, "sarah")
    for audio in (host, guest):
        assert decode_wav(audio.wav)[1] == SAMPLE_RATE
        assert 0.7 * predicted_seconds(LINE) <= audio.duration_seconds
        assert audio.duration_seconds <= 1.3 * predicted_seconds(LINE)
    sent = eleven.requests()
    assert [(r.voice, r.query["output_format"], r.body["model_id"]) for r in sent] == [
        (BRIAN, fmt, "eleven_multilingual_v2"),
        (SARAH, fmt, "eleven_multilingual_v2"),
    ]
    assert all(r.body["text"] == LINE and "previous_text" not in r.body for r in sent)
    assert mean_pitch_hz(*decode_wav(guest.wav)) - mean_pitch_hz(*decode_wav(host.wav)) > 50


async def test_elevenlabs_voices_by_name_id_and_role_with_gender_and_accent(
    eleven: FakeElevenLabs,
) -> None:
    engine = eleven_engine(eleven)
    voices = engine.voices()
    assert voices["host"] == voices["male"] == voices["brian"] == voices[BRIAN] == BRIAN
    assert voices["guest"] == voices["female"] == voices["sarah"] == SARAH
    george = next(voice for voice in engine.catalogue() if voice.name == "george")
    assert (george.gender, george.accent) == ("male", "British")
    await engine.synthesize(LINE, "JBFqnCBsd6RMkjVDRZzb")
    assert [r.voice for r in eleven.requests()] == ["JBFqnCBsd6RMkjVDRZzb"]


async def test_elevenlabs_long_line_is_split_at_sentences_stitched_and_joined_without_gaps(
    eleven: FakeElevenLabs,
) -> None:
    engine = eleven_engine(eleven, max_input_chars=1000)
    sentences = [f"This is sentence number {n} of a very long answer indeed." for n in range(45)]
    text = " ".join(sentences)
    assert 2000 < len(text) <= 3000
    audio = await engine.synthesize(text, "guest")
    sent = eleven.requests()
    pieces = [r.body["text"] for r in sent]
    assert len(pieces) == 3 and all(len(piece) <= 1000 for piece in pieces)
    assert all(piece.endswith("indeed.") for piece in pieces), "cut at sentence ends"
    assert " ".join(pieces) == text, "nothing lost or repeated"
    # Stitching: each piece knows its neighbours and the requests made before it.
    assert [r.body.get("previous_text") for r in sent] == [None, pieces[0], pieces[1]]
    assert [r.body.get("next_text") for r in sent] == [pieces[1], pieces[2], None]
    ids = [r.body.get("previous_request_ids") for r in sent]
    assert ids[0] is None and len(ids[1]) == 1 and len(ids[2]) == 2 and ids[2][0] == ids[1][0]
    expected = predicted_seconds(text)
    assert 0.8 * expected <= audio.duration_seconds <= 1.2 * expected
    samples, rate = decode_wav(audio.wav)
    gap = longest_silence_seconds(samples, rate)
    print(f"\n{len(text)} characters in 3 requests: {audio.duration_seconds:.1f} s, gap {gap:.2f}")
    assert gap < 0.5, "the pieces are joined without gaps"


async def test_elevenlabs_default_limit_is_the_models(eleven: FakeElevenLabs) -> None:
    assert eleven_engine(eleven).max_input_chars == 10_000
    client = AsyncElevenLabs(api_key=ELEVENLABS_KEY, base_url=eleven.base_url)
    assert ElevenLabsSpeechEngine(client, model_id="eleven_flash_v2_5").max_input_chars == 40_000


@pytest.mark.parametrize(
    ("code", "retry_after"),
    [("too_many_concurrent_requests", 3.0), ("system_busy", 2.0), ("system_busy", None)],
)
async def test_elevenlabs_busy_is_retryable_after_retry_after_and_the_sdk_does_not_retry(
    eleven: FakeElevenLabs, code: str, retry_after: float | None
) -> None:
    engine = eleven_engine(eleven)
    eleven.fail("429", code=code, retry_after=retry_after, message="Please try again.")
    with pytest.raises(SpeechError) as failure:
        await engine.synthesize(LINE, "host")
    assert failure.value.retryable
    assert failure.value.retry_after == retry_after
    assert f"ElevenLabs answered HTTP 429: {code}: Please try again." in str(failure.value)
    assert len(eleven.requests()) == 1, "the SDK's own retries are off"
    assert (await engine.synthesize(LINE, "host")).duration_seconds > 1


async def test_elevenlabs_refusals_are_not_retryable_and_keep_the_message(
    eleven: FakeElevenLabs,
) -> None:
    engine = eleven_engine(eleven)
    quota = (
        "This request exceeds your quota of 10000. You have 12 credits remaining, "
        "while 131 credits are required for this request."
    )
    eleven.fail("refuse", status=401, code="quota_exceeded", message=quota)
    with pytest.raises(SpeechError) as refused:
        await engine.synthesize(LINE, "host")
    assert not refused.value.retryable and refused.value.retry_after is None
    assert f"HTTP 401: quota_exceeded: {quota}" in str(refused.value)

    unknown = eleven_engine(eleven, catalogue=[Voice("robot", "no-such-voice", "a robot")])
    with pytest.raises(SpeechError) as bad_voice:
        await unknown.synthesize(LINE, "robot")
    assert not bad_voice.value.retryable
    assert "HTTP 404: voice_not_found: A voice with the voice_id no-such-voice" in str(
        bad_voice.value
    )

    wrong_key = ElevenLabsSpeechEngine(
        AsyncElevenLabs(api_key="wrong", base_url=eleven.base_url), model_id="m"
    )
    with pytest.raises(SpeechError) as bad_key:
        await wrong_key.synthesize(LINE, "host")
    assert not bad_key.value.retryable and "invalid_api_key" in str(bad_key.value)

    with pytest.raises(SpeechError) as not_ours:
        await engine.synthesize(LINE, "bob")
    assert not not_ours.value.retryable and "unknown voice 'bob'" in str(not_ours.value)


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("500", "HTTP 500"),
        ("empty", "empty audio"),
        ("truncated", "truncated"),
        ("silent", "silent"),
    ],
)
@pytest.mark.parametrize("fmt", ["mp3_44100_128", "pcm_24000"])
async def test_elevenlabs_transient_and_bad_audio_failures_are_retryable(
    eleven: FakeElevenLabs, kind: str, message: str, fmt: str
) -> None:
    engine = eleven_engine(eleven, output_format=fmt)
    eleven.fail(kind)  # type: ignore[arg-type]
    with pytest.raises(SpeechError) as failure:
        await engine.synthesize(LINE, "host")
    assert failure.value.retryable and message in str(failure.value)
    assert (await engine.synthesize(LINE, "host")).duration_seconds > 1


# -- Unreal Speech ----------------------------------------------------------------------------


async def test_unrealspeech_host_and_guest_are_real_distinct_voices(
    unreal: FakeUnrealSpeech,
) -> None:
    engine = unreal_engine(unreal, bitrate="64k", speed=0.1, pitch=1.05)
    host = await engine.synthesize(LINE, "host")
    guest = await engine.synthesize(LINE, "Scarlett")
    for audio in (host, guest):
        assert 0.7 * predicted_seconds(LINE) <= audio.duration_seconds
        assert audio.duration_seconds <= 1.3 * predicted_seconds(LINE)
    assert [r.body for r in unreal.requests()] == [
        {
            "Text": LINE,
            "VoiceId": voice,
            "Bitrate": "64k",
            "Speed": 0.1,
            "Pitch": 1.05,
            "Codec": "libmp3lame",
        }
        for voice in ("Dan", "Scarlett")
    ]
    assert mean_pitch_hz(*decode_wav(guest.wav)) - mean_pitch_hz(*decode_wav(host.wav)) > 50
    names = {voice.name: voice for voice in engine.catalogue()}
    assert {"Scarlett", "Liv", "Dan", "Will", "Amy", "Noah", "Autumn"} <= set(names)
    assert (names["Will"].gender, names["Amy"].gender) == ("male", "female")


async def test_unrealspeech_long_line_is_split_under_1000_characters_and_joined(
    unreal: FakeUnrealSpeech,
) -> None:
    engine = unreal_engine(unreal)
    text = " ".join(f"This is sentence number {n} of a very long answer indeed." for n in range(45))
    audio = await engine.synthesize(text, "guest")
    pieces = [r.body["Text"] for r in unreal.requests()]
    assert len(pieces) == 3 and all(len(piece) <= 1000 for piece in pieces)
    assert " ".join(pieces) == text
    expected = predicted_seconds(text)
    assert 0.8 * expected <= audio.duration_seconds <= 1.2 * expected
    assert longest_silence_seconds(*decode_wav(audio.wav)) < 0.5


@pytest.mark.parametrize("retry_after", [2.5, None])
async def test_unrealspeech_429_is_retried_after_its_delay(
    unreal: FakeUnrealSpeech, retry_after: float | None
) -> None:
    engine = unreal_engine(unreal)
    unreal.fail("429", retry_after=retry_after, message="Too many requests")
    with pytest.raises(SpeechError) as failure:
        await engine.synthesize(LINE, "host")
    assert failure.value.retryable
    assert failure.value.retry_after == (retry_after or 1.0)
    assert "Unreal Speech answered HTTP 429: Too many requests" in str(failure.value)
    assert (await engine.synthesize(LINE, "host")).duration_seconds > 1


async def test_unrealspeech_refusals_are_not_retryable_and_keep_the_message(
    unreal: FakeUnrealSpeech,
) -> None:
    engine = unreal_engine(unreal)
    unreal.fail("refuse", status=403, message="Character quota exhausted for this month")
    with pytest.raises(SpeechError) as refused:
        await engine.synthesize(LINE, "host")
    assert not refused.value.retryable
    assert "HTTP 403: Character quota exhausted for this month" in str(refused.value)

    wrong_key = UnrealSpeechEngine(unrealspeech_client("wrong", unreal.base_url, 10))
    with pytest.raises(SpeechError) as bad_key:
        await wrong_key.synthesize(LINE, "host")
    assert not bad_key.value.retryable and "HTTP 401: Unauthorized" in str(bad_key.value)


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("500", "HTTP 500"),
        ("empty", "empty audio"),
        ("truncated", "truncated"),
        ("silent", "silent"),
    ],
)
async def test_unrealspeech_transient_and_bad_audio_failures_are_retryable(
    unreal: FakeUnrealSpeech, kind: str, message: str
) -> None:
    engine = unreal_engine(unreal)
    unreal.fail(kind)  # type: ignore[arg-type]
    with pytest.raises(SpeechError) as failure:
        await engine.synthesize(LINE, "host")
    assert failure.value.retryable and message in str(failure.value)


# -- the activity and the settings ------------------------------------------------------------


def activities_for(engine: SpeechEngine, root: Path) -> SpeechActivities:
    unused_db = Database(Settings(database_url="postgresql+psycopg://nobody@127.0.0.1:1/none"))
    return SpeechActivities(
        ActivityDeps(
            db=unused_db,
            storage=LocalStorage(root),
            writer=AsyncOfflineWriter(),
            engines={engine.name: engine},
        )
    )


async def test_activity_waits_elevenlabs_retry_after_and_fails_refusals_at_once(
    eleven: FakeElevenLabs, tmp_path: Path
) -> None:
    activities = activities_for(eleven_engine(eleven), tmp_path)
    request = SpeechRequest(
        podcast_id="7f1c1d2e-0000-4000-8000-000000000003",
        index=0,
        speaker="host",
        text=LINE,
        voice="host",
        provider="elevenlabs",
    )
    eleven.fail("429", code="too_many_concurrent_requests", retry_after=4)
    with pytest.raises(ApplicationError) as busy:
        await ActivityEnvironment().run(activities.synthesize_line, request)
    assert not busy.value.non_retryable
    assert busy.value.next_retry_delay == timedelta(seconds=4)

    eleven.fail("refuse", status=401, code="quota_exceeded", message="Out of credits.")
    with pytest.raises(ApplicationError) as refused:
        await ActivityEnvironment().run(activities.synthesize_line, request)
    assert refused.value.non_retryable and "quota_exceeded: Out of credits." in str(refused.value)

    result = await ActivityEnvironment().run(activities.synthesize_line, request)
    assert (tmp_path / result.key).read_bytes()[:4] == b"RIFF"


def test_settings_enable_the_engines_from_their_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in {
        "TTS_PROVIDERS": "espeak,elevenlabs,unrealspeech",
        "ELEVENLABS_API_KEY": "k1",
        "ELEVENLABS_MODEL_ID": "eleven_flash_v2_5",
        "ELEVENLABS_OUTPUT_FORMAT": "pcm_24000",
        "ELEVENLABS_MAX_CONCURRENCY": "5",
        "UNREALSPEECH_API_KEY": "k2",
        "UNREALSPEECH_REQUESTS_PER_SECOND": "8",
    }.items():
        monkeypatch.setenv(name, value)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    engines = create_engines(settings)
    assert set(engines) == {"espeak", "elevenlabs", "unrealspeech"}
    eleven = engines["elevenlabs"]
    assert isinstance(eleven, ElevenLabsSpeechEngine)
    assert (eleven.model_id, eleven.output_format, eleven.max_input_chars) == (
        "eleven_flash_v2_5",
        "pcm_24000",
        40_000,
    )
    assert SPEECH_PROVIDERS["elevenlabs"].task_limits(settings) == (5, None)
    assert SPEECH_PROVIDERS["unrealspeech"].task_limits(settings) == (2, 8.0)
    assert SPEECH_PROVIDERS["unrealspeech"].speaks("en-GB")
    assert not SPEECH_PROVIDERS["unrealspeech"].speaks("fr")
    assert SPEECH_PROVIDERS["elevenlabs"].speaks("fr") and SPEECH_PROVIDERS["elevenlabs"].speaks(
        "ja"
    )


@pytest.mark.parametrize(
    ("provider", "variable"),
    [("elevenlabs", "ELEVENLABS_API_KEY"), ("unrealspeech", "UNREALSPEECH_API_KEY")],
)
def test_an_engine_without_its_key_fails_at_start_naming_the_variable(
    provider: str, variable: str
) -> None:
    with pytest.raises(ValueError) as failure:
        Settings(_env_file=None, tts_providers=f"espeak,{provider}")  # type: ignore[call-arg,arg-type]
    assert f"{variable} must be set when TTS_PROVIDERS includes {provider}" in (
        describe_invalid_settings(failure.value)  # type: ignore[arg-type]
    )
    with pytest.raises(ValueError):
        Settings(_env_file=None, elevenlabs_output_format="flac_44100")  # type: ignore[call-arg]
