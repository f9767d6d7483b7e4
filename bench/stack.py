"""The real services a benchmark runs against, and what it reads of their processes.

Embedded PostgreSQL (pgserver), the Temporal dev server with its state in a file and the
WAL pragmas (`podnex.embedded.start_temporal_dev_server`), the API under uvicorn and the
worker, each in its own process, as `make dev` runs them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from podnex.embedded import (
    TemporalDevServer,
    embedded_postgres_url,
    free_port,
    start_embedded_postgres,
    start_temporal_dev_server,
)

ROOT = Path(__file__).resolve().parent.parent
TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass
class Stack:
    work: Path
    database_url: str
    temporal: TemporalDevServer
    postgres: Any
    env: dict[str, str]
    api: subprocess.Popen[bytes] | None = None
    api_url: str = ""
    worker: subprocess.Popen[bytes] | None = None
    worker_engine: str = ""
    logs: list[Path] = field(default_factory=list)

    @property
    def postgres_pid(self) -> int:
        return int((self.work / "pgdata" / "postmaster.pid").read_text().split()[0])

    def start_api(self) -> None:
        port = free_port()
        log = self.work / "api.log"
        self.api = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "api.app:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        self.api_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.api.poll() is not None:
                raise RuntimeError(f"the API exited; see {log}")
            try:
                if httpx.get(f"{self.api_url}/api/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError("the API did not answer /api/health")

    def start_worker(self, engine: str) -> None:
        """(Re)start the worker process with speech engine ``engine``; wait until it polls."""
        self.stop_worker()
        ready = self.work / f"worker-{uuid.uuid4().hex[:6]}.ready"
        log = self.work / "worker.log"
        self.worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.worker_main",
                "--engine",
                engine,
                "--ready-file",
                str(ready),
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        self.worker_engine = engine
        deadline = time.monotonic() + 60
        while not ready.exists():
            if self.worker.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the worker did not start; see {log}")
            time.sleep(0.05)

    def stop_worker(self) -> None:
        if self.worker is not None and self.worker.poll() is None:
            self.worker.terminate()
            try:
                self.worker.wait(30)
            except subprocess.TimeoutExpired:
                self.worker.kill()
                self.worker.wait()
        self.worker = None

    def stop(self) -> None:
        self.stop_worker()
        if self.api is not None and self.api.poll() is None:
            self.api.terminate()
            self.api.wait(30)
        self.temporal.stop()
        self.postgres.cleanup_mode = "stop"
        self.postgres._cleanup()


@contextmanager
def running_stack(work: Path, *, speech_concurrency: int) -> Iterator[Stack]:
    """Postgres, Temporal and the API, with their state under ``work``."""
    from podnex.migrate import upgrade_to_head

    work.mkdir(parents=True, exist_ok=True)
    postgres = start_embedded_postgres(work / "pgdata")
    database_url = embedded_postgres_url(postgres)
    import asyncio

    asyncio.run(upgrade_to_head(database_url))
    temporal = start_temporal_dev_server(
        port=free_port(),
        ui_port=None,
        db_file=work / "temporal.db",
        log_file=work / "temporal.log",
    )
    env = {
        **os.environ,
        "ENVIRONMENT": "test",
        "DATABASE_URL": database_url,
        "TEMPORAL_ADDRESS": temporal.address,
        "TEMPORAL_TASK_QUEUE": "podnex-bench",
        "VAR_DIR": str(work / "var"),
        "STORAGE_DIR": str(work / "var" / "storage"),
        "SECRET_KEY": "bench-secret-key",
        "SPEECH_CONCURRENCY": str(speech_concurrency),
        # The load test measures the server, not the per-key limiter (600 a minute).
        "RATE_LIMIT_PER_MINUTE": "0",
        "PYTHONPATH": str(ROOT),
    }
    stack = Stack(
        work=work, database_url=database_url, temporal=temporal, postgres=postgres, env=env
    )
    try:
        stack.start_api()
        yield stack
    finally:
        stack.stop()


# -- processes ------------------------------------------------------------------------------


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def descendants(pid: int) -> list[int]:
    found: list[int] = []
    todo = [pid]
    while todo:
        current = todo.pop()
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                children = (task / "children").read_text().split()
            except OSError:
                continue
            for child in children:
                found.append(int(child))
                todo.append(int(child))
    return found


def cpu_seconds(pid: int) -> float:
    """CPU time of ``pid`` and every descendant, live or already reaped."""
    total = 0.0
    fields = _stat(pid)
    if fields is None:
        return 0.0
    # utime stime cutime cstime are fields 14..17 (1-based) of /proc/<pid>/stat.
    total += sum(int(value) for value in fields[11:15]) / TICKS
    for child in descendants(pid):
        child_fields = _stat(child)
        if child_fields is not None:
            total += sum(int(value) for value in child_fields[11:13]) / TICKS
    return total


def rss_bytes(pid: int) -> int:
    fields = _stat(pid)
    return int(fields[21]) * PAGE if fields else 0


def peak_rss_bytes(pid: int) -> int:
    """VmHWM: the highest resident set ``pid`` has had."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class RssSampler:
    """Polls the resident memory of a process and of its children (ffmpeg) every 20 ms."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_self = 0
        self.peak_children = 0
        self.peak_total = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            own = rss_bytes(self.pid)
            children = sum(rss_bytes(child) for child in descendants(self.pid))
            self.peak_self = max(self.peak_self, own)
            self.peak_children = max(self.peak_children, children)
            self.peak_total = max(self.peak_total, own + children)
            time.sleep(0.02)
