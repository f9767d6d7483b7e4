"""Whole podcasts through the API with ElevenLabs and Unreal Speech, each played by its local
server on loopback (real SDK / httpx, real espeak audio), on the real Temporal dev server and
Postgres, with a worker group whose speech workers keep each engine's declared limits."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from pydantic import SecretStr

import worker as worker_module
from api.app import create_app
from podnex.settings import Settings
from tests.audio_analysis import decode_mp3, integrated_lufs
from tests.conftest import ApiUser, LiveApi, serve
from tests.fakes.speech_servers import (
    ELEVENLABS_KEY,
    UNREALSPEECH_KEY,
    FakeElevenLabs,
    FakeUnrealSpeech,
)
from tests.integration.notes import NOTES

pytestmark = pytest.mark.timeout(240)

CAP = 2
"""Each engine's concurrency per worker, and the fakes' account limits."""
UNREAL_RATE = 4
"""Unreal Speech's plan rate (requests a second) the fake enforces with 429s."""
QUEUE_RATE = 3.5
"""UNREALSPEECH_REQUESTS_PER_SECOND: the task queue's rate limit and the engine's own
spacing, a little under the plan's rate (requests cross the network with some jitter)."""


@pytest.fixture(scope="module")
def eleven() -> Iterator[FakeElevenLabs]:
    with FakeElevenLabs(speech_delay=0.05, concurrency=CAP) as server:
        yield server


@pytest.fixture(scope="module")
def unreal() -> Iterator[FakeUnrealSpeech]:
    with FakeUnrealSpeech(speech_delay=0.05, requests_per_second=UNREAL_RATE) as server:
        yield server


@pytest.fixture(scope="module")
def engine_settings(
    settings: Settings, eleven: FakeElevenLabs, unreal: FakeUnrealSpeech
) -> Settings:
    return settings.model_copy(
        update={
            "temporal_task_queue": f"engines-{uuid.uuid4().hex[:8]}",
            "tts_providers": ["espeak", "elevenlabs", "unrealspeech"],
            "speech_concurrency": 8,
            "elevenlabs": settings.elevenlabs.model_copy(
                update={
                    "api_key": SecretStr(ELEVENLABS_KEY),
                    "base_url": eleven.base_url,
                    "max_concurrency": CAP,
                }
            ),
            "unrealspeech": settings.unrealspeech.model_copy(
                update={
                    "api_key": SecretStr(UNREALSPEECH_KEY),
                    "base_url": unreal.base_url,
                    "max_concurrency": CAP,
                    "requests_per_second": QUEUE_RATE,
                }
            ),
        }
    )


@pytest.fixture(scope="module")
async def engine_api(engine_settings: Settings, temporal_client: Any) -> AsyncIterator[LiveApi]:
    deps = worker_module.build_deps(engine_settings)
    group = worker_module.build_worker(temporal_client, engine_settings, deps)
    queue = engine_settings.temporal_task_queue
    assert group.task_queues == [
        queue,
        f"{queue}-speech-espeak",
        f"{queue}-speech-elevenlabs",
        f"{queue}-speech-unrealspeech",
    ]
    async with group, serve(create_app(engine_settings)) as live:
        yield live
    await deps.db.dispose()


async def make_podcast(live: LiveApi, user: ApiUser, body: dict[str, Any]) -> dict[str, Any]:
    """Create a podcast through the API and wait for its end; its final status data."""
    created = await live.client.post(
        "/api/v1/podcasts", headers=user.headers, json={"noteContent": NOTES, **body}
    )
    assert created.status_code == 201, created.text
    podcast_id = created.json()["data"]["id"]
    for _ in range(1500):
        status = await live.client.get(
            f"/api/v1/podcasts/{podcast_id}/status", headers=user.headers
        )
        data: dict[str, Any] = status.json()["data"]
        if data["status"] in {"COMPLETED", "FAILED", "CANCELLED"}:
            break
        await asyncio.sleep(0.1)
    full = await live.client.get(f"/api/v1/podcasts/{podcast_id}", headers=user.headers)
    return {**data, **full.json()["data"]}


async def downloaded_mp3(live: LiveApi, user: ApiUser, podcast_id: str) -> bytes:
    link = await live.client.get(f"/api/v1/podcasts/{podcast_id}/download", headers=user.headers)
    assert link.status_code == 200, link.text
    audio = await live.client.get(link.json()["data"]["url"])
    assert audio.status_code == 200
    return audio.content


async def test_voices_route_lists_both_engines_with_gender_and_accent(
    engine_api: LiveApi, user: ApiUser
) -> None:
    listed = await engine_api.client.get("/api/v1/voices", headers=user.headers)
    engines = {item["ttsProvider"]: item["voices"] for item in listed.json()["data"]}
    assert {"espeak", "elevenlabs", "unrealspeech"} <= set(engines)
    brian = next(voice for voice in engines["elevenlabs"] if voice["name"] == "brian")
    assert (brian["gender"], brian["accent"]) == ("male", "American")
    assert {"host", "male"} <= set(brian["aliases"])
    scarlett = next(voice for voice in engines["unrealspeech"] if voice["name"] == "Scarlett")
    assert scarlett["gender"] == "female" and "guest" in scarlett["aliases"]


@pytest.mark.parametrize(
    ("provider", "voices"),
    [
        ("elevenlabs", {"nPczCjzI2devNBz1zQrb", "EXAVITQu4vr4xnSDxMaL"}),
        ("unrealspeech", {"Dan", "Scarlett"}),
    ],
)
async def test_a_two_voice_podcast_is_made_with_the_engine_within_its_limits(
    engine_api: LiveApi,
    user: ApiUser,
    eleven: FakeElevenLabs,
    unreal: FakeUnrealSpeech,
    provider: str,
    voices: set[str],
) -> None:
    fake = eleven if provider == "elevenlabs" else unreal
    fake.reset()
    done = await make_podcast(engine_api, user, {"ttsProvider": provider})
    assert done["status"] == "COMPLETED", done
    sent = fake.requests()
    assert {r.voice for r in sent} == voices
    assert fake.max_in_flight <= CAP
    if provider == "unrealspeech":
        starts = sorted(r.started for r in sent)
        busiest = max(sum(1 for t in starts if s <= t < s + 1.0) for s in starts)
        print(f"\nunrealspeech: {len(sent)} requests, at most {busiest} in any second")
        assert busiest <= UNREAL_RATE
    assert all(r.status == 200 for r in sent), "no request over the provider's limits"
    mp3 = await downloaded_mp3(engine_api, user, done["id"])
    samples, rate = decode_mp3(mp3)
    loudness = integrated_lufs(mp3)
    print(
        f"{provider}: {len(sent)} requests, at most {fake.max_in_flight} in flight; "
        f"{len(samples) / rate:.0f} s at {loudness:.1f} LUFS"
    )
    assert len(samples) / rate > 60
    assert loudness == pytest.approx(-16, abs=1.0), "the same loudness target as every engine"


async def test_busy_answers_are_retried_after_retry_after_and_the_podcast_completes(
    engine_api: LiveApi, user: ApiUser, eleven: FakeElevenLabs, unreal: FakeUnrealSpeech
) -> None:
    eleven.reset()
    eleven.fail("429", code="too_many_concurrent_requests", retry_after=1)
    eleven.fail("429", code="system_busy", retry_after=1)
    eleven.fail("silent")
    done = await make_podcast(engine_api, user, {"ttsProvider": "elevenlabs"})
    assert done["status"] == "COMPLETED", done
    assert sorted(r.fault or "" for r in eleven.requests() if r.fault) == ["429", "429", "silent"]

    unreal.reset()
    unreal.fail("429", retry_after=1.5, message="Too many requests")
    unreal.fail("truncated")
    done = await make_podcast(engine_api, user, {"ttsProvider": "unrealspeech"})
    assert done["status"] == "COMPLETED", done


@pytest.mark.parametrize(
    ("provider", "fault", "message"),
    [
        (
            "elevenlabs",
            {"status": 401, "code": "quota_exceeded", "message": "You have 3 credits left."},
            "ElevenLabs answered HTTP 401: quota_exceeded: You have 3 credits left.",
        ),
        (
            "unrealspeech",
            {"status": 403, "message": "Monthly character limit reached"},
            "Unreal Speech answered HTTP 403: Monthly character limit reached",
        ),
    ],
)
async def test_a_permanent_refusal_fails_the_podcast_with_the_providers_message(
    engine_api: LiveApi,
    user: ApiUser,
    eleven: FakeElevenLabs,
    unreal: FakeUnrealSpeech,
    provider: str,
    fault: dict[str, Any],
    message: str,
) -> None:
    fake = eleven if provider == "elevenlabs" else unreal
    fake.reset()
    fake.fail("refuse", **fault)
    done = await make_podcast(engine_api, user, {"ttsProvider": provider})
    assert done["status"] == "FAILED", done
    assert message in (done["error"] or "")
    refused = [r.body for r in fake.requests() if r.fault]
    assert len(refused) == 1
    assert [r.body for r in fake.requests()].count(refused[0]) == 1, "not retried"
