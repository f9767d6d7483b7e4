"""The billing use cases: checkout, the customer portal, and the provider's webhooks.

Payments go through Dodo Payments' official SDK (`dodopayments`, its retries off: a
checkout is the caller's to repeat). `BillingService` serves one authenticated user;
`BillingWebhooks` verifies a webhook's Standard Webhooks signature and hands the event to
`podnex.billing`, which owns every write. Errors come out as `ApiError`s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog
from dodopayments import APIConnectionError, APIError, AsyncDodoPayments
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from api.errors import ApiError
from api.state import AppState
from podnex import accounts, billing
from podnex.models import User
from podnex.settings import Settings
from podnex.vocabulary import Plan, SubscriptionStatus

log = structlog.get_logger("podnex.api")

SIGNATURE_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")


def payments_client(settings: Settings) -> AsyncDodoPayments | None:
    """The SDK's client, or None when payments are off (DODO_API_KEY unset)."""
    dodo = settings.dodo
    if dodo.api_key is None:
        return None
    if dodo.base_url:
        return AsyncDodoPayments(
            bearer_token=dodo.api_key.get_secret_value(),
            base_url=dodo.base_url,
            max_retries=0,
            timeout=dodo.timeout_seconds,
        )
    return AsyncDodoPayments(
        bearer_token=dodo.api_key.get_secret_value(),
        environment="live_mode" if dodo.environment == "live" else "test_mode",
        max_retries=0,
        timeout=dodo.timeout_seconds,
    )


def plan_products(settings: Settings) -> dict[Plan, str]:
    """The provider's product id of each paid plan that has one."""
    dodo = settings.dodo
    products = {
        Plan.STARTER: dodo.product_starter,
        Plan.PRO: dodo.product_pro,
        Plan.BUSINESS: dodo.product_business,
    }
    return {plan: product for plan, product in products.items() if product}


def disabled() -> ApiError:
    return ApiError(404, "Billing is not enabled on this server", code="BILLING_DISABLED")


def provider_failed(exc: APIError) -> ApiError:
    log.error("payment provider call failed", error=str(exc), kind=type(exc).__name__)
    if isinstance(exc, APIConnectionError):
        return ApiError(503, "The payment provider is unavailable; try again shortly")
    return ApiError(503, "The payment provider refused the request; try again shortly")


@dataclass(frozen=True)
class Checkout:
    url: str
    session_id: str


class BillingService:
    """Checkout and the customer portal for one user."""

    def __init__(self, state: AppState, user: User) -> None:
        self.state = state
        self.user = user

    def _client(self) -> AsyncDodoPayments:
        client = self.state.payments
        if client is None:
            raise disabled()
        return client  # type: ignore[no-any-return]

    async def _customer_id(self, client: AsyncDodoPayments) -> str:
        """The user's customer at the provider: the one recorded, else a new one (its
        metadata naming the user), recorded for next time."""
        async with self.state.db.transaction() as session:
            subscription = await accounts.get_subscription(session, self.user.id)
        if subscription is None:
            raise ApiError(404, "Subscription not found")
        if subscription.provider_customer_id:
            return subscription.provider_customer_id
        customer = await client.customers.create(
            email=self.user.email,
            name=self.user.name or self.user.email,
            metadata={billing.USER_METADATA_KEY: str(self.user.id)},
        )
        async with self.state.db.transaction() as session:
            kept = await billing.remember_customer(session, self.user.id, customer.customer_id)
        return kept or customer.customer_id

    async def checkout(self, plan: Plan) -> Checkout:
        """A checkout session for `plan`: the URL to send the customer to."""
        client = self._client()
        product = plan_products(self.state.settings).get(plan)
        if product is None:
            raise ApiError(400, f"Plan {plan.value} cannot be bought here", code="BAD_REQUEST")
        async with self.state.db.transaction() as session:
            current = await accounts.get_subscription(session, self.user.id)
        if (
            current is not None
            and current.provider_subscription_id
            and current.plan is not Plan.FREE
            and current.status is not SubscriptionStatus.CANCELLED
        ):
            raise ApiError(
                409,
                "You already have a paid subscription: change or cancel it in the customer "
                "portal (POST /api/v1/billing/portal)",
                code="ALREADY_SUBSCRIBED",
            )
        return_url = self.state.settings.dodo.return_url
        try:
            customer_id = await self._customer_id(client)
            session_kwargs: dict[str, Any] = {}
            if return_url:
                session_kwargs["return_url"] = return_url
            created = await client.checkout_sessions.create(
                product_cart=[{"product_id": product, "quantity": 1}],
                customer={"customer_id": customer_id},
                metadata={billing.USER_METADATA_KEY: str(self.user.id), "plan": plan.value},
                **session_kwargs,
            )
        except APIError as exc:
            raise provider_failed(exc) from exc
        if not created.checkout_url:
            raise ApiError(503, "The payment provider returned no checkout URL")
        log.info("checkout created", plan=plan.value, session_id=created.session_id)
        return Checkout(url=created.checkout_url, session_id=created.session_id)

    async def portal(self) -> str:
        """A link to the provider's customer portal for this user."""
        client = self._client()
        async with self.state.db.transaction() as session:
            subscription = await accounts.get_subscription(session, self.user.id)
        if subscription is None or not subscription.provider_customer_id:
            raise ApiError(
                404, "No billing account yet: buy a plan first", code="NO_BILLING_ACCOUNT"
            )
        try:
            portal = await client.customers.customer_portal.create(
                subscription.provider_customer_id
            )
        except APIError as exc:
            raise provider_failed(exc) from exc
        return portal.link


class BillingWebhooks:
    """The provider's webhooks: signature checked, event applied once, in order."""

    def __init__(self, state: AppState) -> None:
        self.state = state

    def verify(self, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
        """The verified payload; 401 for a missing, wrong or expired signature (the
        Standard Webhooks library refuses timestamps more than five minutes away)."""
        secret = self.state.settings.dodo.webhook_secret
        if secret is None:
            raise disabled()
        if not all(headers.get(name) for name in SIGNATURE_HEADERS):
            raise ApiError(401, "Missing webhook signature headers", code="UNAUTHORIZED")
        try:
            payload = Webhook(secret.get_secret_value()).verify(body, headers)
        except WebhookVerificationError as exc:
            log.warning("billing webhook refused", reason=str(exc))
            raise ApiError(401, "Invalid webhook signature", code="UNAUTHORIZED") from exc
        if not isinstance(payload, dict):
            raise ApiError(400, "The webhook body is not a JSON object", code="BAD_REQUEST")
        return payload

    async def receive(self, body: bytes, headers: dict[str, str]) -> billing.Outcome:
        payload = self.verify(body, headers)
        try:
            event = billing.parse_event(headers["webhook-id"], payload)
        except billing.InvalidEvent as exc:
            raise ApiError(400, "Not a payment provider event", code="BAD_REQUEST") from exc
        products = {product: plan for plan, product in plan_products(self.state.settings).items()}
        async with self.state.db.transaction() as session:
            outcome = await billing.apply_event(session, event, products)
        log.info(
            "billing webhook",
            webhook_id=event.webhook_id,
            type=event.type,
            outcome=outcome.value,
            subscription_id=event.subscription_id,
        )
        return outcome
