"""Which exceptions mean Temporal could not be reached (answered as 503)."""

from __future__ import annotations

from temporalio.service import RPCError, RPCStatusCode

UNAVAILABLE_CODES = {
    RPCStatusCode.UNAVAILABLE,
    RPCStatusCode.DEADLINE_EXCEEDED,
    RPCStatusCode.CANCELLED,
    RPCStatusCode.UNKNOWN,
}

CONNECTION_ERRORS: tuple[type[BaseException], ...] = (RuntimeError, OSError, TimeoutError)


def is_unavailable(error: BaseException) -> bool:
    if isinstance(error, RPCError):
        return error.status in UNAVAILABLE_CODES
    return isinstance(error, CONNECTION_ERRORS)
