"""Production settings: Temporal connection options, invalid values named, secrets kept out
of messages and logs."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest
import structlog
from pydantic import SecretStr, ValidationError
from temporalio.runtime import Runtime
from temporalio.service import TLSConfig

from podnex.logging import REDACTED, configure_logging
from podnex.settings import (
    PROJECT_ROOT,
    SECRET_FIELDS,
    SETTING_VARIABLES,
    Settings,
    describe_invalid_settings,
)
from podnex.temporal import DATA_CONVERTER, connect_options


def make(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_plain_local_connect_has_no_tls_and_no_api_key() -> None:
    options = connect_options(make(temporal_address="localhost:7233"))
    assert options == {
        "target_host": "localhost:7233",
        "namespace": "default",
        "data_converter": DATA_CONVERTER,
        "tls": False,
    }


def test_api_key_turns_tls_on_for_temporal_cloud() -> None:
    options = connect_options(
        make(
            temporal_address="eu-west-1.aws.api.temporal.io:7233",
            temporal_namespace="podnex.a1b2c",
            temporal_api_key="cloud-key",
        )
    )
    assert options["api_key"] == "cloud-key"
    assert options["tls"] is True
    assert options["namespace"] == "podnex.a1b2c"


def test_api_key_with_tls_explicitly_off_is_plaintext() -> None:
    options = connect_options(make(temporal_api_key="k", temporal_tls=False))
    assert options["tls"] is False and options["api_key"] == "k"


def test_mtls_from_files_reads_every_pem(tmp_path: Path) -> None:
    cert, key, ca = tmp_path / "client.pem", tmp_path / "client.key", tmp_path / "ca.pem"
    cert.write_text("CLIENT CERT")
    key.write_text("CLIENT KEY")
    ca.write_text("SERVER CA")
    options = connect_options(
        make(
            temporal_tls_client_cert_path=cert,
            temporal_tls_client_key_path=key,
            temporal_tls_server_ca_cert_path=ca,
            temporal_tls_server_name="temporal.internal",
        )
    )
    assert options["tls"] == TLSConfig(
        server_root_ca_cert=b"SERVER CA",
        domain="temporal.internal",
        client_cert=b"CLIENT CERT",
        client_private_key=b"CLIENT KEY",
    )
    assert "api_key" not in options


def test_mtls_from_variables_and_runtime_passed_through() -> None:
    runtime = Runtime.default()
    options = connect_options(
        make(temporal_tls_client_cert_data="CERT", temporal_tls_client_key_data="KEY"),
        runtime,
    )
    assert options["tls"] == TLSConfig(client_cert=b"CERT", client_private_key=b"KEY")
    assert options["runtime"] is runtime


@pytest.mark.parametrize(
    ("values", "variable"),
    [
        ({"temporal_tls_client_cert_data": "CERT"}, "TEMPORAL_TLS_CLIENT_KEY_"),
        ({"temporal_tls_client_key_data": "KEY"}, "TEMPORAL_TLS_CLIENT_CERT_"),
        ({"temporal_tls_server_ca_cert_path": "/nonexistent/ca.pem"}, "SERVER_CA_CERT_PATH"),
        (
            {"temporal_tls": False, "temporal_tls_server_name": "temporal.internal"},
            "TEMPORAL_TLS=false",
        ),
        ({"database_pool_size": 0}, "DATABASE_POOL_SIZE"),
        ({"database_pool_timeout_seconds": 0}, "DATABASE_POOL_TIMEOUT_SECONDS"),
        ({"worker_metrics_port": 70000}, "WORKER_METRICS_PORT"),
        ({"worker_max_concurrent_workflow_tasks": 1}, "WORKER_MAX_CONCURRENT_WORKFLOW_TASKS"),
    ],
)
def test_invalid_settings_name_the_variable(values: dict[str, Any], variable: str) -> None:
    with pytest.raises(ValidationError) as caught:
        make(**values)
    message = describe_invalid_settings(caught.value)
    assert variable in message, message
    assert "Traceback" not in message


def test_invalid_secret_is_never_echoed() -> None:
    with pytest.raises(ValidationError) as caught:
        make(secret_key=["not", "a", "string"], database_url=42)
    message = describe_invalid_settings(caught.value)
    assert "SECRET_KEY" in message and "DATABASE_URL" in message
    assert "got" not in message, message  # neither value is shown


def test_secrets_stay_out_of_the_settings_repr() -> None:
    settings = make(
        database_url="postgresql://podnex:db-password-123@db/podnex",
        secret_key="signing-secret-456",
        temporal_api_key="temporal-key-789",
        s3_secret_access_key="s3-secret-000",
        s3_access_key_id="AKIA",
        s3_bucket="b",
        storage_backend="s3",
    )
    text = repr(settings) + str(settings)
    for secret in ("db-password-123", "signing-secret-456", "temporal-key-789", "s3-secret-000"):
        assert secret not in text
    assert {"database_url", "secret_key", "temporal_api_key"} <= SECRET_FIELDS
    assert isinstance(settings.temporal_api_key, SecretStr)


def test_json_logs_mask_secret_fields_and_carry_bound_context(
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    configure_logging(make(log_format="json"))
    try:
        with structlog.contextvars.bound_contextvars(request_id="r-1", user_id="u-1"):
            structlog.get_logger("test").info(
                "connecting", api_key="sk-live-123", password="hunter2", key="podcasts/x.mp3"
            )
            logging.getLogger("stdlib").warning("from the standard library")
        lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    finally:
        structlog.reset_defaults()
        root.handlers[:], level = saved
        root.setLevel(level)
    first, second = lines
    assert first["api_key"] == REDACTED and first["password"] == REDACTED
    assert first["key"] == "podcasts/x.mp3"  # a storage key is not a secret
    assert first["request_id"] == "r-1" and first["user_id"] == "u-1"
    assert second["event"] == "from the standard library" and second["request_id"] == "r-1"


def test_every_setting_is_documented_in_the_readme_table() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text()
    section = readme.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    documented: set[str] = set()
    for row in section.splitlines():
        if row.startswith("| `"):
            first_column = row.split("|")[1]
            documented.update(re.findall(r"`([A-Z0-9_]+)`", first_column))
    expected = set(SETTING_VARIABLES)
    assert expected - documented == set(), "settings missing from the README table"
    assert documented - expected == set(), "README documents variables podnex does not read"
