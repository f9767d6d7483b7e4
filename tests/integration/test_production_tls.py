"""Temporal over mutual TLS, for real: `connect(settings)` with the TEMPORAL_TLS_* settings.

The dev server speaks plaintext, so a TLS terminator runs in front of it: a loopback port
that presents a server certificate for `temporal.test` (signed by a CA made here with
openssl), requires a client certificate signed by the same CA, negotiates HTTP/2 (ALPN h2)
and pipes the bytes to the dev server. A connection that succeeds proves the client sent
our certificate and checked the server's against our CA and name.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.workflowservice.v1 import ListNamespacesRequest

from podnex.embedded import TemporalDevServer
from podnex.settings import Settings
from podnex.temporal import connect

SERVER_NAME = "temporal.test"


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@dataclass
class Pki:
    folder: Path

    def path(self, name: str) -> Path:
        return self.folder / name


def make_pki(folder: Path) -> Pki:
    """A CA, a server certificate for SERVER_NAME and a client certificate, all PEM."""
    openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=podnex test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=folder,
    )  # fmt: skip
    for name, usage, san in (
        ("server", "serverAuth", f"DNS:{SERVER_NAME}"),
        ("client", "clientAuth", "DNS:podnex-worker"),
    ):
        (folder / f"{name}.ext").write_text(
            "basicConstraints=critical,CA:FALSE\n"
            "keyUsage=critical,digitalSignature,keyEncipherment\n"
            f"extendedKeyUsage={usage}\nsubjectAltName={san}\n"
        )
        openssl(
            "req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key",
            "-out", f"{name}.csr", "-subj", f"/CN=podnex-{name}",
            cwd=folder,
        )  # fmt: skip
        openssl(
            "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-out", f"{name}.pem", "-extfile", f"{name}.ext",
            cwd=folder,
        )  # fmt: skip
    return Pki(folder)


@dataclass
class TlsTerminator:
    address: str
    client_subjects: list[str] = field(default_factory=list)


@contextlib.asynccontextmanager
async def tls_terminator(pki: Pki, upstream: str) -> AsyncIterator[TlsTerminator]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=pki.path("ca.pem"))
    context.load_cert_chain(pki.path("server.pem"), pki.path("server.key"))
    context.verify_mode = ssl.CERT_REQUIRED
    context.set_alpn_protocols(["h2"])
    host, port = upstream.rsplit(":", 1)
    tasks: set[asyncio.Task[None]] = set()
    state = TlsTerminator(address="")

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peercert") or {}
        subject = dict(part[0] for part in peer.get("subject", ()))
        state.client_subjects.append(subject.get("commonName", ""))
        up_reader, up_writer = await asyncio.open_connection(host, int(port))
        both = asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        task = asyncio.ensure_future(both)
        tasks.add(task)  # type: ignore[arg-type]
        await task

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=context)
    state.address = f"127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        yield state
    finally:
        server.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def tls_settings(address: str, pki: Pki, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "temporal_address": address,
        "temporal_tls_server_ca_cert_path": pki.path("ca.pem"),
        "temporal_tls_server_name": SERVER_NAME,
        "temporal_tls_client_cert_path": pki.path("client.pem"),
        "temporal_tls_client_key_path": pki.path("client.key"),
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


async def test_mtls_connects_with_the_client_certificate(
    pki: Pki, temporal_server: TemporalDevServer
) -> None:
    async with tls_terminator(pki, temporal_server.address) as terminator:
        client = await connect(tls_settings(terminator.address, pki))
        assert await client.service_client.check_health()
        namespaces = await client.workflow_service.list_namespaces(ListNamespacesRequest())
        assert "default" in {ns.namespace_info.name for ns in namespaces.namespaces}
        assert "podnex-client" in terminator.client_subjects


async def test_mtls_without_the_client_certificate_is_refused(
    pki: Pki, temporal_server: TemporalDevServer
) -> None:
    async with tls_terminator(pki, temporal_server.address) as terminator:
        settings = tls_settings(
            terminator.address,
            pki,
            temporal_tls_client_cert_path=None,
            temporal_tls_client_key_path=None,
        )
        with pytest.raises(RuntimeError):
            await asyncio.wait_for(connect(settings), 60)
        assert "podnex-client" not in terminator.client_subjects


async def test_the_wrong_server_name_is_refused(
    pki: Pki, temporal_server: TemporalDevServer
) -> None:
    async with tls_terminator(pki, temporal_server.address) as terminator:
        settings = tls_settings(terminator.address, pki, temporal_tls_server_name="other.test")
        with pytest.raises(RuntimeError):
            await asyncio.wait_for(connect(settings), 60)
