"""Liveness and readiness over HTTP for processes that serve no API (the worker).

`GET /health` answers 200 while the process lives; `GET /ready` answers 200 when the
``ready`` callable says so, else 503. Served by the standard library's threading HTTP
server on a daemon thread, so a busy event loop never delays a probe.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class ProbeServer:
    """`/health` and `/ready` on ``host:port`` until `close`."""

    def __init__(
        self,
        ready: Callable[[], bool],
        details: Callable[[], Mapping[str, Any]] = dict,
    ) -> None:
        self.ready = ready
        self.details = details
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self, host: str, port: int) -> ProbeServer:
        """Bind and serve in the background (raises OSError when the port is taken)."""
        self._server = ThreadingHTTPServer((host, port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="probe-server", daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _answer(self, path: str) -> tuple[HTTPStatus, dict[str, Any]]:
        if path == "/health":
            return HTTPStatus.OK, {"status": "ok"}
        if path == "/ready":
            ready = self.ready()
            status = HTTPStatus.OK if ready else HTTPStatus.SERVICE_UNAVAILABLE
            return status, {"ready": ready, **self.details()}
        return HTTPStatus.NOT_FOUND, {"error": "not found"}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        probes = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, body = probes._answer(self.path.split("?", 1)[0])
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                """Probes every few seconds would drown the log: stay quiet."""

        return Handler
