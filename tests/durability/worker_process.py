"""`python -m tests.durability.worker_process`: the real worker, with faults on cue.

It builds the worker's real dependencies (`worker.build_deps`) from the same environment
as `python worker.py`, wraps the speech engines and the storage, and serves with
`worker.run` until SIGINT or SIGTERM. Faults come from these environment variables:

| variable | effect |
| --- | --- |
| `DURABILITY_LABEL` | name written on each event (default: the process id) |
| `DURABILITY_EVENTS` | JSON-lines file every speech call and segment write is appended to |
| `DURABILITY_DELAY` | seconds each speech call waits before synthesising (default 0) |
| `DURABILITY_DELAY_AFTER` | the delay starts after this many quick calls (default 0) |
| `DURABILITY_FAULT_RATE` | share of speech calls failing with a retryable error (default 0) |
| `DURABILITY_FAULT_SEED` | seed of those faults: a line's attempt always meets the same fate |
| `DURABILITY_FAIL_AFTER` | speech calls after this many fail with a permanent error |
| `DURABILITY_STALL_FROM_LINE` | lines of this index or later hang, heartbeating, once stored |

Several processes may append to one events file: each event is one `write` of one line
to a file opened with `O_APPEND`, so lines never interleave.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporalio import activity

import worker
from podnex.logging import configure_logging
from podnex.settings import get_settings
from podnex.speech.base import SpeechAudio, SpeechEngine, SpeechError
from podnex.storage import Storage, StoredObject
from podnex.storage.keys import segment_key

PERMANENT_ERROR = "voice model rejected the text"
TRANSIENT_ERROR = "speech service overloaded (injected)"
SEGMENTS = "segments/"
"""Segment keys start with this (`podnex.storage.keys.segment_prefix`)."""


@dataclass(frozen=True)
class Faults:
    """What goes wrong in this process, read from the environment."""

    delay: float = 0.0
    delay_after: int = 0
    fault_rate: float = 0.0
    fault_seed: int = 0
    fail_after: int | None = None
    stall_from_line: int | None = None
    lines_at_once: int = 1

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Faults:
        def optional_int(name: str) -> int | None:
            value = env.get(name, "")
            return int(value) if value else None

        return cls(
            delay=float(env.get("DURABILITY_DELAY", "0")),
            delay_after=int(env.get("DURABILITY_DELAY_AFTER", "0")),
            fault_rate=float(env.get("DURABILITY_FAULT_RATE", "0")),
            fault_seed=int(env.get("DURABILITY_FAULT_SEED", "0")),
            fail_after=optional_int("DURABILITY_FAIL_AFTER"),
            stall_from_line=optional_int("DURABILITY_STALL_FROM_LINE"),
            lines_at_once=int(env.get("DURABILITY_LINES_AT_ONCE", "1")),
        )

    def transient(self, voice: str, text: str, attempt: int) -> bool:
        """Whether this attempt at this line fails with a retryable error.

        Seeded by the line's voice and text (not the podcast), so a seed gives the same
        faults on every run of the same script.
        """
        if self.fault_rate <= 0:
            return False
        fate = random.Random(f"{self.fault_seed}:{voice}:{text}:{attempt}")
        return fate.random() < self.fault_rate

    def delay_of(self, call_number: int) -> float:
        """Seconds the ``call_number``-th call (from 1) waits before synthesising."""
        return self.delay if call_number > self.delay_after else 0.0

    def permanent(self, call_number: int) -> bool:
        return self.fail_after is not None and call_number > self.fail_after

    def stalls(self, line: int) -> bool:
        return self.stall_from_line is not None and line >= self.stall_from_line


class EventLog:
    """Appends one JSON object a line to a file shared by every worker of a test."""

    def __init__(self, path: Path | None, label: str) -> None:
        self.label = label
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644) if path else None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> EventLog:
        path = env.get("DURABILITY_EVENTS")
        return cls(Path(path) if path else None, env.get("DURABILITY_LABEL", str(os.getpid())))

    def write(self, event: str, **fields: Any) -> None:
        if self._fd is None:
            return
        record = {"worker": self.label, "pid": os.getpid(), "event": event, "time": time.time()}
        os.write(self._fd, (json.dumps({**record, **fields}) + "\n").encode())


def activity_fields(key: str) -> dict[str, Any]:
    """What identifies this speech attempt in the event log."""
    info = activity.info()
    return {"key": key, "attempt": info.attempt, "workflow_id": info.workflow_id}


class FaultyEngine:
    """A real speech engine behind injected delays and failures; every call is logged."""

    def __init__(self, inner: SpeechEngine, faults: Faults, events: EventLog) -> None:
        self.inner = inner
        self.name = inner.name
        # One line of a batch at a time unless a test asks for more (as espeak-ng speaks
        # a batch on every core), so the tests know which lines are in flight.
        self.lines_at_once = faults.lines_at_once
        self.faults = faults
        self.events = events
        self.calls = 0

    def voices(self) -> Mapping[str, str]:
        return self.inner.voices()

    def _key(self, text: str, voice: str) -> str:
        podcast_id = (activity.info().workflow_id or "").removeprefix("podcast-")
        return segment_key(podcast_id, self.name, voice, text)

    async def synthesize(self, text: str, voice: str) -> SpeechAudio:
        self.calls += 1
        fields = activity_fields(self._key(text, voice))
        self.events.write("call", **fields)
        try:
            audio = await self._speak(text, voice, self.calls, fields)
        except asyncio.CancelledError:
            self.events.write("cancelled", **fields)
            raise
        self.events.write("done", **fields)
        return audio

    async def _speak(
        self, text: str, voice: str, call_number: int, fields: dict[str, Any]
    ) -> SpeechAudio:
        if self.faults.permanent(call_number):
            self.events.write("refused", **fields)
            raise SpeechError(PERMANENT_ERROR, retryable=False)
        if self.faults.transient(voice, text, fields["attempt"]):
            self.events.write("fault", **fields)
            raise SpeechError(TRANSIENT_ERROR, retryable=True)
        await asyncio.sleep(self.faults.delay_of(call_number))
        return await self.inner.synthesize(text, voice)


async def hang_forever() -> None:
    """Hang like a stuck process; the activity's own heartbeat loop goes on beating (with
    its checkpoint), so that only a kill ends the attempt."""
    await asyncio.Event().wait()


class RecordingStorage:
    """The real storage; segment writes and cache hits are logged, chosen lines stall."""

    def __init__(self, inner: Storage, faults: Faults, events: EventLog) -> None:
        self.inner = inner
        self.name = inner.name
        self.faults = faults
        self.events = events

    async def put(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str,
        metadata: Mapping[str, str] | None = None,
    ) -> StoredObject:
        stored = await self.inner.put(key, data, content_type=content_type, metadata=metadata)
        line = (metadata or {}).get("line")
        if key.startswith(SEGMENTS) and line is not None:
            self.events.write("stored", line=int(line), **activity_fields(key))
            if self.faults.stalls(int(line)):
                self.events.write("stalled", line=int(line), **activity_fields(key))
                await hang_forever()
        return stored

    async def exists(self, key: str) -> bool:
        found = await self.inner.exists(key)
        if found and key.startswith(SEGMENTS):
            self.events.write("hit", **activity_fields(key))
        return found

    async def get(self, key: str) -> bytes:
        return await self.inner.get(key)

    async def stat(self, key: str) -> StoredObject:
        return await self.inner.stat(key)

    async def delete(self, key: str) -> None:
        await self.inner.delete(key)

    async def delete_prefix(self, prefix: str) -> int:
        return await self.inner.delete_prefix(prefix)


def main() -> None:
    """Serve like `python worker.py`, with this process's faults, until SIGINT/SIGTERM."""
    settings = get_settings()
    configure_logging(settings)
    faults = Faults.from_env(os.environ)
    events = EventLog.from_env(os.environ)
    deps = worker.build_deps(settings)
    deps.engines = {
        name: FaultyEngine(engine, faults, events) for name, engine in deps.engines.items()
    }
    deps.storage = RecordingStorage(deps.storage, faults, events)
    events.write("started")
    asyncio.run(worker.run(settings, deps))
    events.write("stopped")
    # temporalio can abort the interpreter at exit (sdk-python issue 300): leave at once.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
