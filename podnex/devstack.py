"""`make dev`: the whole service on embedded defaults, in one terminal, one Ctrl-C to stop.

Starts embedded PostgreSQL (unless DATABASE_URL is set), applies the migrations, starts
the Temporal dev server with its Web UI (unless TEMPORAL_ADDRESS is set), the worker and
the API, and prints the URLs and a development API key (also in var/dev-api-key).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time

import httpx

from podnex import accounts
from podnex.db import Database
from podnex.embedded import (
    embedded_postgres_url,
    start_embedded_postgres,
    start_temporal_dev_server,
    wait_for_port,
)
from podnex.migrate import upgrade_to_head
from podnex.plans import Plan
from podnex.settings import PROJECT_ROOT, Settings, settings_or_exit

DEV_EMAIL = "dev@podnex.local"
TEMPORAL_PORT = 7233
TEMPORAL_UI_PORT = 8233


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """True when something already listens on `port` (a bind there fails)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def taken_ports(settings: Settings, environ: dict[str, str]) -> list[str]:
    """The ports `make dev` would listen on that something else holds, each named."""
    wanted = [(settings.port, "the API (PORT)")]
    if "TEMPORAL_ADDRESS" not in environ:
        wanted += [
            (TEMPORAL_PORT, "the Temporal dev server"),
            (TEMPORAL_UI_PORT, "the Temporal Web UI"),
        ]
    return [f"{port} ({what})" for port, what in wanted if port_in_use(port)]


async def dev_api_key(settings: Settings, database_url: str) -> str:
    """The development user's key: the saved one while it still works, else a new one."""
    key_file = settings.var_dir / "dev-api-key"
    db = Database(settings.model_copy(update={"database_url": database_url}))
    try:
        async with db.transaction() as session:
            if key_file.exists():
                saved = key_file.read_text().strip()
                if saved and await accounts.authenticate(session, saved) is not None:
                    return saved
            user = await accounts.get_user_by_email(session, DEV_EMAIL)
            if user is None:
                user = await accounts.create_user(
                    session, email=DEV_EMAIL, plan=Plan.BUSINESS, name="Developer"
                )
            created = await accounts.create_api_key(session, user.id, "dev")
        key_file.write_text(created.plaintext + "\n")
        return created.plaintext
    finally:
        await db.dispose()


def spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(args, cwd=PROJECT_ROOT, env=env)


def stop_all(processes: list[subprocess.Popen[bytes]], timeout: float = 15.0) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for process in processes:
        try:
            process.wait(max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the API exited during start-up")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f}s")


CODEC_PORT = 8234
"""The codec server's port when PAYLOAD_ENCRYPTION_KEYS is set."""


def main() -> int:
    settings = settings_or_exit("make dev")
    codec_url = f"http://127.0.0.1:{CODEC_PORT}"
    env = dict(os.environ)
    # Webhooks to a receiver on this machine (loopback) are the usual thing to try here.
    env.setdefault("WEBHOOKS_ALLOW_PRIVATE", "true")
    taken = taken_ports(settings, env)
    if taken:
        print(
            f"make dev: port {', '.join(taken)} already in use: is another `make dev` "
            "running? Stop it first (Ctrl-C in its terminal), or set PORT (and "
            "TEMPORAL_ADDRESS for a Temporal server of your own). Nothing was started.",
            file=sys.stderr,
            flush=True,
        )
        return 1
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    children: dict[str, subprocess.Popen[bytes]] = {}
    temporal = None
    postgres = None

    stopping = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        if settings.database_url:
            database_url = settings.resolved_database_url()
            print(f"• Postgres: DATABASE_URL ({database_url.split('@')[-1]})")
        else:
            postgres = start_embedded_postgres(settings.pgdata_dir)
            database_url = embedded_postgres_url(postgres)
            env["DATABASE_URL"] = database_url
            print(f"• Postgres: embedded, data in {settings.pgdata_dir}")
        asyncio.run(upgrade_to_head(database_url))
        print("• Migrations applied")

        if "TEMPORAL_ADDRESS" in os.environ:
            print(f"• Temporal: {settings.temporal_address}")
            ui_url = "(the Web UI of your Temporal deployment)"
        else:
            temporal = start_temporal_dev_server(
                port=TEMPORAL_PORT,
                ui_port=TEMPORAL_UI_PORT,
                db_file=settings.var_dir / "temporal.db",
                log_file=settings.var_dir / "temporal.log",
                ui_codec_endpoint=codec_url if settings.payload_encryption_keys else None,
            )
            env["TEMPORAL_ADDRESS"] = temporal.address
            ui_url = f"http://localhost:{TEMPORAL_UI_PORT}"
            wait_for_port("127.0.0.1", TEMPORAL_UI_PORT, timeout=30)
            print(f"• Temporal dev server on {temporal.address}, state in var/temporal.db")

        key = asyncio.run(dev_api_key(settings, database_url))
        python = sys.executable
        children["worker"] = spawn([python, "worker.py"], env)
        if settings.payload_encryption_keys:
            # Payloads are encrypted: the Web UI decodes them through the codec server.
            children["codec server"] = spawn(
                [python, "-m", "api.codec_server", "--port", str(CODEC_PORT)], env
            )
            print(f"• Payloads encrypted; codec server for the Web UI on {codec_url}")
        api = spawn(
            [
                python,
                "-m",
                "uvicorn",
                "api.app:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(settings.port),
                "--log-level",
                "warning",
            ],
            env,
        )
        children["api"] = api
        api_url = f"http://localhost:{settings.port}"
        wait_healthy(f"{api_url}/api/health", api)
        print(
            "\n"
            f"  podnex is running\n"
            f"  API          {api_url}   (OpenAPI: {api_url}/schema)\n"
            f"  Temporal UI  {ui_url}\n"
            f"  API key      {key}   (saved in var/dev-api-key)\n\n"
            f"  Try:\n"
            f"    curl -s -X POST {api_url}/api/v1/podcasts \\\n"
            f'      -H "Authorization: Bearer $(cat var/dev-api-key)" '
            f"-H 'Content-Type: application/json' \\\n"
            f"      -d @examples/notes.json\n\n"
            f"  Ctrl-C stops everything.\n",
            flush=True,
        )
        while not stopping:
            for name, child in children.items():
                if child.poll() is not None:
                    print(f"! the {name} exited with code {child.returncode}; stopping")
                    stopping = True
            time.sleep(0.3)
    finally:
        print("\nStopping…", flush=True)
        stop_all(list(children.values()))
        if temporal is not None:
            temporal.stop()
        del postgres
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
