"""The codec server: lets the Temporal Web UI (and `temporal` CLI) show podnex's encrypted
payloads decoded, for operators who hold the keys.

`python -m api.codec_server` (loopback, port 8234 by default) with PAYLOAD_ENCRYPTION_KEYS
in its environment; point the Web UI's "Codec Server" setting (or `temporal server
start-dev --ui-codec-endpoint`) at `http://127.0.0.1:8234`. It answers Temporal's codec
protocol: `POST /decode` and `POST /encode` with `{"payloads": [...]}` (protobuf JSON),
and lets the Web UI's origin (CODEC_CORS_ORIGINS) call it from the browser.

It is a separate process on purpose: the public API never decrypts payloads for anyone.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import uvicorn
from google.protobuf import json_format
from litestar import Litestar, Request, Response, post
from litestar.config.cors import CORSConfig
from temporalio.api.common.v1 import Payload, Payloads

from podnex.codec import CodecError, EncryptionCodec
from podnex.settings import Settings, settings_or_exit

Transform = Callable[[Sequence[Payload]], Awaitable[list[Payload]]]


def create_codec_app(settings: Settings) -> Litestar:
    """The codec server for ``settings``' keys (PAYLOAD_ENCRYPTION_KEYS must be set)."""
    keys = settings.payload_encryption_key_map()
    if not keys:
        raise ValueError("PAYLOAD_ENCRYPTION_KEYS must be set to serve the codec")
    codec = EncryptionCodec(keys)

    async def apply(request: Request[Any, Any, Any], transform: Transform) -> Response[str]:
        try:
            payloads = json_format.Parse(await request.body(), Payloads())
            result = Payloads(payloads=await transform(list(payloads.payloads)))
        except (json_format.ParseError, CodecError) as exc:
            return Response(str(exc), status_code=400, media_type="text/plain")
        return Response(json_format.MessageToJson(result), media_type="application/json")

    @post("/decode", status_code=200)
    async def decode(request: Request[Any, Any, Any]) -> Response[str]:
        return await apply(request, codec.decode)

    @post("/encode", status_code=200)
    async def encode(request: Request[Any, Any, Any]) -> Response[str]:
        return await apply(request, codec.encode)

    return Litestar(
        route_handlers=[decode, encode],
        cors_config=CORSConfig(
            allow_origins=settings.codec_cors_origins,
            allow_methods=["POST", "OPTIONS"],
            allow_headers=["content-type", "x-namespace", "authorization"],
            allow_credentials=True,
        ),
        openapi_config=None,
        debug=False,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8234)
    args = parser.parse_args()
    settings = settings_or_exit("codec-server")
    try:
        app = create_codec_app(settings)
    except ValueError as exc:
        raise SystemExit(f"codec-server: {exc}") from None
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
