"""A harness of real processes that tests kill and restart: Temporal, Postgres, workers, API.

Every process runs in its own session (process group), so ``kill`` reaches its children
too, and writes its output to a log file whose tail is shown when a wait times out.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
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
    temporal_cli_path,
)
from podnex.settings import PROJECT_ROOT

WORKER_MODULE = "tests.durability.worker_process"


def log_tail(path: Path, lines: int = 40) -> str:
    """The last lines of a log file, for failure messages."""
    if not path.exists():
        return f"({path} is missing)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def wait_for(
    predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.05
) -> float:
    """Poll ``predicate`` until it holds; the seconds it took. TimeoutError names ``what``."""
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"{what}: not within {timeout:.0f}s")
        time.sleep(interval)
    return time.monotonic() - started


@dataclass
class Process:
    """A child process in its own process group, logging to ``log_path``."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def running(self) -> bool:
        return self.popen.poll() is None

    def send(self, sig: signal.Signals) -> None:
        """Send ``sig`` to the whole process group (no-op once it has exited)."""
        if self.running:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, sig)

    def wait(self, timeout: float) -> int:
        return self.popen.wait(timeout)

    def kill(self) -> int:
        """SIGKILL the group and reap it: no clean-up code of the child runs."""
        self.send(signal.SIGKILL)
        return self.popen.wait(10)

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, then SIGKILL after ``timeout`` seconds."""
        self.send(signal.SIGTERM)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return self.kill()

    def tail(self) -> str:
        return f"--- {self.name} ({self.log_path}) ---\n{log_tail(self.log_path)}"


def spawn(name: str, args: list[str], env: Mapping[str, str], log_path: Path) -> Process:
    """Start ``args`` in the project root, in a new session, output to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as output:
        popen = subprocess.Popen(
            args,
            cwd=PROJECT_ROOT,
            env=dict(env),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Process(name=name, popen=popen, log_path=log_path)


# -- Temporal -------------------------------------------------------------------------------


class RestartableTemporal:
    """A Temporal dev server on a fixed port with its state in a file: stop, start again."""

    def __init__(self, state_file: Path, log_file: Path) -> None:
        self.state_file = state_file
        self.log_file = log_file
        self.port = free_port()
        self.server: TemporalDevServer | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        self.server = start_temporal_dev_server(
            port=self.port, ui_port=None, db_file=self.state_file, log_file=self.log_file
        )

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def cli(self, *args: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
        """Run ``temporal <args> --address <this server>``, as an operator would."""
        return subprocess.run(
            [temporal_cli_path(), *args, "--address", self.address],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "TEMPORAL_CLI_SHOW_SPINNERS": "false"},
        )


# -- Postgres -------------------------------------------------------------------------------


class RestartablePostgres:
    """An embedded pgserver (Unix socket in its data folder) that can be stopped and started."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.server: Any = start_embedded_postgres(base / "pgdata")

    def url(self, database: str = "postgres") -> str:
        return embedded_postgres_url(self.server, database)

    def stop(self) -> None:
        """Shut down at once (`pg_ctl stop -m fast`): open sessions are cut."""
        from pgserver._commands import pg_ctl  # type: ignore[attr-defined]

        pg_ctl(
            ["-w", "-m", "fast", "stop"],
            pgdata=self.server.pgdata,
            user=self.server.system_user,
            timeout=30,
        )

    def start(self) -> None:
        """Start the same data folder again, on the same socket."""
        self.server.ensure_postgres_running()

    def destroy(self) -> None:
        self.server.cleanup_mode = "delete"
        self.server._cleanup()
        shutil.rmtree(self.base, ignore_errors=True)


# -- workers and API ------------------------------------------------------------------------


@dataclass
class Harness:
    """One test's processes: workers and API processes on the test's own task queue."""

    env: dict[str, str]
    """Settings shared by every process of the test (DATABASE_URL, TEMPORAL_*, storage)."""
    directory: Path
    processes: list[Process] = field(default_factory=list)

    @property
    def events_path(self) -> Path:
        return self.directory / "events.jsonl"

    @property
    def storage_dir(self) -> Path:
        return Path(self.env["STORAGE_DIR"])

    def start_worker(
        self,
        label: str,
        settings: Mapping[str, str] | None = None,
        **faults: float | int | None,
    ) -> Process:
        """A worker process (`tests.durability.worker_process`) with these faults.

        ``settings`` are podnex settings (environment variables) for this worker only.
        ``faults`` are the DURABILITY_* settings in lower case without the prefix:
        delay, delay_after, fault_rate, fault_seed, fail_after, stall_from_line,
        lines_at_once.
        """
        env = {
            **self.env,
            **(settings or {}),
            "DURABILITY_LABEL": label,
            "DURABILITY_EVENTS": str(self.events_path),
        }
        for name, value in faults.items():
            if value is not None:
                env[f"DURABILITY_{name.upper()}"] = str(value)
        process = spawn(
            f"worker {label}",
            [sys.executable, "-m", WORKER_MODULE],
            env,
            self.directory / f"worker-{label}.log",
        )
        self.processes.append(process)
        return process

    def start_api(self, port: int, label: str) -> Process:
        """`uvicorn api.app:app` on ``port``, answering /api/health before this returns."""
        process = spawn(
            f"api {label}",
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
            self.env,
            self.directory / f"api-{label}.log",
        )
        self.processes.append(process)
        try:
            wait_for(lambda: api_healthy(port, process), 60, f"API {label} on :{port}", 0.2)
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}\n{process.tail()}") from exc
        return process

    def tails(self) -> str:
        """Every process's log tail, for a failure message."""
        return "\n".join(process.tail() for process in self.processes)

    def close(self) -> None:
        """Kill every process this test started (their whole groups)."""
        for process in self.processes:
            if process.running:
                process.kill()


def api_healthy(port: int, process: Process) -> bool:
    if not process.running:
        raise RuntimeError(f"the API exited with {process.popen.returncode}\n{process.tail()}")
    try:
        return httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
