"""Bearer API-key authentication for every route but the public ones (`api.paths.PUBLIC_PATHS`)."""

from __future__ import annotations

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from api.state import AppState
from podnex import accounts


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
