"""/api/v1/webhooks: HTTP for the webhook use cases of `api.webhook_service`."""

from __future__ import annotations

import math
from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_202_ACCEPTED

from api.openapi import AUTHENTICATED, error_responses
from api.schemas import (
    CreatedWebhookOut,
    CreateWebhookRequest,
    Envelope,
    MessageEnvelope,
    PageEnvelope,
    Pagination,
    UpdateWebhookRequest,
    WebhookDeliveryOut,
    WebhookOut,
)
from api.state import state_of
from api.webhook_service import WebhookService
from podnex.models import User

Service = NamedDependency[WebhookService]


def provide_webhook_service(request: Request[User, Any, Any]) -> WebhookService:
    return WebhookService(state_of(request), request.user)


class WebhookController(Controller):
    path = "/api/v1/webhooks"
    tags = ["webhooks"]
    security = [{"BearerAuth": []}]
    dependencies = {"service": Provide(provide_webhook_service, sync_to_thread=False)}

    @post(
        "/",
        operation_id="createWebhook",
        summary="Register a webhook endpoint",
        description="Events (`podcast.completed`, `podcast.failed`, `podcast.cancelled`) are "
        "POSTed signed by the Standard Webhooks spec (`webhook-id`, `webhook-timestamp`, "
        "`webhook-signature` v1 HMAC-SHA256). The `whsec_` secret is in this answer only. "
        "URLs resolving to private, loopback or link-local addresses are refused (400) "
        "unless WEBHOOKS_ALLOW_PRIVATE.",
        status_code=HTTP_201_CREATED,
        responses=error_responses(400, *AUTHENTICATED),
    )
    async def create(
        self, service: Service, data: JSONBody[CreateWebhookRequest]
    ) -> Envelope[CreatedWebhookOut]:
        endpoint = await service.create(data)
        return Envelope(
            data=CreatedWebhookOut(**WebhookOut.of(endpoint).model_dump(), secret=endpoint.secret)
        )

    @get(
        "/",
        operation_id="listWebhooks",
        summary="Your webhook endpoints",
        responses=error_responses(*AUTHENTICATED),
    )
    async def list_endpoints(self, service: Service) -> Envelope[list[WebhookOut]]:
        return Envelope(data=[WebhookOut.of(e) for e in await service.list_endpoints()])

    @get(
        "/{webhook_id:str}",
        operation_id="getWebhook",
        summary="One webhook endpoint",
        responses=error_responses(400, 404, *AUTHENTICATED),
    )
    async def get_endpoint(
        self, service: Service, webhook_id: FromPath[str]
    ) -> Envelope[WebhookOut]:
        return Envelope(data=WebhookOut.of(await service.get(webhook_id)))

    @patch(
        "/{webhook_id:str}",
        operation_id="updateWebhook",
        summary="Change, disable or enable a webhook endpoint",
        description="`enabled: true` enables an endpoint again and clears its failures.",
        responses=error_responses(400, 404, *AUTHENTICATED),
    )
    async def update(
        self, service: Service, webhook_id: FromPath[str], data: JSONBody[UpdateWebhookRequest]
    ) -> Envelope[WebhookOut]:
        return Envelope(data=WebhookOut.of(await service.update(webhook_id, data)))

    @delete(
        "/{webhook_id:str}",
        operation_id="deleteWebhook",
        summary="Delete a webhook endpoint and its delivery log",
        status_code=HTTP_200_OK,
        responses=error_responses(400, 404, *AUTHENTICATED),
    )
    async def delete_endpoint(self, service: Service, webhook_id: FromPath[str]) -> MessageEnvelope:
        await service.delete(webhook_id)
        return MessageEnvelope(message="Webhook endpoint deleted")

    @get(
        "/{webhook_id:str}/deliveries",
        operation_id="listWebhookDeliveries",
        summary="The endpoint's delivery log, newest first",
        description="Each delivery: its event, status (PENDING, SUCCEEDED, FAILED), attempts, "
        "the last status code or error, when the next attempt comes, and the latest attempts.",
        responses=error_responses(400, 404, *AUTHENTICATED),
    )
    async def deliveries(
        self,
        service: Service,
        webhook_id: FromPath[str],
        page: Annotated[int, QueryParameter(ge=1)] = 1,
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
    ) -> PageEnvelope[WebhookDeliveryOut]:
        rows, total = await service.deliveries(webhook_id, page=page, limit=limit)
        return PageEnvelope(
            data=[WebhookDeliveryOut.of(row) for row in rows],
            pagination=Pagination(
                page=page, limit=limit, total=total, total_pages=math.ceil(total / limit)
            ),
        )

    @post(
        "/{webhook_id:str}/deliveries/{delivery_id:str}/redeliver",
        operation_id="redeliverWebhook",
        summary="Send a delivery again",
        description="The same event with the same `webhook-id` (receivers deduplicate on it), "
        "with a fresh series of retries. 409 while the delivery is still being attempted or "
        "the endpoint is disabled.",
        status_code=HTTP_202_ACCEPTED,
        responses=error_responses(400, 404, 409, 503, *AUTHENTICATED),
    )
    async def redeliver(
        self, service: Service, webhook_id: FromPath[str], delivery_id: FromPath[str]
    ) -> Response[Envelope[WebhookDeliveryOut]]:
        delivery = await service.redeliver(webhook_id, delivery_id)
        return Response(
            Envelope(data=WebhookDeliveryOut.of(delivery)), status_code=HTTP_202_ACCEPTED
        )
