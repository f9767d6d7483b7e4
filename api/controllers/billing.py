"""/api/v1/billing: HTTP for the use cases of `api.billing_service`."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, post
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK

from api.billing_service import BillingService, BillingWebhooks
from api.openapi import AUTHENTICATED, error_responses
from api.paths import BILLING_WEBHOOK_PATH
from api.schemas import BillingWebhookOut, CheckoutOut, CheckoutRequest, Envelope, PortalOut
from api.state import state_of
from podnex.models import User
from podnex.vocabulary import Plan

Service = NamedDependency[BillingService]


def provide_billing_service(request: Request[User, Any, Any]) -> BillingService:
    return BillingService(state_of(request), request.user)


class BillingController(Controller):
    path = "/api/v1/billing"
    tags = ["billing"]
    security = [{"BearerAuth": []}]
    dependencies = {"service": Provide(provide_billing_service, sync_to_thread=False)}

    @post(
        "/checkout",
        operation_id="createCheckout",
        summary="Buy a paid plan",
        description="A Dodo Payments checkout session for the plan; send the customer to "
        "`checkoutUrl`. The plan changes when the payment provider confirms the payment "
        "(its webhook). 409 when a paid subscription exists: change it in the portal.",
        status_code=HTTP_200_OK,
        responses=error_responses(400, 404, 409, 503, *AUTHENTICATED),
    )
    async def checkout(
        self, service: Service, data: JSONBody[CheckoutRequest]
    ) -> Envelope[CheckoutOut]:
        checkout = await service.checkout(Plan(data.plan))
        return Envelope(data=CheckoutOut(checkout_url=checkout.url, session_id=checkout.session_id))

    @post(
        "/portal",
        operation_id="createPortalLink",
        summary="A link to the customer portal",
        description="Invoices, payment method, plan changes and cancellation, at Dodo Payments.",
        status_code=HTTP_200_OK,
        responses=error_responses(404, 503, *AUTHENTICATED),
    )
    async def portal(self, service: Service) -> Envelope[PortalOut]:
        return Envelope(data=PortalOut(url=await service.portal()))


class BillingWebhookController(Controller):
    path = BILLING_WEBHOOK_PATH
    tags = ["billing"]

    @post(
        "/",
        operation_id="receiveDodoWebhook",
        summary="Dodo Payments webhooks",
        description="Public, authenticated by the Standard Webhooks signature "
        "(`webhook-id`, `webhook-timestamp`, `webhook-signature`; timestamps more than "
        "five minutes old are refused). Subscription events change the user's plan: "
        "once per `webhook-id`, in the order of the events' own timestamps.",
        status_code=HTTP_200_OK,
        responses=error_responses(400, 401, 404, 429),
    )
    async def receive(self, request: Request[Any, Any, Any]) -> Envelope[BillingWebhookOut]:
        body = await request.body()
        headers = {name.lower(): value for name, value in request.headers.items()}
        outcome = await BillingWebhooks(state_of(request)).receive(body, headers)
        return Envelope(data=BillingWebhookOut(outcome=outcome.value))
