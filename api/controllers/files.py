"""/api/v1/files/{key}: stored audio through signed, expiring links (for storage that has no
links of its own: see `podnex.storage.download_link`)."""

from __future__ import annotations

import time
from typing import Annotated, Any

from litestar import Controller, Request, Response, get
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
        description="Supports single byte-range requests (206 Partial Content).",
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
        try:
            body = await state.storage.read_range(key, start, end - start + 1)
        except (ObjectNotFound, StorageError) as exc:
            raise ApiError(404, "Not found") from exc
        return Response(body, status_code=status, media_type=stored.content_type, headers=headers)
