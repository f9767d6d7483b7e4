"""Bearer API-key authentication for every route but the public ones (`api.paths.PUBLIC_PATHS`),
and the guard of the administrators' routes."""

from __future__ import annotations

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from api.errors import ApiError
from api.state import AppState
from podnex import accounts
from podnex.vocabulary import Role


class ApiKeyAuthentication(AbstractAuthenticationMiddleware):
    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:
        header = connection.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthorizedException("Unauthorized - Please provide an API key")
        state: AppState = connection.app.state.podnex
        async with state.db.transaction() as session:
            user = await accounts.authenticate(session, token.strip())
        if user is None:
            raise NotAuthorizedException("Invalid or revoked API key")
        return AuthenticationResult(user=user, auth=None)


def admin_guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """Administrators only: 403 for every other authenticated user."""
    if getattr(connection.user, "role", None) is not Role.ADMIN:
        raise ApiError(403, "Administrators only", code="FORBIDDEN")
