"""The LLM script writer against an OpenAI-compatible server on loopback (real openai client)."""

from __future__ import annotations

import re
from collections.abc import Iterator, MutableMapping
from typing import Any

import openai
import pytest
import structlog

from podnex import openai_api
from podnex.providers import create_writer
from podnex.script import llm
from podnex.script.base import ScriptError, WriteRequest
from podnex.script.llm import SCRIPT_SCHEMA, LlmScriptWriter, word_budget
from podnex.script.offline import TARGET_WORDS
from podnex.script.structured_output import OutputModeSetting
from podnex.script.types import Duration
from podnex.settings import Settings
from tests.fakes.openai_server import API_KEY, FakeOpenAI
from tests.integration.notes import NOTES

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


def new_writer(fake: FakeOpenAI, output_mode: OutputModeSetting = "auto") -> LlmScriptWriter:
    client = openai.AsyncOpenAI(api_key=API_KEY, base_url=fake.base_url, max_retries=0)
    return LlmScriptWriter(
        client, model="fake-model", chunk_chars=16_000, max_attempts=3, output_mode=output_mode
    )


@pytest.fixture
def writer(fake: FakeOpenAI) -> LlmScriptWriter:
    fake.reset()
    return new_writer(fake)


@pytest.fixture
def logs(monkeypatch: pytest.MonkeyPatch) -> list[MutableMapping[str, Any]]:
    """What the writer and the provider plumbing log during the test.

    Their module loggers may be cached with another test's configuration (structlog's
    ``cache_logger_on_first_use``), so they are replaced rather than reconfigured.
    """
    capture = structlog.testing.LogCapture()
    for module in (openai_api, llm):
        monkeypatch.setattr(module, "log", structlog.wrap_logger(None, processors=[capture]))
    return capture.entries


def provider_of(fake: FakeOpenAI) -> str:
    """How a failure names the fake: ``openai at 127.0.0.1:<port>``."""
    return "openai at " + fake.base_url.removeprefix("http://").removesuffix("/v1")


def assert_readable(message: str, fake: FakeOpenAI) -> None:
    """A failure a person can read: provider and step named, one line, no internals."""
    assert message.startswith(f"Script writer ({provider_of(fake)}) failed: "), message
    assert "\n" not in message and "Traceback" not in message and "File " not in message
    assert ".py" not in message and len(message) < 400, message


def long_notes(size: int = 50_000) -> str:
    """Markdown notes of exactly ``size`` characters: numbered topics, each with a marker word."""
    topics: list[str] = []
    number = 0
    while sum(len(topic) for topic in topics) < size:
        number += 1
        marker = f"marker{number:03d}"
        topics.append(
            f"## Topic {number}: the {marker} story\n\n"
            f"The {marker} exhibit shows how finding {number} changed the field. "
            f"Researchers measured {marker} in several labs over many years. "
            f"Results for {marker} were consistent, and they surprised many observers.\n\n"
        )
    return "".join(topics)[:size]


@pytest.mark.parametrize("duration", ["SHORT", "LONG"])
async def test_script_lands_within_twenty_percent_of_the_target(
    writer: LlmScriptWriter, fake: FakeOpenAI, duration: Duration
) -> None:
    script = await writer.write(WriteRequest(notes=NOTES, duration=duration))
    target = TARGET_WORDS[duration]
    low, high = word_budget(duration)
    print(f"\n{duration}: {script.word_count} words for a target of {target} ({low}..{high})")
    assert low <= script.word_count <= high
    assert {line.speaker for line in script.lines} == {"host", "guest"}
    assert all(line.text.strip() for line in script.lines)
    request = fake.requests("chat")[0].body
    assert request["response_format"]["type"] == "json_schema"
    assert request["response_format"]["json_schema"]["strict"] is True
    assert request["model"] == "fake-model"


async def test_language_title_and_instructions_reach_the_model(
    writer: LlmScriptWriter, fake: FakeOpenAI
) -> None:
    script = await writer.write(
        WriteRequest(
            notes=NOTES,
            duration="SHORT",
            title="Octopus minds",
            language="Spanish",
            instructions="Keep it playful and focus on camouflage.",
        )
    )
    assert script.title == "Octopus minds"
    messages = fake.requests("chat")[0].body["messages"]
    assert "Language: Spanish." in messages[0]["content"]
    assert "Keep it playful and focus on camouflage." in messages[1]["content"]
    assert "Episode title: Octopus minds" in messages[1]["content"]


async def test_malformed_output_is_retried_within_the_writer(
    writer: LlmScriptWriter, fake: FakeOpenAI
) -> None:
    fake.fail("chat", "malformed")
    script = await writer.write(WriteRequest(notes=NOTES, duration="SHORT"))
    assert [r.fault for r in fake.requests("chat")] == ["malformed", None]
    second = fake.requests("chat")[1].body["messages"]
    assert "not a valid script" in second[-1]["content"]
    assert word_budget("SHORT")[0] <= script.word_count


async def test_a_script_off_the_length_budget_is_revised(
    writer: LlmScriptWriter, fake: FakeOpenAI
) -> None:
    fake.fail("chat", "undershoot")
    script = await writer.write(WriteRequest(notes=NOTES, duration="LONG"))
    low, high = word_budget("LONG")
    assert low <= script.word_count <= high
    revision = fake.requests("chat")[1].body["messages"]
    assert revision[2]["role"] == "assistant"
    expected = rf"has \d+ words; it must have between {low} and {high}"
    assert re.search(expected, revision[3]["content"])


async def test_output_still_malformed_after_three_attempts_fails_clearly(
    writer: LlmScriptWriter, fake: FakeOpenAI
) -> None:
    fake.fail("chat", "malformed", times=3)
    with pytest.raises(ScriptError) as failure:
        await writer.write(WriteRequest(notes=NOTES, duration="SHORT"))
    assert not failure.value.retryable
    assert failure.value.kind == "MalformedScript"
    assert "did not write a valid script in 3 attempts" in str(failure.value)
    assert len(fake.requests("chat")) == 3


async def test_rate_limit_is_retryable_after_the_providers_delay(
    writer: LlmScriptWriter, fake: FakeOpenAI
) -> None:
    fake.fail("chat", "429", retry_after=7)
    with pytest.raises(ScriptError) as failure:
        await writer.write(WriteRequest(notes=NOTES, duration="SHORT"))
    assert failure.value.retryable
    assert failure.value.retry_after == pytest.approx(7)
    assert "HTTP 429" in str(failure.value)
    assert_readable(str(failure.value), fake)
    assert len(fake.requests("chat")) == 1, "the SDK's own retries are off"


async def test_server_error_is_retryable(writer: LlmScriptWriter, fake: FakeOpenAI) -> None:
    fake.fail("chat", "500")
    with pytest.raises(ScriptError) as failure:
        await writer.write(WriteRequest(notes=NOTES, duration="SHORT"))
    assert failure.value.retryable and failure.value.retry_after is None


async def test_refusal_is_not_retryable_and_keeps_the_providers_message(
    writer: LlmScriptWriter, fake: FakeOpenAI
) -> None:
    fake.fail("chat", "400", message="This request violates our usage policy.")
    with pytest.raises(ScriptError) as failure:
        await writer.write(WriteRequest(notes=NOTES, duration="SHORT"))
    assert not failure.value.retryable
    assert "This request violates our usage policy." in str(failure.value)
    assert_readable(str(failure.value), fake)


async def test_notes_without_speakable_text_are_refused_without_a_call(
    writer: LlmScriptWriter, fake: FakeOpenAI
) -> None:
    with pytest.raises(ScriptError) as failure:
        await writer.write(WriteRequest(notes="```\ncode only\n```\n" * 20, duration="SHORT"))
    assert failure.value.kind == "InvalidNotes" and not failure.value.retryable
    assert fake.requests() == []


@pytest.mark.parametrize("duration", ["SHORT", "LONG"])
async def test_long_notes_are_condensed_and_covered_from_beginning_to_end(
    writer: LlmScriptWriter, fake: FakeOpenAI, duration: Duration
) -> None:
    notes = long_notes()
    assert len(notes) == 50_000
    script = await writer.write(WriteRequest(notes=notes, duration=duration))

    chat = fake.requests("chat")
    condensing = [r for r in chat if "response_format" not in r.body]
    writing = [r for r in chat if "response_format" in r.body]
    assert len(condensing) >= 4 and len(writing) == 1
    parts = sorted(
        (int(found[1]), int(found[2]), found[3])
        for r in condensing
        if (
            found := re.match(
                r"Part (\d+) of (\d+) of the notes\.\n\n<notes>\n(.*)\n</notes>$",
                r.body["messages"][1]["content"],
                re.DOTALL,
            )
        )
    )
    assert [(index, count) for index, count, _ in parts] == [
        (index, len(condensing)) for index in range(1, len(condensing) + 1)
    ], "one condensing pass, every part once"
    assert "".join(chunk for *_, chunk in parts) == notes, "every character reached the model"
    prompt = writing[0].body["messages"][1]["content"]
    assert len(prompt) < 16_000 + 1_000, "the writing prompt fits the chunk size"

    markers = sorted({int(n) for n in re.findall(r"marker(\d{3})", notes)})
    spoken = {int(n) for line in script.lines for n in re.findall(r"marker(\d{3})", line.text)}
    thirds = [markers[: len(markers) // 3], markers[len(markers) // 3 : 2 * len(markers) // 3]]
    thirds.append(markers[2 * len(markers) // 3 :])
    print(
        f"\n{duration} from 50,000 characters: {script.word_count} words, "
        f"{len(condensing)} condensing calls, topics spoken per third: "
        f"{[len(spoken & set(third)) for third in thirds]} of {[len(t) for t in thirds]}"
    )
    for third in thirds:
        assert spoken & set(third), "the script covers the beginning, middle and end"
    assert min(spoken) <= 5 and max(spoken) >= markers[-1] - 5
    low, high = word_budget(duration)
    assert low <= script.word_count <= high


async def test_settings_choose_the_writer(fake: FakeOpenAI) -> None:
    offline = create_writer(Settings())
    assert offline.name == "offline"
    llm = create_writer(
        Settings(
            script_writer="openai",
            openai_api_key=API_KEY,  # type: ignore[arg-type]
            openai_base_url=fake.base_url,
            openai_script_model="fake-model",
        )
    )
    assert isinstance(llm, LlmScriptWriter)
    assert llm.client.max_retries == 0
    script = await llm.write(WriteRequest(notes=NOTES, duration="SHORT"))
    assert word_budget("SHORT")[0] <= script.word_count


# -- structured output negotiation ------------------------------------------------------------


async def test_a_server_refusing_json_schema_gets_json_object_with_the_schema_once_remembered(
    writer: LlmScriptWriter, fake: FakeOpenAI, logs: list[MutableMapping[str, Any]]
) -> None:
    fake.refuse_formats("json_schema")  # llama.cpp's Python server
    script = await writer.write(WriteRequest(notes=NOTES, duration="SHORT"))
    assert word_budget("SHORT")[0] <= script.word_count <= word_budget("SHORT")[1]
    first = fake.requests("chat")
    assert [(r.body["response_format"]["type"], r.status) for r in first] == [
        ("json_schema", 500),
        ("json_object", 200),
    ], "the refusal was not retried as a server error: the next request fell back at once"
    assert first[1].body["response_format"]["schema"] == SCRIPT_SCHEMA
    assert "matching this JSON schema" in first[1].body["messages"][0]["content"]
    assert writer.output.mode == "json_object"
    refused = [entry for entry in logs if entry["event"] == "structured output refused"]
    assert len(refused) == 1 and refused[0]["next_mode"] == "json_object"
    assert "response_format" in refused[0]["body"], "the raw body is in the log"

    await writer.write(WriteRequest(notes=NOTES, duration="SHORT"))
    again = fake.requests("chat")[len(first) :]
    assert [r.body["response_format"]["type"] for r in again] == ["json_object"], "remembered"


async def test_a_server_without_structured_output_gets_json_asked_for_in_the_prompt(
    writer: LlmScriptWriter, fake: FakeOpenAI
) -> None:
    fake.refuse_formats("json_schema", "json_object")
    fake.fail("chat", "undershoot")
    script = await writer.write(WriteRequest(notes=NOTES, duration="SHORT"))
    assert word_budget("SHORT")[0] <= script.word_count <= word_budget("SHORT")[1]
    chat = fake.requests("chat")
    forms = [(r.body.get("response_format", {}).get("type"), r.status, r.fault) for r in chat]
    assert forms == [
        ("json_schema", 500, None),
        ("json_object", 400, None),
        (None, 200, "undershoot"),
        (None, 200, None),
    ], "fenced replies in prompt mode are validated and revised like any other"
    assert "matching this JSON schema" in chat[2].body["messages"][0]["content"]
    assert "it must have between" in chat[3].body["messages"][-1]["content"], "revised"
    assert writer.output.mode == "prompt"


@pytest.mark.parametrize("mode", ["json_object", "prompt"])
async def test_a_pinned_mode_is_asked_in_from_the_first_request(
    fake: FakeOpenAI, mode: OutputModeSetting
) -> None:
    fake.reset()
    writer = new_writer(fake, mode)
    await writer.write(WriteRequest(notes=NOTES, duration="SHORT"))
    chat = fake.requests("chat")
    assert len(chat) == 1 and chat[0].status == 200
    assert (chat[0].body.get("response_format") or {}).get("type") == (
        "json_object" if mode == "json_object" else None
    )


async def test_a_pinned_mode_the_server_refuses_fails_at_once_and_says_what_to_do(
    fake: FakeOpenAI,
) -> None:
    fake.reset()
    fake.refuse_formats("json_schema")
    writer = new_writer(fake, "json_schema")
    with pytest.raises(ScriptError) as failure:
        await writer.write(WriteRequest(notes=NOTES, duration="SHORT"))
    message = str(failure.value)
    assert not failure.value.retryable and failure.value.kind == "ProviderError"
    assert_readable(message, fake)
    assert "refused structured output in json_schema mode (HTTP 500)" in message
    assert "OPENAI_SCRIPT_OUTPUT_MODE=auto" in message
    assert len(fake.requests("chat")) == 1 and writer.output.mode == "json_schema"


async def test_a_crash_with_a_traceback_reads_as_one_line_and_the_body_is_logged(
    writer: LlmScriptWriter, fake: FakeOpenAI, logs: list[MutableMapping[str, Any]]
) -> None:
    fake.fail("chat", "crash")
    with pytest.raises(ScriptError) as failure:
        await writer.write(WriteRequest(notes=NOTES, duration="SHORT"))
    message = str(failure.value)
    assert failure.value.retryable, "a 500 that is not a refusal stays a server error"
    assert message == (
        f"Script writer ({provider_of(fake)}) failed: writing the script: "
        "provider answered HTTP 500"
    )
    logged = [entry for entry in logs if entry["event"] == "provider error response"]
    assert logged and "site-packages/server/app.py" in logged[0]["body"]
    assert writer.output.mode == "json_schema", "a crash is no refusal of the form"
