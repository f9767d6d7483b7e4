"""GET /api/v1/podcasts/{id}/events: progress as server-sent events, read with httpx-sse
against the real API, worker and Temporal."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from httpx_sse import ServerSentEvent, aconnect_sse
from temporalio.client import Client

import api.podcast_service as podcast_service
from podnex.settings import Settings
from tests.conftest import ApiUser, LiveApi
from tests.integration.test_podcast_routes import completed_podcast, create, slow_api

pytestmark = pytest.mark.usefixtures("worker")


async def read_events(
    client: httpx.AsyncClient,
    owner: ApiUser,
    podcast_id: str,
    *,
    last_event_id: int | None = None,
    stop_after: int | None = None,
) -> list[ServerSentEvent]:
    """The stream's events until it closes (or `stop_after` events, then hang up)."""
    headers = dict(owner.headers)
    if last_event_id is not None:
        headers["Last-Event-ID"] = str(last_event_id)
    seen: list[ServerSentEvent] = []
    async with aconnect_sse(
        client, "GET", f"/api/v1/podcasts/{podcast_id}/events", headers=headers
    ) as source:
        assert source.response.status_code == 200, await source.response.aread()
        assert source.response.headers["content-type"].startswith("text/event-stream")
        async for event in source.aiter_sse():
            seen.append(event)
            if stop_after is not None and len(seen) >= stop_after:
                break
    return seen


def data(event: ServerSentEvent) -> dict[str, Any]:
    return json.loads(event.data)  # type: ignore[no-any-return]


def assert_monotonic(events: list[ServerSentEvent]) -> None:
    ids = [int(event.id) for event in events]
    assert ids == sorted(set(ids)), ids
    progress = [data(event)["progress"] for event in events if event.event == "progress"]
    assert progress == sorted(progress), progress


async def test_stream_shows_monotonic_progress_then_one_final_event(
    settings: Settings, temporal_client: Client, user: ApiUser
) -> None:
    # A line an activity: progress moves with every line, for the stream to show it.
    one_line = settings.model_copy(update={"speech_lines_per_activity": 1})
    async with slow_api(one_line, temporal_client, delay=0.3) as client:
        podcast = await create(client, user)
        events = await read_events(client, user, podcast["id"])
    assert_monotonic(events)
    kinds = [event.event for event in events]
    assert kinds[-1] == "final" and kinds.count("final") == 1, kinds
    assert set(kinds[:-1]) == {"progress"}, kinds
    final = data(events[-1])
    assert final["status"] == "COMPLETED" and final["progress"] == 100, final
    assert final["audioUrl"] and final["source"] == "database", final
    progress = [data(event) for event in events[:-1]]
    assert len(progress) >= 4, progress
    assert any(0 < item["linesDone"] < item["linesTotal"] for item in progress), progress
    assert {item["currentStep"] for item in progress} >= {"Synthesising speech"} or any(
        item["currentStep"].startswith("Synthesising speech") for item in progress
    )


async def test_stream_resumes_after_last_event_id(
    settings: Settings, temporal_client: Client, user: ApiUser
) -> None:
    async with slow_api(settings, temporal_client, delay=0.3) as client:
        podcast = await create(client, user)
        first = await read_events(client, user, podcast["id"], stop_after=2)
        resumed_from = int(first[-1].id)
        rest = await read_events(client, user, podcast["id"], last_event_id=resumed_from)
        assert rest, "the resumed stream sent nothing"
        assert all(int(event.id) > resumed_from for event in rest), (resumed_from, rest)
        assert_monotonic(first + rest)
        assert rest[-1].event == "final"
        # The final event seen: nothing more will come, and 204 tells EventSource to stop.
        again = await client.get(
            f"/api/v1/podcasts/{podcast['id']}/events",
            headers={**user.headers, "Last-Event-ID": rest[-1].id},
        )
        assert again.status_code == 204, again.text


async def test_finished_podcast_gets_one_final_event(api: LiveApi, user: ApiUser) -> None:
    podcast = await completed_podcast(api, user)
    events = await read_events(api.client, user, podcast["id"])
    assert [event.event for event in events] == ["final"]
    assert data(events[0])["status"] == "COMPLETED"
    # A Last-Event-ID that is not ASCII digits ("¹" passes str.isdigit) is ignored.
    resumed = await api.client.get(
        f"/api/v1/podcasts/{podcast['id']}/events",
        headers={**user.headers, "Last-Event-ID": "\u00b9".encode("latin-1")},
    )
    assert resumed.status_code == 200, resumed.text
    assert "event: final" in resumed.text


async def test_stream_of_another_users_podcast_is_404(
    api: LiveApi, user: ApiUser, other_user: ApiUser
) -> None:
    podcast = await completed_podcast(api, user)
    url = f"/api/v1/podcasts/{podcast['id']}/events"
    foreign = await api.client.get(url, headers=other_user.headers)
    assert foreign.status_code == 404, foreign.text
    assert foreign.json()["success"] is False
    assert (await api.client.get(url)).status_code == 401
    missing = await api.client.get(
        "/api/v1/podcasts/00000000-0000-0000-0000-000000000000/events", headers=user.headers
    )
    assert missing.status_code == 404


async def test_stream_sends_heartbeats_and_is_never_compressed(
    settings: Settings,
    temporal_client: Client,
    user: ApiUser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Polled faster than the lines finish, so some polls find nothing new: a heartbeat.
    monkeypatch.setattr(podcast_service, "HEARTBEAT_SECONDS", 0.0)
    monkeypatch.setattr(podcast_service, "POLL_SECONDS", 0.02)
    async with slow_api(settings, temporal_client, delay=0.3) as client:
        podcast = await create(client, user)
        headers = {**user.headers, "Accept-Encoding": "br, gzip"}
        async with client.stream(
            "GET", f"/api/v1/podcasts/{podcast['id']}/events", headers=headers
        ) as response:
            assert response.status_code == 200
            assert "content-encoding" not in response.headers
            assert response.headers["cache-control"] == "no-cache"
            lines = [line async for line in response.aiter_lines()]
    assert ": heartbeat" in lines, lines[:20]
    assert "event: final" in lines
