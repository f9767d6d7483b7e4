"""The webhook use cases of one user: register, list, change and delete endpoints, read an
endpoint's delivery log, redeliver.

Rows change only through `podnex.webhooks`; Temporal is reached only through
`api.temporal_client`; what goes wrong comes out as `ApiError`s.
"""

from __future__ import annotations

from datetime import UTC, datetime

from api.errors import ApiError
from api.schemas import CreateWebhookRequest, UpdateWebhookRequest
from api.state import AppState
from api.temporal_client import WorkflowServiceUnavailable
from podnex import webhooks
from podnex.models import User, WebhookDelivery, WebhookEndpoint

NOT_FOUND = "Webhook endpoint not found"


class WebhookService:
    def __init__(self, state: AppState, user: User) -> None:
        self.state = state
        self.user = user

    async def _check_url(self, url: str) -> str:
        url = url.strip()
        problem = await webhooks.url_problem(
            url, allow_private=self.state.settings.webhooks_allow_private
        )
        if problem:
            raise ApiError(
                400,
                f"Validation failed: url: {problem}",
                code="VALIDATION_ERROR",
                details=[{"field": "url", "message": problem}],
            )
        return url

    async def create(self, body: CreateWebhookRequest) -> WebhookEndpoint:
        url = await self._check_url(body.url)
        async with self.state.db.transaction() as session:
            return await webhooks.create_endpoint(
                session,
                self.user.id,
                url=url,
                events=list(body.events),
                description=body.description,
            )

    async def list_endpoints(self) -> list[WebhookEndpoint]:
        async with self.state.db.transaction() as session:
            return await webhooks.list_endpoints(session, self.user.id)

    async def get(self, endpoint_id: str) -> WebhookEndpoint:
        async with self.state.db.transaction() as session:
            endpoint = await webhooks.get_endpoint(session, self.user.id, endpoint_id)
        if endpoint is None:
            raise ApiError(404, NOT_FOUND)
        return endpoint

    async def update(self, endpoint_id: str, body: UpdateWebhookRequest) -> WebhookEndpoint:
        url = await self._check_url(body.url) if body.url is not None else None
        async with self.state.db.transaction() as session:
            endpoint = await webhooks.get_endpoint(
                session, self.user.id, endpoint_id, for_update=True
            )
            if endpoint is None:
                raise ApiError(404, NOT_FOUND)
            webhooks.update_endpoint(
                endpoint,
                url=url,
                events=list(body.events) if body.events is not None else None,
                description=body.description,
                enabled=body.enabled,
            )
            await session.flush()
            await session.refresh(endpoint)
            return endpoint

    async def delete(self, endpoint_id: str) -> None:
        async with self.state.db.transaction() as session:
            endpoint = await webhooks.get_endpoint(session, self.user.id, endpoint_id)
            if endpoint is None:
                raise ApiError(404, NOT_FOUND)
            await webhooks.delete_endpoint(session, endpoint)

    async def deliveries(
        self, endpoint_id: str, *, page: int, limit: int
    ) -> tuple[list[WebhookDelivery], int]:
        endpoint = await self.get(endpoint_id)
        async with self.state.db.transaction() as session:
            return await webhooks.list_deliveries(session, endpoint.id, page=page, limit=limit)

    async def redeliver(self, endpoint_id: str, delivery_id: str) -> WebhookDelivery:
        """Send a finished delivery again (the same `webhook-id`), with fresh retries."""
        endpoint = await self.get(endpoint_id)
        if not endpoint.enabled:
            raise ApiError(
                409, "The endpoint is disabled: enable it first", code="WEBHOOK_DISABLED"
            )
        async with self.state.db.transaction() as session:
            delivery = await webhooks.get_delivery(session, endpoint.id, delivery_id)
            if delivery is None:
                raise ApiError(404, "Delivery not found")
            try:
                number = webhooks.redeliver(delivery, datetime.now(UTC))
            except webhooks.WebhookError as exc:
                raise ApiError(409, str(exc), code="DELIVERY_PENDING") from exc
        try:
            await self.state.runs.redeliver_webhook(str(delivery.id), number)
        except WorkflowServiceUnavailable as exc:
            raise ApiError(503, "The workflow service is unavailable") from exc
        return delivery
