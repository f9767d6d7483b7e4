"""A request option end to end: `audience` from the API to the stored podcast, the run's
input and the LLM writer's prompt (the path README's "Where things live" describes)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import openai
import pytest
from temporalio.client import Client

from podnex.script.base import WriteRequest
from podnex.script.llm import LlmScriptWriter
from podnex.spec import PodcastSpec
from tests.conftest import ApiUser, LiveApi
from tests.fakes.openai_server import API_KEY, FakeOpenAI
from tests.integration.notes import NOTES

AUDIENCE = "marine biology students"

pytestmark = pytest.mark.usefixtures("worker")


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


async def test_audience_is_stored_and_reaches_the_run(
    api: LiveApi, user: ApiUser, temporal_client: Client
) -> None:
    response = await api.client.post(
        "/api/v1/podcasts",
        headers=user.headers,
        json={"noteContent": NOTES, "audience": AUDIENCE},
    )
    assert response.status_code == 201, response.text
    podcast = response.json()["data"]
    assert podcast["audience"] == AUDIENCE
    got = await api.client.get(f"/api/v1/podcasts/{podcast['id']}", headers=user.headers)
    assert got.json()["data"]["audience"] == AUDIENCE

    history = await temporal_client.get_workflow_handle(podcast["workflowId"]).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    assert json.loads(started.input.payloads[0].data)["spec"]["audience"] == AUDIENCE

    plain = await api.client.post(
        "/api/v1/podcasts", headers=user.headers, json={"noteContent": NOTES}
    )
    assert plain.json()["data"]["audience"] is None
    bad = await api.client.post(
        "/api/v1/podcasts", headers=user.headers, json={"noteContent": NOTES, "audience": ""}
    )
    assert bad.status_code == 400 and bad.json()["details"][0]["field"] == "audience"


async def test_audience_reaches_the_writers_prompt(fake: FakeOpenAI) -> None:
    fake.reset()
    client = openai.AsyncOpenAI(api_key=API_KEY, base_url=fake.base_url, max_retries=0)
    writer = LlmScriptWriter(client, model="fake-model", chunk_chars=16_000, max_attempts=3)
    spec = PodcastSpec(
        note_content=NOTES,
        audience=AUDIENCE,
        host_voice="host",
        guest_voice="guest",
        tts_provider="espeak",
    )
    await writer.write(WriteRequest.from_spec(spec, words_per_minute=150))
    prompt = fake.requests("chat")[0].body["messages"][1]["content"]
    assert f"The audience: {AUDIENCE}." in prompt
