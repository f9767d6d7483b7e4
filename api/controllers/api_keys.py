"""/api/v1/api-keys: create (shown once), list and revoke the caller's API keys."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, delete, get, post
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from api.errors import ApiError
from api.openapi import error_responses
from api.schemas import (
    ApiKeyOut,
    CreateApiKeyRequest,
    CreatedApiKeyOut,
    Envelope,
    MessageEnvelope,
)
from api.state import state_of
from podnex import accounts
from podnex.models import User


class ApiKeyController(Controller):
    path = "/api/v1/api-keys"
    tags = ["api-keys"]
    security = [{"BearerAuth": []}]

    @post(
        "/",
        operation_id="createApiKey",
        summary="Create an API key",
        description="The response holds the key itself; it is stored only as a hash and "
        "never shown again. 409 once the user has MAX_API_KEYS_PER_USER live keys.",
        status_code=HTTP_201_CREATED,
        responses=error_responses(
            400,
            401,
            409,
            413,
            415,
            429,
            descriptions={409: "API key limit reached: revoke a key first"},
        ),
    )
    async def create(
        self, request: Request[User, Any, Any], data: JSONBody[CreateApiKeyRequest]
    ) -> Envelope[CreatedApiKeyOut]:
        state = state_of(request)
        try:
            async with state.db.transaction() as session:
                created = await accounts.create_api_key(
                    session,
                    request.user.id,
                    data.name,
                    limit=state.settings.max_api_keys_per_user,
                )
        except accounts.ApiKeyLimitReached as exc:
            raise ApiError(409, str(exc), code="API_KEY_LIMIT") from exc
        key = created.api_key
        return Envelope(
            data=CreatedApiKeyOut(
                id=str(key.id),
                name=key.name,
                prefix=key.prefix,
                key=created.plaintext,
                created_at=key.created_at,
            )
        )

    @get(
        "/",
        operation_id="listApiKeys",
        summary="Your live API keys, newest first",
        responses=error_responses(401, 429),
    )
    async def list_keys(self, request: Request[User, Any, Any]) -> Envelope[list[ApiKeyOut]]:
        async with state_of(request).db.transaction() as session:
            keys = await accounts.list_api_keys(session, request.user.id)
        return Envelope(
            data=[
                ApiKeyOut(
                    id=str(key.id),
                    name=key.name,
                    prefix=key.prefix,
                    created_at=key.created_at,
                    last_used_at=key.last_used_at,
                )
                for key in keys
            ]
        )

    @delete(
        "/{key_id:str}",
        operation_id="revokeApiKey",
        summary="Revoke an API key",
        description="The key stops working at once.",
        status_code=HTTP_200_OK,
        responses=error_responses(400, 401, 404, 429),
    )
    async def revoke(
        self, request: Request[User, Any, Any], key_id: FromPath[str]
    ) -> MessageEnvelope:
        async with state_of(request).db.transaction() as session:
            revoked = await accounts.revoke_api_key(session, request.user.id, key_id)
        if not revoked:
            raise ApiError(404, "API key not found")
        return MessageEnvelope(message="API key revoked")
