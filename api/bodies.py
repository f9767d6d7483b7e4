"""JSON request bodies: checked before Litestar decodes them into a route's `data`.

Every route that takes a JSON body (a `data` parameter) gets, from `json_body_guard`:
415 for a body declared as anything but JSON; 400 naming the problem for a missing body,
JSON nested too deeply, malformed JSON (a lone UTF-16 surrogate escape said as such) and
JSON that is not an object. Litestar's own decoder would answer 500 for deep nesting,
"data: 'data'" for a missing body and "Input data was truncated" for a lone surrogate.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from api.errors import ApiError

_JSON_MEDIA_TYPE = re.compile(r"^application/(?:[a-z0-9!#$&^_.-]+\+)?json$")
"""application/json, or a structured-syntax JSON type (application/merge-patch+json)."""

_HIGH = rb"\\u[dD][89abAB][0-9a-fA-F]{2}"
_LOW = rb"\\u[dD][c-fC-F][0-9a-fA-F]{2}"
_LONE_SURROGATE = re.compile(
    rb"(?<!\\)(?:" + _HIGH + rb"(?!" + _LOW + rb")|(?<!" + _HIGH + rb")" + _LOW + rb")"
)
"""A `\\uD800`-`\\uDFFF` escape that is not half of a surrogate pair."""


def body_error(message: str) -> ApiError:
    """A 400 in the validation shape about the body as a whole."""
    return ApiError(
        400,
        f"Validation failed: body: {message}",
        code="VALIDATION_ERROR",
        details=[{"field": "body", "message": message}],
    )


def describe_malformed(body: bytes, error: msgspec.DecodeError) -> str:
    """What is wrong with JSON that does not decode, in words a client can act on."""
    found = _LONE_SURROGATE.search(body)
    if found is not None:
        escape = found.group().decode("ascii", "replace")
        return (
            f"Malformed JSON: lone UTF-16 surrogate escape {escape} at byte {found.start()} "
            "(\\uD800-\\uDFFF escapes must come in high-low pairs)"
        )
    return f"Malformed JSON: {str(error).removeprefix('JSON is malformed: ')}"


def takes_json_body(handler: BaseRouteHandler) -> bool:
    """True for a route handler with a `data` (request body) parameter."""
    return "data" in handler.parsed_fn_signature.parameters


async def json_body_guard(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """Refuse a body the route's JSON `data` could not honestly be decoded from.

    Reads the body once (Litestar keeps it for the route; the size limit still applies).
    """
    if not isinstance(connection, Request) or not takes_json_body(handler):
        return
    body = await connection.body()
    if not body.strip():
        raise body_error("the request body is missing: send a JSON object")
    media_type = connection.content_type[0].lower()
    if not _JSON_MEDIA_TYPE.match(media_type):
        shown = media_type or "no Content-Type"
        raise ApiError(
            415,
            f"Unsupported media type ({shown}): send a JSON object as application/json",
            code="UNSUPPORTED_MEDIA_TYPE",
        )
    try:
        value = msgspec.json.decode(body)
    except RecursionError:
        raise body_error("JSON nested too deeply") from None
    except msgspec.DecodeError as exc:
        raise body_error(describe_malformed(body, exc)) from None
    if not isinstance(value, dict):
        raise body_error(f"must be a JSON object, not {_json_kind(value)}")


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"
