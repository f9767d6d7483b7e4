"""A second `make dev` while one runs says which ports are taken and exits non-zero,
before starting anything (issue #19)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from podnex.embedded import free_port
from podnex.settings import PROJECT_ROOT


def test_make_dev_refuses_to_start_when_its_ports_are_taken(tmp_path: Path) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        env = {
            **os.environ,
            "PORT": str(port),
            "VAR_DIR": str(tmp_path / "var"),
            # nothing reachable: were the check missing, start-up would fail on these instead
            "DATABASE_URL": f"postgresql+psycopg://postgres:x@127.0.0.1:{free_port()}/podnex",
            "TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
        }
        done = subprocess.run(
            [sys.executable, "-m", "podnex.devstack"],
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    said = done.stdout + done.stderr
    assert done.returncode != 0, said
    assert f"{port}" in said and "already in use" in said, said
    assert "Migrations applied" not in said and "podnex is running" not in said, said
