"""Temporal connection and naming shared by the API, the worker and the tools.

`connect(settings)` reaches a local dev server, a self-hosted cluster (optionally over TLS
or mTLS) or Temporal Cloud (mTLS or an API key) from the same settings; `connect_options`
is the pure part, the exact keyword arguments handed to `Client.connect`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.common import SearchAttributeKey
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.service import TLSConfig

from podnex.codec import EncryptionCodec
from podnex.settings import Settings

PODCAST_ID = SearchAttributeKey.for_keyword("PodcastId")
USER_ID = SearchAttributeKey.for_keyword("UserId")
DATA_CONVERTER = pydantic_data_converter
"""Payloads as pydantic JSON; `data_converter` adds encryption when keys are set."""


def data_converter(settings: Settings) -> DataConverter:
    """The one converter of every client, worker and replayer: pydantic JSON, encrypted
    with PAYLOAD_ENCRYPTION_KEYS when they are set (podnex.codec)."""
    keys = settings.payload_encryption_key_map()
    if not keys:
        return DATA_CONVERTER
    return dataclasses.replace(DATA_CONVERTER, payload_codec=EncryptionCodec(keys))


def workflow_id_for(podcast_id: str) -> str:
    return f"podcast-{podcast_id}"


def _pem(path: Path | None, data: str | None) -> bytes | None:
    if path is not None:
        return path.read_bytes()
    if data is not None:
        return data.encode()
    return None


def tls_config(settings: Settings) -> TLSConfig | bool:
    """What `Client.connect(tls=...)` gets.

    A `TLSConfig` when any certificate, CA or server name is configured (mTLS when the
    client certificate and key are set); otherwise TEMPORAL_TLS itself: True (system roots),
    or False. Unset TEMPORAL_TLS with an API key means TLS (Temporal Cloud needs it).
    """
    client_cert = _pem(
        settings.temporal_tls_client_cert_path, settings.temporal_tls_client_cert_data
    )
    key_secret = settings.temporal_tls_client_key_data
    client_key = _pem(
        settings.temporal_tls_client_key_path,
        key_secret.get_secret_value() if key_secret is not None else None,
    )
    server_ca = _pem(settings.temporal_tls_server_ca_cert_path, None)
    if client_cert or server_ca or settings.temporal_tls_server_name:
        return TLSConfig(
            server_root_ca_cert=server_ca,
            domain=settings.temporal_tls_server_name,
            client_cert=client_cert,
            client_private_key=client_key,
        )
    if settings.temporal_tls is not None:
        return settings.temporal_tls
    return settings.temporal_api_key is not None


def connect_options(settings: Settings, runtime: Runtime | None = None) -> dict[str, Any]:
    """The keyword arguments of `Client.connect` for these settings (target host included)."""
    api_key = settings.temporal_api_key
    options: dict[str, Any] = {
        "target_host": settings.temporal_address,
        "namespace": settings.temporal_namespace,
        "data_converter": data_converter(settings),
        "tls": tls_config(settings),
    }
    if api_key is not None:
        options["api_key"] = api_key.get_secret_value()
    if runtime is not None:
        options["runtime"] = runtime
    return options


async def connect(settings: Settings, runtime: Runtime | None = None) -> Client:
    """A client with the one data converter every podnex process uses.

    ``runtime`` carries the worker's telemetry (its Prometheus endpoint); the API and the
    tools use the SDK's default runtime.
    """
    return await Client.connect(**connect_options(settings, runtime))


def prometheus_runtime(bind_address: str) -> Runtime:
    """A Temporal runtime that serves its metrics, and every metric recorded through
    `activity.metric_meter()` / `workflow.metric_meter()`, at http://<bind_address>/metrics.

    Counters end in `_total` and durations are in seconds, as Prometheus expects.
    """
    return Runtime(
        telemetry=TelemetryConfig(
            metrics=PrometheusConfig(
                bind_address=bind_address,
                counters_total_suffix=True,
                durations_as_seconds=True,
            ),
        )
    )
