"""Secrets never reach the logs (issue #19, 5): not API keys in a traceback's local
variables (console format), not link signatures in the access log of signed downloads."""

from __future__ import annotations

import asyncio
import io
import logging
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx
import uvicorn
from litestar import Litestar, Request, get

from api.app import create_app
from podnex.embedded import free_port
from podnex.settings import Settings
from podnex.storage import create_storage
from podnex.storage.signing import sign
from tests.conftest import ApiUser


@contextmanager
def captured_log() -> Iterator[io.StringIO]:
    """What the log handler of an app made inside the block writes (to stderr); the logging
    set-up is put back afterwards. Entered in the test's body: pytest swaps sys.stderr
    between a test's phases."""
    root = logging.getLogger()
    saved_handlers, saved_level, saved_stderr = root.handlers[:], root.level, sys.stderr
    out = io.StringIO()
    sys.stderr = out
    try:
        yield out
    finally:
        sys.stderr = saved_stderr
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)


@asynccontextmanager
async def served_with_access_log(app: Litestar) -> AsyncIterator[str]:
    """`app` under uvicorn with its access log on, as `uvicorn api.app:app` runs it: uvicorn's
    lines go through podnex's logging (configured by `create_app`)."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=True)
    logging.getLogger("uvicorn.access").setLevel(logging.INFO)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@get("/api/v1/test-fails-holding-the-key", include_in_schema=False)
async def fails_holding_the_key(request: Request[Any, Any, Any]) -> None:
    """A handler that fails with the caller's key in a local variable."""
    api_key = request.headers["authorization"].removeprefix("Bearer ")
    raise RuntimeError(f"something broke for {api_key[:4]}…")


async def test_console_tracebacks_show_no_api_key(settings: Settings, user: ApiUser) -> None:
    with captured_log() as log:
        app = create_app(settings.model_copy(update={"log_format": "console"}))
        app.register(fails_holding_the_key)
        async with served_with_access_log(app) as base_url, httpx.AsyncClient() as client:
            response = await client.get(
                f"{base_url}/api/v1/test-fails-holding-the-key", headers=user.headers
            )
    assert response.status_code == 500
    written = log.getvalue()
    assert "unhandled error" in written and "RuntimeError" in written, written[-2000:]
    assert user.key not in written
    assert user.key[4:20] not in written


async def test_access_log_of_a_signed_link_shows_no_signature(settings: Settings) -> None:
    key = f"podcasts/{uuid.uuid4()}/audio.mp3"
    await create_storage(settings).put(key, b"ID3" + bytes(500), content_type="audio/mpeg")
    expires = int(time.time()) + 300
    signature = sign(settings.resolved_secret_key(), key, expires)
    path = f"/api/v1/files/{key}?expires={expires}&signature={signature}"
    for log_format in ("json", "console"):
        with captured_log() as log:
            app = create_app(settings.model_copy(update={"log_format": log_format}))
            async with served_with_access_log(app) as base_url, httpx.AsyncClient() as client:
                response = await client.get(base_url + path)
        assert response.status_code == 200, response.text
        written = log.getvalue()
        assert f"/api/v1/files/{key}" in written, written
        assert signature not in written, log_format
        assert signature[:12] not in written, log_format
