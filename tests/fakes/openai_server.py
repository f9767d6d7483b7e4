"""A small OpenAI-compatible server for tests, on loopback, with fault injection.

It speaks the two routes podnex uses, in OpenAI's wire format, so the real ``openai``
client drives it:

- ``POST /v1/chat/completions``: asked for a script (a ``podcast_script`` JSON schema, JSON
  mode with the schema, or a prompt asking for "between N and M words") it writes a
  host/guest dialogue from the sentences between ``<notes>`` tags in the prompt, sized to
  the middle of the word range the system prompt asks for ("between N and M words"),
  choosing sentences evenly from beginning to end when they do not all fit and repeating
  them when they are too few. Without a schema it condenses the notes to the "at most N
  words" the prompt asks for, again with sentences taken evenly from the whole chunk. So
  what the script covers is exactly what the writer sent. A script asked for in the prompt
  comes in a Markdown JSON fence, as small models often write it.
- ``POST /v1/audio/speech``: real speech from espeak-ng (a male voice for onyx, echo,
  ash, fable, ballad, verse and cedar; a female one for the others) as WAV, or MP3 through
  the bundled ffmpeg; unknown voices and input over 4,096 characters are refused with
  400, as OpenAI does.

Faults are queued per route (`FakeOpenAI.fail`) and consumed one per request: ``429``
(with Retry-After and retry-after-ms), ``500``, ``400`` (a refusal with a message),
``malformed`` (truncated JSON), ``undershoot`` (a script at 40% of the asked length),
``empty`` (200 with no audio), ``truncated`` (the first tenth of the audio) and
``silent`` (well-formed silence) and ``crash`` (a 500 whose plain-text body is a
Python traceback with file paths, as some servers send).

`FakeOpenAI.refuse_formats` makes the server refuse forms of ``response_format`` until
reset: ``json_schema`` the way llama.cpp's Python server does (HTTP 500 with a request
validation error naming the field), ``json_object`` the way OpenAI refuses a parameter a
model does not support (HTTP 400, code ``unsupported_parameter``).
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

import imageio_ffmpeg

from podnex.script.notes import parse_document
from podnex.speech.base import pcm_to_wav
from podnex.speech.espeak import EspeakEngine

API_KEY = "test-openai-key"
MAX_SPEECH_INPUT = 4096
OPENAI_VOICES = frozenset(
    {"alloy", "ash", "ballad", "cedar", "coral", "echo", "fable", "marin", "nova", "onyx"}
    | {"sage", "shimmer", "verse"}
)
MALE_VOICES = frozenset({"onyx", "echo", "ash", "fable", "ballad", "verse", "cedar"})

Route = Literal["chat", "speech"]
FaultKind = Literal[
    "429", "500", "400", "malformed", "undershoot", "empty", "truncated", "silent", "crash"
]
ResponseFormatType = Literal["json_schema", "json_object"]

_NOTES = re.compile(r"<notes>\n?(.*?)\n?</notes>", re.DOTALL)
_RANGE = re.compile(r"between (\d+) and (\d+) words")
_AT_MOST = re.compile(r"at most (\d+) words")


@dataclass(frozen=True)
class Fault:
    """One injected failure: what the next matching request gets instead of a success."""

    kind: FaultKind
    retry_after: float = 1.0
    message: str = "Your request was rejected as a result of our safety system."


@dataclass
class Recorded:
    """One request the server answered: its route, JSON body and status."""

    route: Route
    body: dict[str, Any]
    status: int
    fault: FaultKind | None = None


@dataclass
class _State:
    faults: dict[Route, deque[Fault]] = field(
        default_factory=lambda: {"chat": deque(), "speech": deque()}
    )
    recorded: list[Recorded] = field(default_factory=list)
    refused_formats: frozenset[str] = frozenset()
    speech_in_flight: int = 0
    max_speech_in_flight: int = 0


class FakeOpenAI:
    """The fake server: ``with FakeOpenAI() as fake:`` serves on ``fake.base_url``."""

    def __init__(self, *, speech_delay: float = 0.0) -> None:
        self.speech_delay = speech_delay
        self._state = _State()
        self._lock = threading.Lock()
        self._espeak = EspeakEngine()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        """The ``OPENAI_BASE_URL`` of this server."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    # -- test controls ------------------------------------------------------------------------

    def fail(self, route: Route, kind: FaultKind, *, times: int = 1, **options: Any) -> None:
        """Make the next ``times`` requests on ``route`` fail with ``kind``."""
        with self._lock:
            self._state.faults[route].extend(Fault(kind, **options) for _ in range(times))

    def refuse_formats(self, *kinds: ResponseFormatType) -> None:
        """Refuse chat requests whose ``response_format`` is of one of ``kinds`` (until reset)."""
        with self._lock:
            self._state.refused_formats = frozenset(kinds)

    def reset(self) -> None:
        """Forget queued faults, refused formats, recorded requests and the in-flight mark."""
        with self._lock:
            self._state = _State()

    def requests(self, route: Route | None = None) -> list[Recorded]:
        """The requests answered so far (on ``route`` only, when given)."""
        with self._lock:
            return [r for r in self._state.recorded if route is None or r.route == route]

    @property
    def max_speech_in_flight(self) -> int:
        """The most speech requests that were being served at the same time."""
        with self._lock:
            return self._state.max_speech_in_flight

    # -- serving ------------------------------------------------------------------------------

    def _next_fault(self, route: Route) -> Fault | None:
        with self._lock:
            queue = self._state.faults[route]
            return queue.popleft() if queue else None

    def _record(self, entry: Recorded) -> None:
        with self._lock:
            self._state.recorded.append(entry)

    def handle(self, route: Route, body: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        """Answer one request: (status, headers, body bytes).

        A refused form is answered before any queued fault is consumed: servers validate
        a request before they process it.
        """
        refusal = self._refusal(body) if route == "chat" else None
        if refusal is not None:
            self._record(Recorded(route, body, refusal[0]))
            return refusal
        fault = self._next_fault(route)
        status, headers, payload = self._answer(route, body, fault)
        self._record(Recorded(route, body, status, fault.kind if fault else None))
        return status, headers, payload

    def _refusal(self, body: dict[str, Any]) -> tuple[int, dict[str, str], bytes] | None:
        kind = (body.get("response_format") or {}).get("type")
        with self._lock:
            if kind not in self._state.refused_formats:
                return None
        if kind == "json_schema":
            return _llama_cpp_validation_error()
        return _error(
            400,
            f"Unsupported value: 'response_format.type' does not support '{kind}' with this model.",
            "unsupported_value",
            param="response_format",
        )

    def _answer(
        self, route: Route, body: dict[str, Any], fault: Fault | None
    ) -> tuple[int, dict[str, str], bytes]:
        if fault is not None and fault.kind == "429":
            return _error(
                429,
                "Rate limit reached for requests",
                "rate_limit_exceeded",
                {
                    "Retry-After": f"{fault.retry_after:g}",
                    "retry-after-ms": str(int(fault.retry_after * 1000)),
                },
            )
        if fault is not None and fault.kind == "500":
            return _error(500, "The server had an error while processing your request.", None)
        if fault is not None and fault.kind == "400":
            return _error(400, fault.message, "content_policy_violation")
        if fault is not None and fault.kind == "crash":
            return 500, {"Content-Type": "text/plain"}, _TRACEBACK.encode()
        if route == "chat":
            return self._chat(body, fault)
        return self._speech(body, fault)

    def _chat(self, body: dict[str, Any], fault: Fault | None) -> tuple[int, dict[str, str], bytes]:
        messages = body.get("messages") or []
        system = next((m["content"] for m in messages if m.get("role") == "system"), "")
        first_user = next((m["content"] for m in messages if m.get("role") == "user"), "")
        found = _NOTES.search(first_user)
        notes = found.group(1) if found else first_user
        response_format = body.get("response_format") or {}
        asked = _RANGE.search(system)
        if response_format.get("type") == "json_schema":
            writing = (response_format.get("json_schema") or {}).get("name") == "podcast_script"
        elif response_format.get("type") == "json_object":
            writing = "lines" in (response_format.get("schema") or {}).get("properties", {})
        else:
            writing = asked is not None
        if writing:
            if fault is not None and fault.kind == "malformed":
                content = '{"title": "Broken", "lines": [{"speaker": "host", "text": "Hel'
            else:
                low, high = (int(asked.group(1)), int(asked.group(2))) if asked else (600, 900)
                target = (low + high) // 2
                if fault is not None and fault.kind == "undershoot":
                    target = target * 2 // 5
                content = json.dumps(write_dialogue(notes, target))
            if not response_format:
                content = f"```json\n{content}\n```"
        else:
            limit = _AT_MOST.search(system)
            content = condense(notes, int(limit.group(1)) if limit else 200)
        reply = {
            "id": f"chatcmpl-{time.monotonic_ns()}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "fake"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": None},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }
        return 200, {"Content-Type": "application/json"}, json.dumps(reply).encode()

    def _speech(
        self, body: dict[str, Any], fault: Fault | None
    ) -> tuple[int, dict[str, str], bytes]:
        text = str(body.get("input", ""))
        voice = body.get("voice")
        if voice not in OPENAI_VOICES:
            return _error(400, f"Invalid voice {voice!r}.", "invalid_value", param="voice")
        if len(text) > MAX_SPEECH_INPUT:
            return _error(
                400,
                f"string too long. Expected a string with maximum length {MAX_SPEECH_INPUT}, "
                f"but got a string with length {len(text)} instead.",
                "string_above_max_length",
                param="input",
            )
        with self._lock:
            self._state.speech_in_flight += 1
            self._state.max_speech_in_flight = max(
                self._state.max_speech_in_flight, self._state.speech_in_flight
            )
        try:
            time.sleep(self.speech_delay)
            spoken = asyncio.run(
                self._espeak.synthesize(text, "host" if voice in MALE_VOICES else "guest")
            )
        finally:
            with self._lock:
                self._state.speech_in_flight -= 1
        wav = spoken.wav
        if fault is not None and fault.kind == "empty":
            wav = b""
        elif fault is not None and fault.kind == "silent":
            wav = pcm_to_wav(bytes(len(wav) - 44), spoken.sample_rate)
        fmt = body.get("response_format", "mp3")
        audio = _to_mp3(wav) if fmt == "mp3" and wav else wav
        if fault is not None and fault.kind == "truncated":
            audio = audio[: len(audio) // 10]
        content_type = "audio/mpeg" if fmt == "mp3" else "audio/wav"
        return 200, {"Content-Type": content_type}, audio


def _error(
    status: int,
    message: str,
    code: str | None,
    headers: dict[str, str] | None = None,
    *,
    param: str | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """An error response in OpenAI's format."""
    kind = "invalid_request_error" if status < 500 else "server_error"
    payload = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return (
        status,
        {"Content-Type": "application/json", **(headers or {})},
        json.dumps(payload).encode(),
    )


_TRACEBACK = """Traceback (most recent call last):
  File "/opt/server/lib/python3.11/site-packages/server/app.py", line 412, in complete
    return self.model.generate(request)
  File "/opt/server/lib/python3.11/site-packages/server/model.py", line 88, in generate
    raise RuntimeError("CUDA error: out of memory")
RuntimeError: CUDA error: out of memory
"""


def _llama_cpp_validation_error() -> tuple[int, dict[str, str], bytes]:
    """What llama-cpp-python's server (0.3) answers a ``json_schema`` response_format: a 500
    whose message is the validation error and a line of its own code."""
    message = (
        "1 validation error:\n  {'type': 'literal_error', 'loc': ('body', 'response_format', "
        "'type'), 'msg': \"Input should be 'text' or 'json_object'\", 'input': 'json_schema', "
        "'ctx': {'expected': \"'text' or 'json_object'\"}}\n\n  File \"/srv/venv/lib/"
        'python3.11/site-packages/llama_cpp/server/app.py", line 376, in '
        "create_chat_completion\n    POST /v1/chat/completions"
    )
    payload = {
        "error": {
            "message": message,
            "type": "internal_server_error",
            "param": None,
            "code": None,
        }
    }
    return 500, {"Content-Type": "application/json"}, json.dumps(payload).encode()


def _to_mp3(wav: bytes) -> bytes:
    """Encode a WAV file as MP3 with the bundled ffmpeg."""
    return subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-hide_banner",
            "-loglevel",
            "error",
            "-f",
            "wav",
            "-i",
            "pipe:0",
            "-f",
            "mp3",
            "pipe:1",
        ],
        input=wav,
        capture_output=True,
        check=True,
    ).stdout


def _handler_for(fake: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to ``fake``."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            routes: dict[str, Route] = {
                "/v1/chat/completions": "chat",
                "/v1/audio/speech": "speech",
            }
            route = routes.get(self.path.split("?")[0])
            if route is None:
                self._send(*_error(404, f"Unknown path {self.path}", None))
            elif self.headers.get("Authorization") != f"Bearer {API_KEY}":
                self._send(*_error(401, "Incorrect API key provided.", "invalid_api_key"))
            else:
                self._send(*fake.handle(route, json.loads(raw or b"{}")))

        def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            """Stay quiet: tests read the recorded requests instead."""

    return Handler


# ------------------------------------------------------------------------------ the "model"


def _sentences(notes: str) -> list[str]:
    return [s for section in parse_document(notes).sections for s in section.sentences]


def _words(text: str) -> int:
    return len(text.split())


def _evenly(items: list[str], count: int) -> list[str]:
    """``count`` items spread evenly from the first to the last, in order."""
    if count >= len(items):
        return list(items)
    if count <= 1:
        return items[:1]
    return [items[round(i * (len(items) - 1) / (count - 1))] for i in range(count)]


def condense(notes: str, max_words: int) -> str:
    """Sentences taken evenly from the whole of ``notes``, at most ``max_words`` words."""
    sentences = _sentences(notes)
    count = len(sentences)
    while count > 1 and sum(_words(s) for s in _evenly(sentences, count)) > max_words:
        count -= 1
    return " ".join(_evenly(sentences, count))


def write_dialogue(notes: str, target_words: int) -> dict[str, Any]:
    """A host/guest dialogue of about ``target_words`` words built from the notes' sentences.

    The notes' sentences are read out in order, two to a turn, speakers alternating; when
    there are more than fit, an even selection from beginning to end is used; when there
    are too few, they are gone through again ("To come back to that: ...").
    """
    parsed = parse_document(notes)
    sentences = _sentences(notes)
    topic = parsed.first_heading or "these notes"
    opening = [
        ("host", f"Welcome to the show. Today we are talking about {topic}."),
        ("guest", "Thanks for having me. There is a lot to cover, so let's get into it."),
    ]
    closing = [
        ("host", "That is all we have time for today. Thank you for listening."),
        ("guest", "Thank you for having me. It was a pleasure."),
    ]
    budget = target_words - sum(_words(text) for _, text in opening + closing)
    available = sum(_words(s) for s in sentences)
    if available > budget:
        count = len(sentences)
        while count > 1 and sum(_words(s) for s in _evenly(sentences, count)) > budget:
            count -= 1
        body = _evenly(sentences, count)
    else:
        body = []
        rounds = 0
        while sum(_words(s) for s in body) < budget and sentences:
            for sentence in sentences:
                if sum(_words(s) for s in body) >= budget:
                    break
                body.append(f"To come back to that: {sentence}" if rounds else sentence)
            rounds += 1
    turns = [" ".join(body[i : i + 2]) for i in range(0, len(body), 2)]
    lines = [
        *({"speaker": speaker, "text": text} for speaker, text in opening),
        *(
            {"speaker": "guest" if index % 2 == 0 else "host", "text": text}
            for index, text in enumerate(turns)
        ),
        *({"speaker": speaker, "text": text} for speaker, text in closing),
    ]
    return {"title": topic, "lines": lines}
