"""Provider plumbing without servers: settings, retry hints, text splitting, reply parsing."""

from __future__ import annotations

import email.utils
import json
import os
import time

import httpx2
import openai
import pytest
import structlog
from pydantic import ValidationError

from podnex import openai_api
from podnex.openai_api import describe_failure, one_line, retry_after_seconds
from podnex.providers import SPEECH_PROVIDERS
from podnex.script.llm import MalformedScript, parse_script, split_chunks, word_budget
from podnex.script.structured_output import (
    OutputNegotiation,
    is_format_refusal,
    json_text,
    response_format,
    schema_instructions,
)
from podnex.settings import Settings
from podnex.speech.base import split_text
from podnex.storage import signing
from workflows.types import speech_task_queue

# -- settings ---------------------------------------------------------------------------------


def test_defaults_are_the_embedded_providers() -> None:
    settings = Settings()
    assert (settings.script_writer, settings.storage_backend) == ("offline", "local")
    assert settings.tts_providers == ["espeak"] and settings.default_tts_provider == "espeak"


def test_tts_providers_is_a_comma_separated_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TTS_PROVIDERS", "espeak, openai")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("DEFAULT_TTS_PROVIDER", "openai")
    settings = Settings()
    assert settings.tts_providers == ["espeak", "openai"]
    assert settings.default_tts_provider == "openai"


@pytest.mark.parametrize(
    ("values", "variable"),
    [
        ({"script_writer": "openai"}, "OPENAI_API_KEY"),
        ({"tts_providers": "espeak,openai"}, "OPENAI_API_KEY"),
        ({"default_tts_provider": "openai"}, "DEFAULT_TTS_PROVIDER"),
        ({"tts_providers": ""}, "TTS_PROVIDERS"),
        ({"tts_providers": "espeak,espeak"}, "TTS_PROVIDERS"),
        ({"tts_providers": "espeak,elevenlabs"}, "tts_providers"),
        ({"storage_backend": "s3"}, "S3_BUCKET"),
        ({"storage_backend": "s3", "s3_bucket": "b", "s3_access_key_id": "id"}, "S3_SECRET"),
    ],
)
def test_invalid_combinations_fail_at_start_naming_the_variable(
    values: dict[str, str], variable: str
) -> None:
    with pytest.raises(ValidationError, match=variable):
        Settings(**values)  # type: ignore[arg-type]


def test_speech_limits_per_provider() -> None:
    settings = Settings(
        openai_api_key="k",  # type: ignore[arg-type]
        openai_tts_max_concurrency=3,
        openai_tts_requests_per_second=2.5,
        espeak_max_concurrency=6,
    )
    assert SPEECH_PROVIDERS["openai"].task_limits(settings) == (3, 2.5)
    assert SPEECH_PROVIDERS["espeak"].task_limits(settings) == (6, None)
    assert speech_task_queue("podnex", "openai") == "podnex-speech-openai"


def test_espeak_processes_default_to_one_a_core(monkeypatch: pytest.MonkeyPatch) -> None:
    from podnex.speech.espeak import EspeakEngine

    def built() -> EspeakEngine:
        engine = SPEECH_PROVIDERS["espeak"].create(Settings(_env_file=None))  # type: ignore[call-arg]
        assert isinstance(engine, EspeakEngine)
        return engine

    assert Settings(_env_file=None).espeak.processes == 0  # type: ignore[call-arg]
    assert built().processes == (os.cpu_count() or 1)
    monkeypatch.setenv("ESPEAK_PROCESSES", "1")
    assert built().processes == 1
    monkeypatch.setenv("ESPEAK_PROCESSES", "-1")
    with pytest.raises(ValidationError, match="processes"):
        Settings(_env_file=None)  # type: ignore[call-arg]


# -- retry hints and error classes ------------------------------------------------------------


def test_retry_after_prefers_milliseconds_then_seconds_then_a_date() -> None:
    assert retry_after_seconds({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert retry_after_seconds({"Retry-After": "7"}) == 7
    future = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 < (retry_after_seconds({"retry-after": future}) or 0) <= 31
    assert retry_after_seconds({"retry-after": "soon"}) is None
    assert retry_after_seconds({"retry-after": "-3"}) is None
    assert retry_after_seconds({}) is None


def status_error(
    status: int, body: object, headers: dict[str, str] | None = None, content: str = ""
) -> Exception:
    request = httpx2.Request("POST", "http://127.0.0.1/v1/audio/speech")
    response = httpx2.Response(status, headers=headers or {}, request=request, text=content)
    classes = {400: openai.BadRequestError, 429: openai.RateLimitError}
    cls = classes.get(status, openai.InternalServerError if status >= 500 else None)
    if cls is None:
        return openai.APIStatusError("failed", response=response, body=body)
    return cls("failed", response=response, body=body)


@pytest.mark.parametrize(
    ("status", "retryable"),
    [
        (400, False),
        (401, False),
        (403, False),
        (404, False),
        (408, True),
        (409, True),
        (422, False),
        (429, True),
        (500, True),
        (503, True),
    ],
)
def test_which_statuses_are_retried(status: int, retryable: bool) -> None:
    failure = describe_failure(status_error(status, {"message": "why"}), "speech synthesis")  # type: ignore[arg-type]
    assert failure.retryable is retryable
    assert failure.message == f"speech synthesis failed: provider answered HTTP {status}: why"


def test_a_rate_limit_keeps_its_retry_after() -> None:
    error = status_error(429, {"message": "slow down"}, {"retry-after": "12"})
    assert describe_failure(error, "x").retry_after == 12  # type: ignore[arg-type]
    refused = status_error(400, "plain text body", {"retry-after": "12"})
    failure = describe_failure(refused, "x")  # type: ignore[arg-type]
    assert failure.retry_after is None and failure.message.endswith("plain text body")


def test_connection_failures_are_retryable() -> None:
    request = httpx2.Request("POST", "http://127.0.0.1/v1/chat/completions")
    assert describe_failure(openai.APITimeoutError(request), "x").retryable
    assert describe_failure(openai.APIConnectionError(request=request), "x").retryable


TRACEBACK = """Internal error in the model runner
Traceback (most recent call last):
  File "/opt/srv/lib/python3.11/site-packages/runner/app.py", line 412, in complete
RuntimeError: boom"""


def test_a_failure_reason_is_one_readable_line_and_the_raw_body_is_logged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    capture = structlog.testing.LogCapture()
    # The module's own logger may be cached with another test's configuration: replace it.
    monkeypatch.setattr(openai_api, "log", structlog.wrap_logger(None, processors=[capture]))
    logs = capture.entries
    body = {"message": TRACEBACK}
    failure = describe_failure(status_error(500, body, content=TRACEBACK), "writing")  # type: ignore[arg-type]
    assert failure.reason == "provider answered HTTP 500: Internal error in the model runner"
    assert failure.message == f"writing failed: {failure.reason}"
    logged = [entry for entry in logs if entry["event"] == "provider error response"]
    assert logged and logged[0]["status"] == 500 and "Traceback" in logged[0]["body"]

    html = status_error(502, "<html><body><h1>502 Bad Gateway</h1></body></html>")
    assert describe_failure(html, "x").reason == "provider answered HTTP 502"  # type: ignore[arg-type]
    long = describe_failure(status_error(400, {"message": "why " * 200}), "x")  # type: ignore[arg-type]
    assert len(long.reason) < 260 and long.reason.endswith("\u2026")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain words", "plain words"),
        ("  first line\nsecond line", "first line"),
        ('error at File "/usr/lib/python3/x.py", line 3', "error at"),
        ("cannot open /srv/models/a.gguf:12 now", "cannot open <path> now"),
        (
            "see https://platform.openai.com/docs/errors",
            "see https://platform.openai.com/docs/errors",
        ),
        ("a  \t spaced   line", "a spaced line"),
    ],
)
def test_one_line_keeps_what_a_person_can_read(text: str, expected: str) -> None:
    assert one_line(text) == expected


# -- structured output negotiation ------------------------------------------------------------

SCHEMA = {"type": "object", "properties": {"lines": {"type": "array"}}}


def test_each_mode_asks_for_json_in_its_own_form() -> None:
    assert response_format("json_schema", SCHEMA, "s") == {
        "type": "json_schema",
        "json_schema": {"name": "s", "strict": True, "schema": SCHEMA},
    }
    assert response_format("json_object", SCHEMA, "s") == {"type": "json_object", "schema": SCHEMA}
    assert response_format("prompt", SCHEMA, "s") is None
    assert schema_instructions("json_schema", SCHEMA) == ""
    for mode in ("json_object", "prompt"):
        assert json.dumps(SCHEMA, separators=(",", ":")) in schema_instructions(mode, SCHEMA)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("status", "body", "content", "refusal"),
    [
        (500, {"message": "[{'loc': ('body', 'response_format', 'type')}]"}, "", True),
        (400, {"message": "Invalid parameter", "param": "response_format"}, "", True),
        (400, {"message": "Unsupported parameter", "code": "unsupported_parameter"}, "", True),
        (422, None, '{"detail": [{"loc": ["body", "response_format"]}]}', True),
        (400, {"message": "'json_schema' is not supported"}, "", True),
        (500, {"message": "The server had an error"}, "", False),
        (400, {"message": "This request violates our usage policy."}, "", False),
        (429, {"message": "response_format requests are rate limited"}, "", False),
        (401, {"message": "bad key for response_format"}, "", False),
    ],
)
def test_a_refusal_of_the_requests_form_is_recognised(
    status: int, body: object, content: str, refusal: bool
) -> None:
    assert is_format_refusal(status_error(status, body, content=content)) is refusal  # type: ignore[arg-type]


def test_auto_falls_back_once_and_remembers_and_a_pinned_mode_never_moves() -> None:
    auto = OutputNegotiation("auto")
    assert auto.mode == "json_schema" and not auto.pinned
    assert auto.refused("json_schema") == "json_object"
    assert auto.refused("json_schema") == "json_object", "a second refusal of the same mode"
    assert auto.mode == "json_object"
    assert auto.refused("json_object") == "prompt"
    assert auto.refused("prompt") is None and auto.mode == "prompt"
    pinned = OutputNegotiation("json_schema")
    assert pinned.pinned and pinned.refused("json_schema") is None
    assert pinned.mode == "json_schema"


@pytest.mark.parametrize(
    "content",
    [
        '{"lines": []}',
        '```json\n{"lines": []}\n```',
        'Here is the script:\n{"lines": []}\nEnjoy!',
        '  ```\n{"lines": []}```  ',
    ],
)
def test_the_json_of_a_reply_is_found_inside_fences_and_prose(content: str) -> None:
    assert json.loads(json_text(content)) == {"lines": []}


# -- splitting --------------------------------------------------------------------------------


def test_split_text_cuts_at_sentences_then_clauses_then_spaces() -> None:
    text = "One two three. Four five six! Seven, eight nine ten eleven."
    assert split_text(text, 100) == [text]
    assert split_text(text, 30) == [
        "One two three. Four five six!",
        "Seven, eight nine ten eleven.",
    ]
    assert split_text("alpha, beta gamma delta", 12) == ["alpha,", "beta gamma", "delta"]
    assert split_text("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]
    for size in (20, 50, 77):
        pieces = split_text(text * 5, size)
        assert all(len(piece) <= size for piece in pieces)
        assert " ".join(pieces).split() == (text * 5).split()


def test_split_chunks_gives_the_text_back_exactly() -> None:
    text = "".join(
        f"## Part {n}\n\nSentence one of {n}. Sentence two.\nA line.\n\n" for n in range(300)
    )
    chunks = split_chunks(text, 1000)
    assert "".join(chunks) == text
    assert all(len(chunk) <= 1000 for chunk in chunks)
    assert all(chunk.endswith("\n\n") for chunk in chunks[:-1]), "cut at paragraph breaks"
    assert split_chunks("short", 1000) == ["short"]
    assert "".join(split_chunks("y" * 2500, 1000)) == "y" * 2500


# -- parsing the model's reply ----------------------------------------------------------------


def reply(lines: list[dict[str, object]], title: str = "A title") -> str:
    return json.dumps({"title": title, "lines": lines})


def test_parse_script_cleans_what_a_voice_must_not_read() -> None:
    script = parse_script(
        reply(
            [
                {"speaker": "Host", "text": "**Welcome!** See https://example.com for more."},
                {"speaker": "guest", "text": "Thanks. `x = 1` is *fun*."},
            ]
        ),
        None,
    )
    assert script.title == "A title"
    assert [line.speaker for line in script.lines] == ["host", "guest"]
    assert "https" not in script.lines[0].text and "*" not in script.lines[0].text
    assert (
        parse_script(
            reply([{"speaker": "host", "text": "a"}, {"speaker": "guest", "text": "b"}]), "Mine"
        ).title
        == "Mine"
    )


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("not json", "not JSON"),
        (json.dumps({"title": "t"}), 'no "lines"'),
        (
            reply([{"speaker": "narrator", "text": "hi"}, {"speaker": "guest", "text": "b"}]),
            "speaker",
        ),
        (reply([{"speaker": "host", "text": "  "}, {"speaker": "guest", "text": "b"}]), "empty"),
        (
            reply(
                [
                    {"speaker": "host", "text": "https://example.com"},
                    {"speaker": "guest", "text": "b"},
                ]
            ),
            "empty",
        ),
        (
            reply([{"speaker": "host", "text": "a"}, {"speaker": "host", "text": "b"}]),
            "guest never speaks",
        ),
        (reply([{"speaker": "host", "text": "a"}]), "at least two"),
        (reply(["just text", "more"]), "not an object"),  # type: ignore[list-item]
    ],
)
def test_parse_script_rejects_malformed_replies(content: str, problem: str) -> None:
    with pytest.raises(MalformedScript, match=problem):
        parse_script(content, None)


def test_word_budget_is_twenty_percent_either_side() -> None:
    # TARGET_WORDS fills the offline writer's target minutes at 150 words a minute (#13).
    assert word_budget("SHORT") == (525, 787)
    assert word_budget("LONG") == (1655, 2483)


def test_a_non_ascii_download_signature_is_refused_not_an_error() -> None:
    expires = 2_000_000_000
    good = signing.sign(b"secret", "podcasts/a/audio.mp3", expires)
    assert signing.verify(b"secret", "podcasts/a/audio.mp3", expires, good, now=0)
    assert not signing.verify(b"secret", "podcasts/a/audio.mp3", expires, "\u00d5\u00f4x", now=0)


def test_the_espeak_declaration_speaks_at_its_measured_rate() -> None:
    from podnex.speech.espeak import ESPEAK_SPOKEN_WORDS_PER_MINUTE

    assert SPEECH_PROVIDERS["espeak"].words_per_minute == ESPEAK_SPOKEN_WORDS_PER_MINUTE


def test_unreal_speech_key_is_read_under_the_original_plans_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TTS_PROVIDERS", "espeak,unrealspeech")
    monkeypatch.setenv("UNREAL_SPEECH_API_KEY", "plan-name-key")
    settings = Settings()
    assert settings.unrealspeech.api_key is not None
    assert settings.unrealspeech.api_key.get_secret_value() == "plan-name-key"
    monkeypatch.setenv("UNREALSPEECH_API_KEY", "section-key")
    assert Settings().unrealspeech.api_key.get_secret_value() == "section-key"  # type: ignore[union-attr]


def test_lines_per_activity_follow_the_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """espeak-ng's lines go out in one large batch (it speaks them on every core); a cloud
    engine's one an activity, eight at a time (each slot takes the next line as soon as it
    is free), in two rounds. SPEECH_LINES_PER_ACTIVITY and SPEECH_CONCURRENCY set them for
    all; the rounds are the engine's own."""
    from api.temporal_client import PodcastRuns
    from podnex.models import Podcast
    from podnex.podcasts import spec_values
    from podnex.spec import PodcastSpec

    def podcast(provider: str) -> Podcast:
        spec = PodcastSpec(
            note_content="Notes about octopuses. " * 10,
            host_voice="host",
            guest_voice="guest",
            tts_provider=provider,
        )
        return Podcast(**spec_values(spec))

    monkeypatch.delenv("SPEECH_LINES_PER_ACTIVITY", raising=False)
    monkeypatch.delenv("SPEECH_CONCURRENCY", raising=False)
    runs = PodcastRuns(Settings(_env_file=None))  # type: ignore[call-arg]
    assert runs.lines_per_activity(podcast("espeak")) == 256
    assert runs.speech_concurrency(podcast("espeak")) == 1
    assert runs.speech_rounds(podcast("espeak")) == 1
    for cloud in ("openai", "elevenlabs"):
        assert runs.lines_per_activity(podcast(cloud)) == 1
        assert runs.speech_concurrency(podcast(cloud)) == 8
        assert runs.speech_rounds(podcast(cloud)) == 2
    monkeypatch.setenv("SPEECH_LINES_PER_ACTIVITY", "3")
    monkeypatch.setenv("SPEECH_CONCURRENCY", "5")
    runs = PodcastRuns(Settings(_env_file=None))  # type: ignore[call-arg]
    for provider in ("espeak", "openai"):
        assert runs.lines_per_activity(podcast(provider)) == 3
        assert runs.speech_concurrency(podcast(provider)) == 5
