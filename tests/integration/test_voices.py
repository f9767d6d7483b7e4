"""The voice catalogue and the rule that host and guest are two different voices; pauses
that follow the dialogue."""

from __future__ import annotations

import numpy as np
import pytest

from podnex.audio import LineAudio, combine_lines
from podnex.pacing import (
    ANSWER_MS,
    NEW_TOPIC_MS,
    QUICK_REPLY_MS,
    SAME_SPEAKER_MS,
    TURN_MS,
    pauses,
)
from podnex.script.types import ScriptLine
from podnex.speech.espeak import CATALOGUE, EspeakEngine
from tests.audio_analysis import decode_wav, mean_pitch_hz
from tests.conftest import ApiUser, LiveApi
from tests.integration.notes import NOTES

SENTENCE = "The octopus changes colour in a fraction of a second to match the rocks."


async def test_voices_lists_each_engine_and_its_voices(api: LiveApi, user: ApiUser) -> None:
    response = await api.client.get("/api/v1/voices", headers=user.headers)
    assert response.status_code == 200, response.text
    (espeak,) = response.json()["data"]
    assert espeak["ttsProvider"] == "espeak" and espeak["default"] is True
    voices = {voice["name"]: voice for voice in espeak["voices"]}
    assert len(voices) >= 4
    assert {voice["gender"] for voice in voices.values()} == {"male", "female"}
    assert len({voice["accent"] for voice in voices.values()}) >= 3
    assert set(voices["us-male"]["aliases"]) == {"host", "male"}
    assert (await api.client.get("/api/v1/voices")).status_code == 401


async def test_every_catalogued_espeak_voice_is_distinct() -> None:
    engine = EspeakEngine()
    heard = {}
    for voice in CATALOGUE:
        audio = await engine.synthesize(SENTENCE, voice.name)
        samples, rate = decode_wav(audio.wav)
        heard[voice.name] = (mean_pitch_hz(samples, rate), samples)
    for voice in CATALOGUE:  # the measured pitch matches what the catalogue says
        pitch = heard[voice.name][0]
        assert (pitch < 140) if voice.gender == "male" else (pitch > 160), (voice.name, pitch)
    ids = [voice.engine_id for voice in CATALOGUE]
    assert len(set(ids)) == len(ids)
    for a in CATALOGUE:  # same pitch band, other accent: different sound all the same
        for b in CATALOGUE:
            if a.name < b.name and a.gender == b.gender:
                x, y = heard[a.name][1], heard[b.name][1]
                assert len(x) != len(y) or not np.array_equal(x, y), (a.name, b.name)


@pytest.mark.parametrize(
    ("host", "guest"),
    [("female", "female"), ("host", "male"), ("us-female", "guest"), ("uk-male", "uk-male")],
)
async def test_host_and_guest_must_be_different_voices(
    api: LiveApi, user: ApiUser, host: str, guest: str
) -> None:
    response = await api.client.post(
        "/api/v1/podcasts",
        headers=user.headers,
        json={"noteContent": NOTES, "hostVoice": host, "guestVoice": guest},
    )
    assert response.status_code == 400, response.text
    fields = [problem["field"] for problem in response.json()["details"]]
    assert fields == ["hostVoice", "guestVoice"]
    assert "different voices" in response.json()["error"]


def test_pauses_follow_the_dialogue() -> None:
    lines = [
        ScriptLine(speaker="host", text="Welcome to the show, today we talk about octopuses."),
        ScriptLine(speaker="host", text="My guest knows them well."),
        ScriptLine(speaker="guest", text="Thanks for having me."),
        ScriptLine(speaker="host", text="So what makes an octopus so clever, in your view?"),
        ScriptLine(speaker="guest", text="Mostly their arms, which hold most of their neurons."),
        ScriptLine(speaker="host", text="Really?"),
        ScriptLine(speaker="guest", text="Yes, each arm can taste what it touches, all by itself."),
    ]
    assert pauses(lines) == [
        0,
        SAME_SPEAKER_MS,
        QUICK_REPLY_MS,
        NEW_TOPIC_MS,
        ANSWER_MS,
        QUICK_REPLY_MS,
        QUICK_REPLY_MS,
    ]
    assert TURN_MS not in pauses(lines[:3]) and len(set(pauses(lines))) >= 4


async def test_the_mix_leaves_the_pauses_it_is_given() -> None:
    engine = EspeakEngine()
    host = (await engine.synthesize("Hello there.", "host")).wav
    guest = (await engine.synthesize("Hello to you.", "guest")).wav
    combined = combine_lines(
        [
            LineAudio("host", host),
            LineAudio("guest", guest, pause_before_ms=250),
            LineAudio("host", host, pause_before_ms=850),
        ]
    )
    first, second, third = combined.timings
    assert second.start_seconds - first.end_seconds == pytest.approx(0.25, abs=0.005)
    assert third.start_seconds - second.end_seconds == pytest.approx(0.85, abs=0.005)
