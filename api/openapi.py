"""OpenAPI helpers: the documented error responses every route shares.

Each route lists the error statuses it can answer with::

    @get("/{podcast_id:str}", responses=error_responses(401, 404, 429))

and each becomes a response in the seed's error envelope (`ErrorBody`) with a description
and an example, so clients and the fuzz test know every answer a route can give.
"""

from __future__ import annotations

from collections.abc import Mapping

from litestar import Litestar
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import Example, OpenAPIMediaType, OpenAPIType, Schema

from api.errors import CODES
from api.schemas import ErrorBody

ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "Validation failed: `details` lists each field and the reason",
    401: "Missing, invalid or revoked API key",
    403: "Forbidden",
    404: "Not found, or not yours",
    409: "Conflicts with the resource's current state",
    413: "Request body larger than REQUEST_MAX_BODY_BYTES",
    415: "The body is not declared as JSON: send `Content-Type: application/json`",
    416: "Range not satisfiable",
    429: "Too many requests for this API key; `Retry-After` says when to try again",
    503: "A service the API depends on is unavailable; try again shortly",
}
"""The default description of each documented error status."""

_EXAMPLE_MESSAGES: dict[int, str] = {
    400: "Validation failed: noteContent: String should have at least 100 characters",
    401: "Unauthorized - Please provide an API key",
    403: "Forbidden",
    404: "Not found",
    409: "Conflict",
    413: "Request body too large",
    415: "Unsupported media type (text/plain): send a JSON object as application/json",
    416: "Range not satisfiable",
    429: "Too many requests; try again in 42 seconds",
    503: "Service unavailable",
}

AUTHENTICATED = (401, 429)
"""What every route behind the API key can answer: no valid key, or too many requests."""


def error_responses(
    *codes: int, descriptions: Mapping[int, str] | None = None
) -> dict[int, ResponseSpec]:
    """The `responses=` of a route: each status in `codes` as an `ErrorBody` response.

    `descriptions` replaces the default description of some of them, e.g.
    `error_responses(403, 404, descriptions={403: "Subscription limit reached"})`.
    """
    overrides = dict(descriptions or {})
    unknown = set(codes) - ERROR_DESCRIPTIONS.keys() - overrides.keys()
    if unknown:
        raise ValueError(f"no default description for status {sorted(unknown)}: pass one")
    responses: dict[int, ResponseSpec] = {}
    for code in sorted(set(codes)):
        description = overrides.get(code, ERROR_DESCRIPTIONS.get(code, ""))
        example = {
            "success": False,
            "error": _EXAMPLE_MESSAGES.get(code, description),
            "code": "VALIDATION_ERROR" if code == 400 else CODES.get(code, "ERROR"),
        }
        responses[code] = ResponseSpec(
            data_container=ErrorBody,
            description=description,
            generate_examples=False,
            examples=[Example(summary=description, value=example)],
        )
    return responses


def add_media_type(
    app: Litestar, path: str, method: str, status: str, media_type: str, description: str
) -> None:
    """Document a second media type of one response (e.g. WebVTT beside JSON).

    Litestar describes one media type per response; a route that negotiates by query
    parameter gets the other one added to the generated schema here.
    """
    operation = getattr(app.openapi_schema.paths[path], method)  # type: ignore[index]
    response = operation.responses[status]
    response.content[media_type] = OpenAPIMediaType(
        schema=Schema(type=OpenAPIType.STRING, description=description)
    )
