"""Bearer API-key authentication for every route except health, schema and signed files."""

from __future__ import annotations

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from api.state import AppState
from podnex import accounts

EXCLUDED_PATHS = ["^/api/health", "^/api/ready", "^/schema", "^/api/v1/files/"]


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
