"""The offline espeak-ng engine: real synthesis through the bundled library."""

from __future__ import annotations

import asyncio
import io
import wave

import pytest

from podnex.speech.base import SpeechAudio, SpeechError
from podnex.speech.espeak import ESPEAK_WORDS_PER_MINUTE, EspeakEngine
from tests.audio_analysis import decode_wav, mean_pitch_hz

SENTENCE = (
    "Welcome back to the show. Today we are talking about how to turn a pile of notes "
    "into a podcast that people actually enjoy listening to, week after week."
)

CONCURRENT_REQUESTS = [
    ("host", "Hello and welcome to the show."),
    ("guest", "Thanks for having me, it is a pleasure to be here."),
    ("host", "Let us start with the basics. What is a note, really?"),
    ("guest", "A note is a thought you did not want to lose."),
    ("host", "And why do most notes never get read again?"),
    ("guest", "Because nobody turns them into something worth listening to."),
    ("host", "That is exactly what we are going to fix today, one idea at a time."),
    ("guest", "Sounds good."),
]


def wav_format(audio: SpeechAudio) -> tuple[int, int, int, int]:
    """Return (channels, sample width in bytes, frame rate, frame count) of the WAV."""
    with wave.open(io.BytesIO(audio.wav), "rb") as reader:
        return (
            reader.getnchannels(),
            reader.getsampwidth(),
            reader.getframerate(),
            reader.getnframes(),
        )


async def test_synthesizes_a_mono_16_bit_wav_at_22050_hz() -> None:
    audio = await EspeakEngine().synthesize(SENTENCE, "host")

    channels, sample_width, frame_rate, frames = wav_format(audio)
    assert audio.wav[:4] == b"RIFF"
    assert (channels, sample_width, frame_rate) == (1, 2, 22050)
    assert audio.sample_rate == 22050
    assert frames > 0
    assert audio.duration_seconds == pytest.approx(frames / 22050)


@pytest.mark.parametrize("voice", ["host", "guest"])
@pytest.mark.parametrize("words_per_minute", [ESPEAK_WORDS_PER_MINUTE, 250])
async def test_duration_follows_the_speaking_rate(voice: str, words_per_minute: int) -> None:
    audio = await EspeakEngine(words_per_minute).synthesize(SENTENCE, voice)

    expected = len(SENTENCE.split()) / words_per_minute * 60
    assert audio.duration_seconds == pytest.approx(expected, rel=0.35)


async def test_host_and_guest_are_different_voices() -> None:
    engine = EspeakEngine()
    host = mean_pitch_hz(*decode_wav((await engine.synthesize(SENTENCE, "host")).wav))
    guest = mean_pitch_hz(*decode_wav((await engine.synthesize(SENTENCE, "guest")).wav))

    assert 80 <= host <= 140
    assert 170 <= guest <= 260
    assert guest - host > 50


def test_voices_map_public_names_to_espeak_voices() -> None:
    engine = EspeakEngine()

    assert engine.name == "espeak"
    voices = dict(engine.voices())
    assert {role: voices[role] for role in ("host", "guest", "male", "female")} == {
        "host": "en-us",
        "guest": "en-us+f3",
        "male": "en-us",
        "female": "en-us+f3",
    }
    # Issue 13's catalogue: six voices under their own names, the roles as aliases.
    assert set(voices) - {"host", "guest", "male", "female"} == {
        "us-male",
        "us-female",
        "uk-male",
        "uk-female",
        "scottish-male",
        "scottish-female",
    }


async def test_male_and_female_are_aliases_of_host_and_guest() -> None:
    engine = EspeakEngine()
    male = await engine.synthesize(SENTENCE, "male")
    female = await engine.synthesize(SENTENCE, "female")

    assert 80 <= mean_pitch_hz(*decode_wav(male.wav)) <= 140
    assert 170 <= mean_pitch_hz(*decode_wav(female.wav)) <= 260


async def test_unknown_voice_is_not_retryable() -> None:
    with pytest.raises(SpeechError, match="unknown voice") as caught:
        await EspeakEngine().synthesize(SENTENCE, "narrator")

    assert caught.value.retryable is False


async def test_blank_text_is_not_retryable() -> None:
    with pytest.raises(SpeechError) as caught:
        await EspeakEngine().synthesize("  \n", "host")

    assert caught.value.retryable is False


@pytest.mark.parametrize("words_per_minute", [79, 451])
def test_rejects_a_rate_espeak_cannot_speak(words_per_minute: int) -> None:
    with pytest.raises(ValueError, match="words_per_minute"):
        EspeakEngine(words_per_minute)


async def test_concurrent_calls_match_sequential_results() -> None:
    """Concurrent calls are serialised: each gets its own, whole, correctly voiced audio.

    libespeak-ng keeps a pitch-flutter phase in a function-level static that carries over
    from one utterance to the next, so repeated renderings of a text differ by a few
    samples and cannot be compared byte for byte; length and pitch identify them instead.
    """
    engine = EspeakEngine()
    sequential = [await engine.synthesize(text, voice) for voice, text in CONCURRENT_REQUESTS]

    concurrent = await asyncio.gather(
        *(engine.synthesize(text, voice) for voice, text in CONCURRENT_REQUESTS)
    )

    assert len(concurrent) == len(sequential)
    for alone, together in zip(sequential, concurrent, strict=True):
        assert together.sample_rate == alone.sample_rate
        assert together.duration_seconds == pytest.approx(alone.duration_seconds, abs=0.03)
        assert mean_pitch_hz(*decode_wav(together.wav)) == pytest.approx(
            mean_pitch_hz(*decode_wav(alone.wav)), rel=0.05
        )
