"""Bad configuration stops the real entry points at start: a non-zero exit status and a
short message naming the variable, no traceback, no secret echoed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from podnex.embedded import free_port
from podnex.settings import PROJECT_ROOT, SETTING_VARIABLES

PYTHON = sys.executable


def clean_environment(**variables: str) -> dict[str, str]:
    """This process's environment without any podnex setting, plus `variables`."""
    settings = set(SETTING_VARIABLES)
    env = {key: value for key, value in os.environ.items() if key.upper() not in settings}
    env.update(variables)
    return env


def start(command: list[str], env: dict[str, str], timeout: float = 60) -> tuple[int, str]:
    done = subprocess.run(
        command,
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr


ENTRY_POINTS = {
    "worker": [PYTHON, "worker.py"],
    "api": [PYTHON, "-m", "uvicorn", "api.app:app", "--port", "0"],
    "migrations": [str(Path(PYTHON).with_name("podnex")), "migrate"],
}


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"DATABASE_POOL_SIZE": "lots"}, "DATABASE_POOL_SIZE"),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT"),
        ({"STORAGE_BACKEND": "s3"}, "S3_BUCKET"),
        (
            {"TEMPORAL_TLS_CLIENT_CERT_DATA": "-----BEGIN CERTIFICATE-----"},
            "TEMPORAL_TLS_CLIENT_KEY",
        ),
    ],
)
def test_invalid_configuration_stops_the_process_naming_the_variable(
    entry: str, variables: dict[str, str], named: str
) -> None:
    status, output = start(ENTRY_POINTS[entry], clean_environment(**variables))
    assert status != 0, output
    assert named in output, output
    assert "invalid configuration" in output, output
    assert "Traceback" not in output, output
    assert len(output.splitlines()) <= 5, output


def test_a_bad_secret_is_named_but_not_shown() -> None:
    status, output = start(
        [PYTHON, "worker.py"],
        clean_environment(
            TEMPORAL_TLS_CLIENT_CERT_PATH="/nonexistent/client.pem",
            TEMPORAL_TLS_CLIENT_KEY_DATA="very-secret-private-key",
        ),
    )
    assert status != 0 and "TEMPORAL_TLS_CLIENT_CERT_PATH" in output, output
    assert "very-secret-private-key" not in output


def test_an_unreachable_temporal_is_one_log_line_not_a_traceback() -> None:
    port = free_port()  # nothing listens there
    status, output = start(
        [PYTHON, "worker.py"],
        clean_environment(
            TEMPORAL_ADDRESS=f"127.0.0.1:{port}",
            LOG_FORMAT="json",
            DATABASE_URL="postgresql+psycopg://nobody:db-secret@127.0.0.1:1/none",
        ),
        timeout=120,
    )
    assert status == 1, output
    assert f"cannot connect to Temporal at 127.0.0.1:{port}" in output, output
    assert "Traceback" not in output, output
    assert "db-secret" not in output
