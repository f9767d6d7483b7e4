"""The Celery + Redis baseline of issue #20: podnex's pipeline as a careful Celery user
would build it, on podnex's own domain code.

    celery -A bench.celery_pipeline worker -Q podnex-celery -c 4 -P prefork
    celery -A bench.celery_pipeline worker -Q podnex-celery-speech -c 8 -P prefork

Settings (environment, read at import so the worker processes get them):

- ``PODNEX_CELERY_BROKER``: the Redis URL, broker and result backend (loopback).
- ``PODNEX_CELERY_DATABASE``: a libpq conninfo of the Postgres that podnex itself uses.
- ``PODNEX_CELERY_STORAGE``: the local storage folder (`podnex.storage.local.LocalStorage`).
- ``PODNEX_CELERY_ENGINE``: the speech engine, a name of `bench.engines.ENGINES`.
- ``PODNEX_CELERY_READY_DIR``: where each worker writes a file once it consumes.

The settings a careful user runs a pipeline of paid, minutes-long work with: late
acknowledgement (``task_acks_late``) and ``task_reject_on_worker_lost``, so a task whose
worker process dies is delivered again instead of lost; a prefetch of one
(``worker_prefetch_multiplier``), so a busy process holds no queued task back from an idle
one; JSON only; a Redis visibility timeout longer than any task (an unacknowledged task is
redelivered after it); results stored only where a later step reads them (the lines, for
the chord) and for the no-op chains the benchmark waits on.

The steps are podnex's (`workflows.podcast.PodcastWorkflow`), one task each except the
status mirror, which each task writes itself as its first statement (a separate task per
status write would only add round trips a Celery user would not build):

1. ``check_limits``: one SELECT of the owner's usage and one UPDATE of the podcast's row
   to "Admitted", in one transaction (podnex: reserve the plan's share and mirror).
2. ``write_script``: mirrors "Writing the script", writes the script with
   `podnex.script.offline.OfflineScriptWriter` at the espeak engine's speaking rate, keeps
   it in the row, mirrors "Synthesising speech", then replaces itself with the chord.
3. ``synthesize_line``, one task per line on the speech queue: `podnex.speakable`, the
   content key `podnex.storage.keys.segment_key` (a line already stored is not spoken
   again, as podnex's speech cache does), the engine, the WAV into local storage.
4. ``combine`` (the chord's body): mirrors "Combining audio", then
   `podnex.audio.combine_stored_lines` with `podnex.pacing.pauses`, as
   `activities/audio.py` does; the MP3 to the staging key.
5. ``upload``: mirrors "Uploading audio", copies the MP3 to its final key and deletes the
   run's work files (`activities/storage.py`).
6. ``record_usage``: mirrors "Recording usage", adds the seconds to the owner's usage, and
   mirrors COMPLETED with the audio's key, length, size and transcript.

That is 8 writes of the podcast's row (the admitted state, 6 status mirrors, the script)
and 2 usage statements, as podnex's run made when this baseline was written (its 7
`update_podcast_status` activities, the mirror in `check_limits`, `save_script`, the
reservation and the charge); 3 + lines tasks where podnex ran 10 + lines activities.
podnex's run now writes the row 5 times (the admitted state, the script with the speech's
start, the upload's start, COMPLETED with the charge) in 6 activities besides its speech
batches; the baseline keeps its 8 writes, a few milliseconds of Postgres a podcast.

Each worker process keeps one Postgres connection and one asyncio event loop (podnex's
storage, engines and combine are async) for its lifetime.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path
from typing import Any

import psycopg
from celery import Celery, chord, signals
from psycopg.types.json import Jsonb

from podnex import pacing
from podnex.audio import combine_stored_lines
from podnex.providers import SPEECH_PROVIDERS
from podnex.script.offline import OfflineScriptWriter
from podnex.speakable import speakable
from podnex.storage.keys import audio_key, segment_key, staging_key, work_prefix
from podnex.storage.local import LocalStorage
from podnex.vocabulary import PodcastDuration

MAIN_QUEUE = "podnex-celery"
SPEECH_QUEUE = "podnex-celery-speech"
VOICES = {"host": "host", "guest": "guest"}
"""The API's default voices (`api.schemas`: hostVoice "host", guestVoice "guest")."""
PODCAST_LIMIT = 1_000_000
"""The owner's podcasts a period: high enough that the check always admits (BUSINESS)."""

BROKER = os.environ.get("PODNEX_CELERY_BROKER", "redis://127.0.0.1:6379/0")

app = Celery("podnex_celery_baseline", broker=BROKER, backend=BROKER)
app.conf.update(
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    task_default_queue=MAIN_QUEUE,
    task_routes={"bench_celery.synthesize_line": {"queue": SPEECH_QUEUE}},
    # Redis redelivers an unacknowledged task after this: longer than any task.
    broker_transport_options={"visibility_timeout": 3600},
    result_backend_transport_options={"visibility_timeout": 3600},
    result_expires=3600,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS celery_podcasts (
    id uuid PRIMARY KEY,
    owner text NOT NULL,
    status text NOT NULL DEFAULT 'QUEUED',
    progress integer NOT NULL DEFAULT 0,
    current_step text NOT NULL DEFAULT 'Queued',
    lines_total integer,
    script jsonb,
    audio_key text,
    audio_duration double precision,
    audio_size_bytes bigint,
    transcript jsonb,
    error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz
);
CREATE TABLE IF NOT EXISTS celery_usage (
    owner text PRIMARY KEY,
    podcasts integer NOT NULL DEFAULT 0,
    seconds double precision NOT NULL DEFAULT 0
);
"""


# -- per worker process ------------------------------------------------------------------


class _Process:
    """What one worker process keeps: its connection, event loop, storage and engine."""

    def __init__(self) -> None:
        self._conn: psycopg.Connection[Any] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._storage: LocalStorage | None = None
        self._engine: Any = None

    def reset(self) -> None:
        """After a fork: nothing of the parent's is reused."""
        self.__init__()  # type: ignore[misc]

    @property
    def conn(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(os.environ["PODNEX_CELERY_DATABASE"], autocommit=True)
        return self._conn

    def run(self, coro: Any) -> Any:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        return self._loop.run_until_complete(coro)

    @property
    def storage(self) -> LocalStorage:
        if self._storage is None:
            self._storage = LocalStorage(Path(os.environ["PODNEX_CELERY_STORAGE"]))
        return self._storage

    @property
    def engine(self) -> Any:
        if self._engine is None:
            from bench.engines import ENGINES
            from podnex.speech.espeak import EspeakEngine

            name = os.environ.get("PODNEX_CELERY_ENGINE", "espeak")
            # Celery's prefork pool is this baseline's parallelism: each of its processes
            # speaks in itself, one line at a time.
            self._engine = EspeakEngine(processes=1) if name == "espeak" else ENGINES[name]()
        return self._engine


PROCESS = _Process()


@signals.worker_process_init.connect
def _forked(**_: Any) -> None:
    PROCESS.reset()


@signals.worker_ready.connect
def _ready(sender: Any = None, **_: Any) -> None:
    folder = os.environ.get("PODNEX_CELERY_READY_DIR")
    if folder:
        name = getattr(sender, "hostname", None) or str(os.getpid())
        (Path(folder) / f"{name}.ready").write_text(str(os.getpid()))


def mirror(podcast_id: str, status: str, progress: int, step: str, **fields: Any) -> None:
    """Write the run's state into its row, as podnex's `update_podcast_status` does."""
    columns = ["status = %s", "progress = %s", "current_step = %s", "updated_at = now()"]
    values: list[Any] = [status, progress, step]
    for name, value in fields.items():
        if name == "completed_at":
            columns.append("completed_at = now()")
            continue
        columns.append(f"{name} = %s")
        values.append(Jsonb(value) if isinstance(value, list | dict) else value)
    PROCESS.conn.execute(
        f"UPDATE celery_podcasts SET {', '.join(columns)} WHERE id = %s",
        (*values, uuid.UUID(podcast_id)),
    )


# -- the pipeline -----------------------------------------------------------------------------


@app.task(name="bench_celery.check_limits", ignore_result=True)
def check_limits(podcast_id: str, owner: str) -> bool:
    conn = PROCESS.conn
    with conn.transaction():
        row = conn.execute(
            "SELECT podcasts FROM celery_usage WHERE owner = %s FOR UPDATE", (owner,)
        ).fetchone()
        admitted = (row[0] if row else 0) < PODCAST_LIMIT
        if admitted:
            mirror(podcast_id, "PROCESSING", 5, "Admitted")
        else:
            mirror(podcast_id, "FAILED", 0, "Refused: subscription limit reached")
    return admitted


@app.task(name="bench_celery.write_script", bind=True, ignore_result=True)
def write_script(self: Any, admitted: bool, podcast_id: str, notes: str, duration: str) -> None:
    if not admitted:
        return
    mirror(podcast_id, "PROCESSING", 10, "Writing the script")
    rate = SPEECH_PROVIDERS["espeak"].words_per_minute
    script = OfflineScriptWriter().write(
        notes, PodcastDuration(duration), None, words_per_minute=rate
    )
    PROCESS.conn.execute(
        "UPDATE celery_podcasts SET script = %s, updated_at = now() WHERE id = %s",
        (Jsonb(script.model_dump(mode="json")), uuid.UUID(podcast_id)),
    )
    lines = [(line.speaker, line.text) for line in script.lines]
    mirror(podcast_id, "PROCESSING", 20, "Synthesising speech", lines_total=len(lines))
    header = [
        synthesize_line.s(podcast_id, index, speaker, text, VOICES[speaker])
        for index, (speaker, text) in enumerate(lines)
    ]
    paced = [
        [speaker, text, pause]
        for (speaker, text), pause in zip(lines, pacing.pauses(script.lines), strict=True)
    ]
    raise self.replace(
        chord(header, combine.s(podcast_id, paced)) | upload.s(podcast_id) | record_usage.s()
    )


@app.task(name="bench_celery.synthesize_line")
def synthesize_line(podcast_id: str, index: int, speaker: str, text: str, voice: str) -> str:
    engine, storage = PROCESS.engine, PROCESS.storage
    spoken = speakable(text, None)
    key = segment_key(podcast_id, engine.name, voice, spoken)

    async def speak() -> None:
        if await storage.exists(key):
            return
        audio = await engine.synthesize(spoken, voice)
        await storage.put(
            key,
            audio.wav,
            content_type="audio/wav",
            metadata={"podcast-id": podcast_id, "line": str(index)},
        )

    PROCESS.run(speak())
    return key


@app.task(name="bench_celery.combine", ignore_result=True)
def combine(keys: list[str], podcast_id: str, paced: list[list[Any]]) -> dict[str, Any]:
    mirror(podcast_id, "PROCESSING", 80, "Combining audio")
    storage = PROCESS.storage

    async def mix() -> dict[str, Any]:
        combined = await combine_stored_lines(
            [(speaker, key, pause) for key, (speaker, _, pause) in zip(keys, paced, strict=True)],
            storage.get,
        )
        key = staging_key(podcast_id)
        await storage.put(key, combined.mp3, content_type="audio/mpeg")
        transcript = [
            {**timing.model_dump(mode="json"), "text": text}
            for timing, (_, text, _) in zip(combined.timings, paced, strict=True)
        ]
        return {
            "staging_key": key,
            "duration_seconds": combined.duration_seconds,
            "transcript": transcript,
        }

    return dict(PROCESS.run(mix()))


@app.task(name="bench_celery.upload", ignore_result=True)
def upload(combined: dict[str, Any], podcast_id: str) -> dict[str, Any]:
    mirror(podcast_id, "PROCESSING", 90, "Uploading audio")
    storage = PROCESS.storage
    final = audio_key(podcast_id)

    async def publish() -> int:
        data = await storage.get(combined["staging_key"])
        stored = await storage.put(
            final,
            data,
            content_type="audio/mpeg",
            metadata={
                "podcast-id": podcast_id,
                "duration-seconds": f"{combined['duration_seconds']:.3f}",
            },
        )
        await storage.delete_prefix(work_prefix(podcast_id))
        return stored.size

    size = PROCESS.run(publish())
    return {**combined, "podcast_id": podcast_id, "audio_key": final, "size_bytes": size}


@app.task(name="bench_celery.record_usage", ignore_result=True)
def record_usage(published: dict[str, Any]) -> None:
    podcast_id = published["podcast_id"]
    mirror(podcast_id, "PROCESSING", 95, "Recording usage")
    conn = PROCESS.conn
    with conn.transaction():
        conn.execute(
            "INSERT INTO celery_usage AS u (owner, podcasts, seconds) "
            "SELECT owner, 1, %s FROM celery_podcasts WHERE id = %s "
            "ON CONFLICT (owner) DO UPDATE SET podcasts = u.podcasts + 1, "
            "seconds = u.seconds + EXCLUDED.seconds",
            (published["duration_seconds"], uuid.UUID(podcast_id)),
        )
    mirror(
        podcast_id,
        "COMPLETED",
        100,
        "Completed",
        audio_key=published["audio_key"],
        audio_duration=published["duration_seconds"],
        audio_size_bytes=published["size_bytes"],
        transcript=published["transcript"],
        completed_at=True,
    )


@app.task(name="bench_celery.noop")
def noop(index: int = 0) -> int:
    """The trivial pipeline's step: a chain of three of these is one pipeline."""
    return index + 1


# -- the client side --------------------------------------------------------------------------


def use_broker(url: str) -> None:
    """Point this (client) process at ``url``; call it before sending anything."""
    app.conf.broker_url = url
    app.conf.result_backend = url


def create_schema(conn: psycopg.Connection[Any]) -> None:
    conn.execute(SCHEMA)


def submit(conn: psycopg.Connection[Any], notes: str, duration: str, owner: str) -> str:
    """Record a podcast (as the API's POST does) and send its pipeline; return its id."""
    podcast_id = str(uuid.uuid4())
    conn.execute(
        "INSERT INTO celery_podcasts (id, owner) VALUES (%s, %s)", (uuid.UUID(podcast_id), owner)
    )
    (check_limits.si(podcast_id, owner) | write_script.s(podcast_id, notes, duration)).apply_async()
    return podcast_id


def trivial_chain() -> Any:
    """One trivial 3-step pipeline, sent; its AsyncResult answers 3."""
    return (noop.s(0) | noop.s() | noop.s()).apply_async()
