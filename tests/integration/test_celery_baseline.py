"""The Celery + Redis baseline of `make bench` (issue #20) makes a real podcast.

`bench.celery_pipeline` on real Redis, real Celery prefork workers and the test Postgres:
the sample notes become a valid two-voice MP3, mirrored into the baseline's status row the
way podnex mirrors a run. Skipped where redis-server (Debian's package) or celery (the
`bench` extra) is not installed.
"""

from __future__ import annotations

import shutil
import time
import uuid
from pathlib import Path

import psycopg
import pytest

from podnex.audio import mp3_duration_seconds
from podnex.storage.keys import audio_key, work_prefix
from tests.audio_analysis import decode_mp3
from tests.integration.notes import NOTES

pytest.importorskip("celery", reason="celery is not installed: it comes with the bench extra")
pytestmark = pytest.mark.skipif(
    shutil.which("redis-server") is None,
    reason="redis-server is not installed (Debian package redis-server): the Celery "
    "baseline of make bench needs it",
)


def test_celery_pipeline_makes_a_valid_mp3(database_url: str, tmp_path: Path) -> None:
    from bench import celery_pipeline
    from bench.stack import running_celery

    redis = shutil.which("redis-server")
    assert redis is not None
    conninfo = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with (
        running_celery(
            tmp_path, redis, database_url=database_url, engine="espeak", speech_concurrency=4
        ) as celery,
        psycopg.connect(conninfo, autocommit=True) as conn,
    ):
        celery_pipeline.use_broker(celery.broker)
        celery_pipeline.create_schema(conn)
        podcast_id = celery_pipeline.submit(conn, NOTES, "SHORT", owner="test")

        deadline = time.monotonic() + 180
        row = None
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT status, progress, current_step, lines_total, script, audio_key, "
                "audio_duration, audio_size_bytes, transcript, completed_at "
                "FROM celery_podcasts WHERE id = %s",
                (uuid.UUID(podcast_id),),
            ).fetchone()
            assert row is not None
            if row[0] in ("COMPLETED", "FAILED"):
                break
            time.sleep(0.2)
        assert row is not None and row[0] == "COMPLETED", row
        _, progress, step, lines_total, script, key, duration, size, transcript, done = row
        assert (progress, step) == (100, "Completed")
        assert done is not None
        assert key == audio_key(podcast_id)
        assert lines_total == len(script["lines"]) == len(transcript) > 10
        assert {line["speaker"] for line in script["lines"]} == {"host", "guest"}

        mp3 = (tmp_path / "storage" / key).read_bytes()
        assert len(mp3) == size
        assert mp3_duration_seconds(mp3) == pytest.approx(duration, abs=0.05)
        assert duration > 30
        samples, rate = decode_mp3(mp3)
        assert len(samples) / rate == pytest.approx(duration, abs=0.2)
        assert float(abs(samples).max()) > 0.05  # speech, not silence
        # The run's lines were cleaned up after the upload, as podnex's upload does.
        assert not (tmp_path / "storage" / work_prefix(podcast_id)).exists()
        usage = conn.execute("SELECT podcasts, seconds FROM celery_usage WHERE owner = 'test'")
        assert usage.fetchone() == (1, pytest.approx(duration))

        # The trivial 3-step pipeline of the tasks-a-second measure.
        assert celery_pipeline.trivial_chain().get(timeout=30) == 3
