"""The OpenAPI documentation of the podcast routes' answers (`api.controllers.podcasts`)."""

from __future__ import annotations

from litestar.openapi import ResponseSpec
from litestar.status_codes import HTTP_200_OK, HTTP_202_ACCEPTED

from api.openapi import AUTHENTICATED, error_responses
from api.schemas import Envelope, PodcastOut, RetryOut

CREATE_RESPONSES: dict[int, ResponseSpec] = {
    HTTP_200_OK: ResponseSpec(
        data_container=Envelope[PodcastOut],
        description="A repeated Idempotency-Key: the podcast the first request made",
    ),
    HTTP_202_ACCEPTED: ResponseSpec(
        data_container=Envelope[PodcastOut],
        description="Started, but no worker answered the admission in time",
    ),
    **error_responses(
        400,
        403,
        409,
        413,
        415,
        422,
        503,
        *AUTHENTICATED,
        descriptions={
            403: "Subscription limit reached: `details` has reason, current, limits",
            409: "The podcast's workflow is already running",
            422: "Idempotency-Key reused with another body",
        },
    ),
}

DOWNLOAD_RESPONSES: dict[int, ResponseSpec] = error_responses(
    400, 404, *AUTHENTICATED, descriptions={404: "Not found, or audio not available yet"}
)

UPDATE_RESPONSES: dict[int, ResponseSpec] = error_responses(
    400,
    404,
    409,
    413,
    415,
    *AUTHENTICATED,
    descriptions={409: "Notes cannot change while the podcast is being made"},
)

CANCEL_RESPONSES: dict[int, ResponseSpec] = {
    HTTP_202_ACCEPTED: ResponseSpec(
        data_container=Envelope[PodcastOut], description="Cancellation still under way"
    ),
    **error_responses(
        400,
        404,
        409,
        503,
        *AUTHENTICATED,
        descriptions={409: "Already finished, or being published (past the point of no return)"},
    ),
}

RETRY_RESPONSES: dict[int, ResponseSpec] = {
    HTTP_202_ACCEPTED: ResponseSpec(
        data_container=Envelope[RetryOut],
        description="Started, but no worker answered the admission in time",
    ),
    **error_responses(
        400,
        403,
        404,
        409,
        503,
        *AUTHENTICATED,
        descriptions={
            400: "Not FAILED or CANCELLED: Can only retry failed podcasts",
            403: "Subscription limit reached",
            409: "The podcast's workflow is already running",
        },
    ),
}

SCRIPT_RESPONSES: dict[int, ResponseSpec] = error_responses(
    400, 404, *AUTHENTICATED, descriptions={404: "Not found, or its script not written yet"}
)
TRANSCRIPT_RESPONSES: dict[int, ResponseSpec] = error_responses(
    400, 404, *AUTHENTICATED, descriptions={404: "Not found, or not completed yet"}
)

RERENDER_RESPONSES: dict[int, ResponseSpec] = error_responses(
    400,
    403,
    404,
    409,
    413,
    415,
    503,
    *AUTHENTICATED,
    descriptions={
        400: "The edit is invalid (empty line, too long, unknown speaker, position out of "
        "range, nothing changed): `details` names the field and the reason",
        403: "Subscription limit reached: the month's minutes cannot cover the re-render",
        404: "Not found, its script not written yet, or no such line",
        409: "Not COMPLETED, or a run of the podcast is going",
    },
)
