"""The real services a benchmark runs against, and what it reads of their processes.

Embedded PostgreSQL (pgserver), the Temporal dev server with its state in a file and the
WAL pragmas (`podnex.embedded.start_temporal_dev_server`), the API under uvicorn and the
worker, each in its own process, as `make dev` runs them.
"""

from __future__ import annotations

import os
import shutil
import socket
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
    speech_concurrency: int = 8
    """The cloud-like engines' speech activities at once (the bench's --speech-concurrency)."""
    api_cloud: bool = False
    """Whether the API gives podcasts a cloud engine's speech settings (`start_worker`)."""
    worker: subprocess.Popen[bytes] | None = None
    more_workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    """Worker processes beside ``worker`` (`start_worker`'s ``processes``)."""
    worker_engine: str = ""
    logs: list[Path] = field(default_factory=list)

    @property
    def postgres_pid(self) -> int:
        return int((self.work / "pgdata" / "postmaster.pid").read_text().split()[0])

    def start_api(self) -> None:
        port = free_port()
        log = self.work / "api.log"
        env = dict(self.env)
        if self.api_cloud:
            env["SPEECH_LINES_PER_ACTIVITY"] = "1"
            env["SPEECH_CONCURRENCY"] = str(self.speech_concurrency)
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
            env=env,
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

    def start_worker(self, engine: str, processes: int = 1) -> None:
        """(Re)start the worker with speech engine ``engine`` in ``processes`` processes on
        the same task queues (as a deployment runs one a core); wait until each polls.
        Each process's espeak-ng speaks on every core.

        The cloud-like engines stand in for a cloud provider under the ``espeak`` name, so
        the API is (re)started to give their podcasts a cloud provider's one line an
        activity, ``speech_concurrency`` at once (`SpeechProvider.lines_per_activity`,
        `activities_at_once`); the others get espeak-ng's."""
        self.stop_worker()
        cloud = engine.startswith("cloud")
        if cloud != self.api_cloud:
            self.api_cloud = cloud
            self.stop_api()
            self.start_api()
        log = self.work / "worker.log"
        # Each process keeps espeak-ng's default, one speaking process a core: a podcast's
        # lines go to one worker process, which then speaks them on every core.
        env = self.env
        started: list[tuple[subprocess.Popen[bytes], Path]] = []
        for _ in range(processes):
            ready = self.work / f"worker-{uuid.uuid4().hex[:6]}.ready"
            process = subprocess.Popen(
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
                env=env,
                stdout=log.open("ab"),
                stderr=subprocess.STDOUT,
            )
            started.append((process, ready))
        self.worker = started[0][0]
        self.more_workers = [process for process, _ in started[1:]]
        self.worker_engine = engine
        deadline = time.monotonic() + 60
        for process, ready in started:
            while not ready.exists():
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the worker did not start; see {log}")
                time.sleep(0.05)

    @property
    def worker_pids(self) -> list[int]:
        """Every worker process's pid."""
        return [process.pid for process in (self.worker, *self.more_workers) if process]

    def stop_worker(self) -> None:
        for process in (self.worker, *self.more_workers):
            if process is not None and process.poll() is None:
                process.terminate()
        for process in (self.worker, *self.more_workers):
            if process is None:
                continue
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.worker = None
        self.more_workers = []

    def stop_api(self) -> None:
        if self.api is not None and self.api.poll() is None:
            self.api.terminate()
            self.api.wait(30)
        self.api = None

    def stop(self) -> None:
        self.stop_worker()
        self.stop_api()
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
        **{name: value for name, value in os.environ.items() if name != "SPEECH_CONCURRENCY"},
        "ENVIRONMENT": "test",
        "DATABASE_URL": database_url,
        "TEMPORAL_ADDRESS": temporal.address,
        "TEMPORAL_TASK_QUEUE": "podnex-bench",
        "VAR_DIR": str(work / "var"),
        "STORAGE_DIR": str(work / "var" / "storage"),
        "SECRET_KEY": "bench-secret-key",
        # The load test measures the server, not the limiters (600 a minute a key, 1200 an
        # address: every benchmark request comes from 127.0.0.1).
        "RATE_LIMIT_PER_MINUTE": "0",
        "RATE_LIMIT_PER_ADDRESS_PER_MINUTE": "0",
        "PYTHONPATH": str(ROOT),
    }
    stack = Stack(
        work=work,
        database_url=database_url,
        temporal=temporal,
        postgres=postgres,
        env=env,
        speech_concurrency=speech_concurrency,
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
    # utime stime cutime cstime are fields 14..17 (1-based) of /proc/<pid>/stat. Each
    # live descendant's own reaped children too: a Celery pool process's ffmpeg.
    total += sum(int(value) for value in fields[11:15]) / TICKS
    for child in descendants(pid):
        child_fields = _stat(child)
        if child_fields is not None:
            total += sum(int(value) for value in child_fields[11:15]) / TICKS
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


# -- the Celery + Redis baseline (issue #20) -------------------------------------------------


def redis_server() -> tuple[str | None, str]:
    """The redis-server binary, installing Debian's package when it is missing.

    Returns (path, "") or (None, why not): the baseline is then skipped with that reason.
    """
    found = shutil.which("redis-server")
    if found:
        return found, ""
    apt = shutil.which("apt-get")
    if apt is None:
        return None, "redis-server is not installed and there is no apt-get to install it"
    command = [apt, "install", "-y", "-q", "redis-server"]
    if os.geteuid() != 0:
        if shutil.which("sudo") is None:
            return None, "redis-server is not installed and apt-get needs root (no sudo)"
        command = ["sudo", "-n", *command]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:  # perhaps no package lists yet: fetch them, then once more
        update = [*command[: command.index("install")], "update", "-q"]
        subprocess.run(update, capture_output=True, text=True, check=False, env=env)
        done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    found = shutil.which("redis-server")
    if found:
        return found, ""
    tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
    return (
        None,
        f"redis-server is not installed and `apt-get install redis-server` failed: {tail[0]}",
    )


CELERY_MAIN_CONCURRENCY = 4
"""Pool processes of the Celery worker for every step but the lines: podnex mixes at most
max(2, cores) combines at once (`podnex.audio._COMBINE_THREADS`), so 2 would match it on
2 cores; 2 more keep the short database steps from queueing behind two combines."""


@dataclass
class CeleryStack:
    """redis-server and the two Celery workers of `bench.celery_pipeline`."""

    work: Path
    redis: subprocess.Popen[bytes]
    broker: str
    env: dict[str, str]
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def pids(self) -> dict[str, int]:
        found = {"redis": self.redis.pid}
        for name, process in zip(("celery main", "celery speech"), self.workers, strict=False):
            found[name] = process.pid
        return found

    def start_workers(self, speech_concurrency: int) -> None:
        from bench.celery_pipeline import MAIN_QUEUE, SPEECH_QUEUE

        ready = self.work / "celery-ready"
        ready.mkdir(parents=True, exist_ok=True)
        env = {**self.env, "PODNEX_CELERY_READY_DIR": str(ready)}
        log = self.work / "celery.log"
        for name, queue, concurrency in (
            ("main", MAIN_QUEUE, CELERY_MAIN_CONCURRENCY),
            ("speech", SPEECH_QUEUE, speech_concurrency),
        ):
            self.workers.append(
                subprocess.Popen(
                    [
                        *(sys.executable, "-m", "celery", "-A", "bench.celery_pipeline"),
                        *("worker", "-Q", queue, "-n", f"{name}@bench"),
                        *("--pool", "prefork", "--concurrency", str(concurrency)),
                        # Events, gossip and mingle serve monitoring and other workers:
                        # the pipeline uses none of them.
                        *("--without-gossip", "--without-mingle", "--without-heartbeat"),
                        *("--loglevel", "WARNING"),
                    ],
                    cwd=ROOT,
                    env=env,
                    stdout=log.open("ab"),
                    stderr=subprocess.STDOUT,
                )
            )
        deadline = time.monotonic() + 90
        while len(list(ready.glob("*.ready"))) < len(self.workers):
            if time.monotonic() > deadline or any(w.poll() is not None for w in self.workers):
                raise RuntimeError(f"the Celery workers did not start; see {log}")
            time.sleep(0.1)

    def stop(self) -> None:
        for process in [*self.workers, self.redis]:
            if process.poll() is None:
                process.terminate()
        for process in [*self.workers, self.redis]:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextmanager
def running_celery(
    work: Path, redis_path: str, *, database_url: str, engine: str, speech_concurrency: int
) -> Iterator[CeleryStack]:
    """redis-server on a free loopback port without persistence, and the Celery workers."""
    port = free_port()
    work.mkdir(parents=True, exist_ok=True)
    redis = subprocess.Popen(
        [
            *(redis_path, "--port", str(port), "--bind", "127.0.0.1"),
            *("--save", "", "--appendonly", "no", "--dir", str(work)),
        ],
        stdout=(work / "redis.log").open("ab"),
        stderr=subprocess.STDOUT,
    )
    broker = f"redis://127.0.0.1:{port}/0"
    env = {
        **os.environ,
        "PODNEX_CELERY_BROKER": broker,
        "PODNEX_CELERY_DATABASE": database_url.replace("postgresql+psycopg://", "postgresql://"),
        "PODNEX_CELERY_STORAGE": str(work / "storage"),
        "PODNEX_CELERY_ENGINE": engine,
        "PYTHONPATH": str(ROOT),
    }
    stack = CeleryStack(work=work, redis=redis, broker=broker, env=env)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if redis.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start; see {work / 'redis.log'}")
            time.sleep(0.05)
        stack.start_workers(speech_concurrency)
        yield stack
    finally:
        stack.stop()
