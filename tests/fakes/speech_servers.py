"""Local ElevenLabs and Unreal Speech servers for tests, on loopback, in each provider's wire
format, with real speech (espeak-ng) and fault injection.

- `FakeElevenLabs`: ``POST /v1/text-to-speech/{voice_id}?output_format=...`` with the
  ``xi-api-key`` header and a JSON body (``text``, ``model_id``, ``previous_text``,
  ``next_text``, ``previous_request_ids``...), answered with audio in the asked format
  (``mp3_*`` as ``audio/mpeg``, ``pcm_<rate>`` as raw 16-bit little-endian PCM,
  ``wav_<rate>``) and a ``request-id`` header. Errors are ElevenLabs' JSON,
  ``{"detail": {"status": "<code>", "message": "<words>"}}``: 401 ``invalid_api_key``,
  404 ``voice_not_found``, 400 ``max_character_limit_exceeded`` and, over the account's
  concurrency (``concurrency``), 429 ``too_many_concurrent_requests``.
- `FakeUnrealSpeech`: ``POST /stream`` with ``Authorization: Bearer <key>`` and a JSON body
  (``Text`` up to 1,000 characters, ``VoiceId``, ``Bitrate``, ``Speed``, ``Pitch``,
  ``Codec``), answered with ``audio/mpeg``. Errors are JSON ``{"message": ...}``: 401, 400
  for an unknown voice or a text over the limit and, over the plan's rate
  (``requests_per_second``), 429.

Faults are queued (`fail`) and consumed one per request: ``429`` (with ``Retry-After``
unless ``retry_after`` is None, and ElevenLabs' ``code``), ``500``, ``refuse`` (``status``,
``code`` and ``message`` as given), ``empty``, ``silent`` and ``truncated`` audio.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

import imageio_ffmpeg

from podnex.speech.base import pcm_to_wav
from podnex.speech.elevenlabs_tts import ELEVENLABS_VOICES
from podnex.speech.espeak import EspeakEngine
from podnex.speech.unrealspeech_tts import UNREAL_VOICES

ELEVENLABS_KEY = "test-elevenlabs-key"
UNREALSPEECH_KEY = "test-unrealspeech-key"
ELEVENLABS_MAX_CHARS = 10_000
UNREAL_MAX_CHARS = 1_000

FaultKind = Literal["429", "500", "refuse", "empty", "silent", "truncated"]
Answer = tuple[int, dict[str, str], bytes]


@dataclass(frozen=True)
class Fault:
    kind: FaultKind
    retry_after: float | None = 1.0
    status: int = 400
    code: str = "system_busy"
    message: str = "The request was refused."


@dataclass
class Recorded:
    """One request the server answered: its voice, query, JSON body, status and fault."""

    voice: str
    query: dict[str, str]
    body: dict[str, Any]
    status: int
    fault: FaultKind | None = None
    started: float = 0.0


@dataclass
class _State:
    faults: deque[Fault] = field(default_factory=deque)
    recorded: list[Recorded] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    started: deque[float] = field(default_factory=deque)


class _FakeSpeechServer:
    """What both fakes share: the HTTP server, espeak, faults, records and the in-flight mark."""

    male_voices: frozenset[str] = frozenset()

    def __init__(self, *, speech_delay: float = 0.0) -> None:
        self.speech_delay = speech_delay
        self._state = _State()
        self._lock = threading.Lock()
        self._espeak = EspeakEngine()
        self._espeak_lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> _FakeSpeechServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    # -- test controls ------------------------------------------------------------------------

    def fail(self, kind: FaultKind, *, times: int = 1, **options: Any) -> None:
        with self._lock:
            self._state.faults.extend(Fault(kind, **options) for _ in range(times))

    def reset(self) -> None:
        with self._lock:
            self._state = _State()

    def requests(self) -> list[Recorded]:
        with self._lock:
            return list(self._state.recorded)

    @property
    def max_in_flight(self) -> int:
        with self._lock:
            return self._state.max_in_flight

    # -- serving ------------------------------------------------------------------------------

    def post(self, path: str, headers: Any, raw: bytes) -> Answer:
        raise NotImplementedError

    def _serve_speech(
        self,
        voice: str,
        query: dict[str, str],
        body: dict[str, Any],
        text: str,
        concurrency: int | None = None,
    ) -> tuple[Answer, Fault | None]:
        """Count the request in flight, apply a queued fault or speak ``text``; over
        ``concurrency`` requests at once, answer 429 ``too_many_concurrent_requests``."""
        with self._lock:
            if concurrency is not None and self._state.in_flight >= concurrency:
                busy = "You have too many concurrent requests."
                return self.error(429, "too_many_concurrent_requests", busy, {}), None
            fault = self._state.faults.popleft() if self._state.faults else None
            self._state.in_flight += 1
            self._state.max_in_flight = max(self._state.max_in_flight, self._state.in_flight)
        try:
            if fault is not None and fault.kind in ("429", "500", "refuse"):
                return self._fault_answer(fault), fault
            time.sleep(self.speech_delay)
            wav = self._speak(text, voice in self.male_voices)
        finally:
            with self._lock:
                self._state.in_flight -= 1
        if fault is not None and fault.kind == "empty":
            return (200, {"Content-Type": self.content_type(query)}, b""), fault
        if fault is not None and fault.kind == "silent":
            wav = pcm_to_wav(bytes(len(wav) - 44), 22_050)
        audio = self.encode(wav, query)
        if fault is not None and fault.kind == "truncated":
            audio = audio[: len(audio) // 10]
        return (200, {"Content-Type": self.content_type(query)}, audio), fault

    def _speak(self, text: str, male: bool) -> bytes:
        with self._espeak_lock:
            return asyncio.run(self._espeak.synthesize(text, "host" if male else "guest")).wav

    def record(self, entry: Recorded) -> None:
        with self._lock:
            self._state.recorded.append(entry)

    def error(self, status: int, code: str, message: str, headers: dict[str, str]) -> Answer:
        raise NotImplementedError

    def _fault_answer(self, fault: Fault) -> Answer:
        if fault.kind == "429":
            headers = {} if fault.retry_after is None else {"Retry-After": f"{fault.retry_after:g}"}
            return self.error(429, fault.code, fault.message, headers)
        if fault.kind == "500":
            return self.error(500, "internal_error", "An internal error occurred.", {})
        return self.error(fault.status, fault.code, fault.message, {})

    def content_type(self, query: dict[str, str]) -> str:
        return "audio/mpeg"

    def encode(self, wav: bytes, query: dict[str, str]) -> bytes:
        return _ffmpeg(wav, ["-f", "mp3"])


class FakeElevenLabs(_FakeSpeechServer):
    """ElevenLabs' text-to-speech route; at most ``concurrency`` requests at once (else 429
    ``too_many_concurrent_requests``, as the account's limit answers)."""

    male_voices = frozenset(
        v.engine_id for v in ELEVENLABS_VOICES if v.gender == "male" or v.gender is None
    )
    known_voices = frozenset(v.engine_id for v in ELEVENLABS_VOICES)

    def __init__(self, *, speech_delay: float = 0.0, concurrency: int = 2) -> None:
        super().__init__(speech_delay=speech_delay)
        self.concurrency = concurrency

    def __enter__(self) -> FakeElevenLabs:
        super().__enter__()
        return self

    def post(self, path: str, headers: Any, raw: bytes) -> Answer:
        parts = urlsplit(path)
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        found = re.fullmatch(r"/v1/text-to-speech/([^/]+)", parts.path)
        if found is None:
            return self.error(404, "not_found", f"Not Found: {parts.path}", {})
        if headers.get("xi-api-key") != ELEVENLABS_KEY:
            return self.error(401, "invalid_api_key", "Invalid API key", {})
        body = json.loads(raw or b"{}")
        voice = found.group(1)
        text = str(body.get("text", ""))
        if voice not in self.known_voices:
            answer = self.error(
                404,
                "voice_not_found",
                f"A voice with the voice_id {voice} was not found.",
                {},
            )
            self.record(Recorded(voice, query, body, answer[0]))
            return answer
        if len(text) > ELEVENLABS_MAX_CHARS:
            answer = self.error(
                400,
                "max_character_limit_exceeded",
                f"This request's text has {len(text)} characters and exceeds the character "
                f"limit of {ELEVENLABS_MAX_CHARS} characters.",
                {},
            )
            self.record(Recorded(voice, query, body, answer[0]))
            return answer
        started = time.monotonic()
        (status, out_headers, payload), fault = self._serve_speech(
            voice, query, body, text, self.concurrency
        )
        if status == 200:
            out_headers = {**out_headers, "request-id": uuid.uuid4().hex}
        self.record(
            Recorded(voice, query, body, status, fault.kind if fault else None, started=started)
        )
        return status, out_headers, payload

    def error(self, status: int, code: str, message: str, headers: dict[str, str]) -> Answer:
        payload = {"detail": {"status": code, "message": message}}
        return (
            status,
            {"Content-Type": "application/json", **headers},
            json.dumps(payload).encode(),
        )

    def content_type(self, query: dict[str, str]) -> str:
        fmt = query.get("output_format", "mp3_44100_128")
        if fmt.startswith("mp3"):
            return "audio/mpeg"
        return "audio/wav" if fmt.startswith("wav") else "audio/pcm"

    def encode(self, wav: bytes, query: dict[str, str]) -> bytes:
        fmt = query.get("output_format", "mp3_44100_128")
        codec, _, rest = fmt.partition("_")
        rate = rest.split("_")[0]
        if codec == "mp3":
            return _ffmpeg(wav, ["-ar", rate, "-f", "mp3"])
        if codec == "pcm":
            return _ffmpeg(wav, ["-ar", rate, "-f", "s16le"])
        return _ffmpeg(wav, ["-ar", rate, "-f", "wav"])


class FakeUnrealSpeech(_FakeSpeechServer):
    """Unreal Speech's ``/stream``; more than ``requests_per_second`` requests within a
    second are answered 429 (without Retry-After, unless a queued fault gives one)."""

    male_voices = frozenset(v.engine_id for v in UNREAL_VOICES if v.gender == "male")
    known_voices = frozenset(v.engine_id for v in UNREAL_VOICES)

    def __init__(self, *, speech_delay: float = 0.0, requests_per_second: int = 2) -> None:
        super().__init__(speech_delay=speech_delay)
        self.requests_per_second = requests_per_second

    def __enter__(self) -> FakeUnrealSpeech:
        super().__enter__()
        return self

    def post(self, path: str, headers: Any, raw: bytes) -> Answer:
        if urlsplit(path).path != "/stream":
            return self.error(404, "", "Not Found", {})
        if headers.get("Authorization") != f"Bearer {UNREALSPEECH_KEY}":
            return self.error(401, "", "Unauthorized: invalid API key", {})
        body = json.loads(raw or b"{}")
        voice = str(body.get("VoiceId", ""))
        text = str(body.get("Text", ""))
        now = time.monotonic()
        with self._lock:
            window = self._state.started
            while window and now - window[0] >= 1.0:
                window.popleft()
            over_rate = len(window) >= self.requests_per_second
            if not over_rate:
                window.append(now)
        if over_rate:
            self.record(Recorded(voice, {}, body, 429, started=now))
            return self.error(429, "", "Too many requests: rate limit exceeded", {})
        problem = None
        if voice not in self.known_voices:
            problem = f"Invalid VoiceId: {voice}"
        elif len(text) > UNREAL_MAX_CHARS:
            problem = f"Text too long: {len(text)} characters (max {UNREAL_MAX_CHARS})"
        if problem is not None:
            self.record(Recorded(voice, {}, body, 400, started=now))
            return self.error(400, "", problem, {})
        (status, out_headers, payload), fault = self._serve_speech(voice, {}, body, text)
        self.record(Recorded(voice, {}, body, status, fault.kind if fault else None, started=now))
        return status, out_headers, payload

    def error(self, status: int, code: str, message: str, headers: dict[str, str]) -> Answer:
        return (
            status,
            {"Content-Type": "application/json", **headers},
            json.dumps({"message": message}).encode(),
        )


def _ffmpeg(wav: bytes, output: list[str]) -> bytes:
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
            "-ac",
            "1",
            *output,
            "pipe:1",
        ],
        input=wav,
        capture_output=True,
        check=True,
    ).stdout


def _handler_for(fake: _FakeSpeechServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            status, headers, body = fake.post(self.path, self.headers, raw)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            """Stay quiet: tests read the recorded requests instead."""

    return Handler
