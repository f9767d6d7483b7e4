"""/api/v1/files/{key}: stored audio through signed, expiring links (for storage that has no
links of its own: see `podnex.storage.download_link`).

`locate`, `audio_response` and `head_response` serve stored audio with Range and HEAD for
any route that has authorised the caller another way (the private feed's enclosures:
`api.controllers.feeds`)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, head
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, FromQuery, QueryParameter

from api.errors import ApiError
from api.openapi import error_responses
from api.paths import FILES_PATH
from api.ranges import RangeNotSatisfiable, parse_range
from api.state import AppState
from podnex.storage import ObjectNotFound
from podnex.storage.base import StorageError
from podnex.storage.signing import verify


class FileController(Controller):
    path = FILES_PATH
    tags = ["files"]

    @get(
        "/{key:path}",
        operation_id="getFile",
        summary="Fetch stored audio with a signed link",
        description="Supports single byte-range requests (206 Partial Content), and HEAD "
        "(the same status and headers, no body).",
        include_in_schema=True,
        media_type="audio/mpeg",
        response_description="The whole audio file",
        responses={
            206: ResponseSpec(
                data_container=bytes,
                media_type="audio/mpeg",
                description="The requested byte range (`Content-Range` says which)",
                generate_examples=False,
            ),
            **error_responses(
                400,
                403,
                404,
                416,
                429,
                descriptions={
                    403: "Link invalid or expired",
                    404: "No such audio",
                    429: "Too many requests from this address; `Retry-After` says when to retry",
                },
            ),
        },
    )
    async def get_file(
        self,
        request: Request[Any, Any, Any],
        key: FromPath[str],
        expires: Annotated[int, QueryParameter(ge=0, description="Unix time the link expires")],
        signature: FromQuery[str],
    ) -> Response[bytes]:
        return await audio_response(request, await _locate(request, key, expires, signature))

    @head("/{key:path}", operation_id="headFile", include_in_schema=False)
    async def head_file(
        self,
        request: Request[Any, Any, Any],
        key: FromPath[str],
        expires: Annotated[int, QueryParameter(ge=0)],
        signature: FromQuery[str],
    ) -> Response[None]:
        """The GET's status and headers (length, type, range), without reading the audio."""
        return head_response(await _locate(request, key, expires, signature))


@dataclass(frozen=True)
class Located:
    """What a signed request for stored audio will be answered with."""

    key: str
    content_type: str
    status: int
    start: int
    length: int
    headers: dict[str, str]


async def _locate(
    request: Request[Any, Any, Any], key: str, expires: int, signature: str
) -> Located:
    """Check the link, find the object and the part of it asked for (403, 404, 416)."""
    state: AppState = request.app.state.podnex
    key = key.lstrip("/")
    if not verify(state.secret_key, key, expires, signature, time.time()):
        raise ApiError(403, "Link invalid or expired", code="LINK_INVALID")
    return await locate(request, key, filename=f"{key.rsplit('/', 2)[-2]}.mp3")


async def locate(
    request: Request[Any, Any, Any],
    key: str,
    *,
    filename: str,
    cache_control: str = "private, max-age=300",
) -> Located:
    """Find a stored object and the part of it the request's `Range` asks for (404, 416);
    for any route that has already decided the caller may read `key`."""
    state: AppState = request.app.state.podnex
    try:
        stored = await state.storage.stat(key)
    except (ObjectNotFound, StorageError) as exc:
        raise ApiError(404, "Not found") from exc
    headers = {
        "Accept-Ranges": "bytes",
        "Cache-Control": cache_control,
        "Content-Disposition": f'inline; filename="{filename}"',
    }
    try:
        wanted = parse_range(request.headers.get("range"), stored.size)
    except RangeNotSatisfiable as exc:
        raise ApiError(
            416,
            "Range not satisfiable",
            headers={"Content-Range": f"bytes */{stored.size}"},
        ) from exc
    if wanted is None:
        start, end, status = 0, stored.size - 1, 200
    else:
        (start, end), status = wanted, 206
        headers["Content-Range"] = f"bytes {start}-{end}/{stored.size}"
    return Located(key, stored.content_type, status, start, end - start + 1, headers)


async def audio_response(request: Request[Any, Any, Any], found: Located) -> Response[bytes]:
    """The located object's bytes (all of it, 200, or the range asked for, 206)."""
    state: AppState = request.app.state.podnex
    try:
        body = await state.storage.read_range(found.key, found.start, found.length)
    except (ObjectNotFound, StorageError) as exc:
        raise ApiError(404, "Not found") from exc
    return Response(
        body, status_code=found.status, media_type=found.content_type, headers=found.headers
    )


def head_response(found: Located) -> Response[None]:
    """What `audio_response` would answer, without the body (HEAD)."""
    headers = {
        **found.headers,
        "Content-Type": found.content_type,
        "Content-Length": str(found.length),
    }
    return Response(None, status_code=found.status, headers=headers)
