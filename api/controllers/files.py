"""/api/v1/files/{key}: stored audio through signed, expiring links (for storage that has no
links of its own: see `podnex.storage.download_link`)."""

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
        state: AppState = request.app.state.podnex
        found = await _locate(request, key, expires, signature)
        try:
            body = await state.storage.read_range(found.key, found.start, found.length)
        except (ObjectNotFound, StorageError) as exc:
            raise ApiError(404, "Not found") from exc
        return Response(
            body, status_code=found.status, media_type=found.content_type, headers=found.headers
        )

    @head("/{key:path}", operation_id="headFile", include_in_schema=False)
    async def head_file(
        self,
        request: Request[Any, Any, Any],
        key: FromPath[str],
        expires: Annotated[int, QueryParameter(ge=0)],
        signature: FromQuery[str],
    ) -> Response[None]:
        """The GET's status and headers (length, type, range), without reading the audio."""
        found = await _locate(request, key, expires, signature)
        headers = {
            **found.headers,
            "Content-Type": found.content_type,
            "Content-Length": str(found.length),
        }
        return Response(None, status_code=found.status, headers=headers)


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
    try:
        stored = await state.storage.stat(key)
    except (ObjectNotFound, StorageError) as exc:
        raise ApiError(404, "Not found") from exc
    headers = {
        "Accept-Ranges": "bytes",
        "Cache-Control": "private, max-age=300",
        "Content-Disposition": f'inline; filename="{key.rsplit("/", 2)[-2]}.mp3"',
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
